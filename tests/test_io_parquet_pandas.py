"""The one-file pandas parquet reader (columns converted a group at a time) against pyarrow's own conversion."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gpupipe as gp


@pytest.mark.parametrize("preserve_index", [False, None, True])
def test_read_parquet_pandas_matches_pyarrow_to_pandas(tmp_path, preserve_index):
    # The one-file pandas reader converts columns a group at a time; it must give exactly the frame
    # Table.to_pandas gives: several row groups, nulls, every integer width, strings, floats, bools,
    # and pandas index metadata (an unnamed stored index is row numbers: left out, as the directory
    # readers leave it out; every frame gets 0..n-1).
    rng = np.random.default_rng(0)
    n = 2_500
    df = pd.DataFrame({
        f"i{w}": pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(0, 100, n)), dtype=f"Int{w}")
        for w in (8, 16, 32, 64)
    })
    df["u32"] = pd.array(rng.integers(0, 2**31, n), dtype="UInt32")
    df["f"] = np.where(rng.random(n) < 0.2, np.nan, rng.random(n))
    df["s"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.choice(["a", "b", "c"], n)), dtype="str")
    df["b"] = pd.array(rng.random(n) < 0.5, dtype="boolean")
    for k in range(10):
        df[f"x{k}"] = pd.array(rng.integers(-5, 5, n), dtype="Int32")
    if preserve_index:
        df.index = df.index + 7
    path = tmp_path / "many.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=preserve_index), path, row_group_size=1000)
    from gpupipe.backend._pandas import _pandas_types_mapper

    expected = pq.read_table(path).to_pandas(types_mapper=_pandas_types_mapper()).reset_index(drop=True)
    with gp.use_backend("pandas"):
        got = gp.read_parquet(path)
        sub = gp.read_parquet(path, columns=["x3", "i8", "s"])
    pd.testing.assert_frame_equal(got, expected, check_index_type=True)
    expected_sub = pq.read_table(path, columns=["x3", "i8", "s"]).to_pandas(
        types_mapper=_pandas_types_mapper()).reset_index(drop=True)
    pd.testing.assert_frame_equal(sub, expected_sub, check_index_type=True)
    got.loc[0, "i32"] = 5  # the columns are writable, as pyarrow's are


def test_column_groups_read_ahead_give_the_same_frame_and_errors_name_the_file(tmp_path, monkeypatch):
    # one column per group, so every group after the first is decoded in the read-ahead thread
    from gpupipe.io import files

    monkeypatch.setattr(files, "_COLUMN_GROUP", 1)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": np.arange(40_000), "b": rng.random(40_000), "c": rng.integers(0, 9, 40_000),
                          "d": rng.random(40_000)})
    frame.loc[::7, "c"] = None
    p = tmp_path / "groups.parquet"
    with gp.use_backend("pandas"):
        gp.write_parquet(frame, p)
        back = gp.read_parquet(p)
        pd.testing.assert_frame_equal(back, gp.read_parquet(p, columns=["a", "b", "c", "d"]))
        assert back["c"].isna().sum() == frame["c"].isna().sum()
        np.testing.assert_array_equal(back["b"].to_numpy(), frame["b"].to_numpy())
        raw = bytearray(p.read_bytes())
        raw[len(raw) // 2] ^= 0xFF  # a data page of a later column: its group is decoded ahead
        p.write_bytes(bytes(raw))
        with pytest.raises(gp.DataError, match=r"groups\.parquet"):
            gp.read_parquet(p)


def test_int96_timestamps_beyond_nanoseconds_are_refused_not_wrapped(tmp_path):
    """INT96 (Spark's and Hive's legacy timestamps) reads as nanoseconds: 2500-01-01 and 1500-01-01 (or a 9999-12-31
    sentinel) wrapped to 1915 and 2084 without an error. Polars reads them right; gpupipe names the file and the column
    and says how to read them, from every reader; in-range INT96 values, and other columns, read as before."""
    import datetime as dt

    import polars as pl

    far = [dt.datetime(2500, 1, 1), None, dt.datetime(1500, 1, 1)]
    table = pa.table({"t": pa.array(far, pa.timestamp("us")), "n": [1, 2, 3]})
    d = tmp_path / "d"
    d.mkdir()
    pq.write_table(table, d / "far.parquet", use_deprecated_int96_timestamps=True)
    pq.write_table(pa.table({"t": pa.array([dt.datetime(2020, 1, 1, 0, 0, 0, 5)], pa.timestamp("ns")), "n": [4]}),
                   d / "near.parquet", use_deprecated_int96_timestamps=True)
    assert pq.read_table(d / "far.parquet").column("t").to_pylist()[0].year == 1915  # what nanoseconds give
    assert pl.read_parquet(d / "far.parquet")["t"].to_list() == far
    with gp.use_backend("pandas"):
        for read in (lambda: gp.read_parquet(d / "far.parquet"), lambda: gp.read_parquet(d),
                     lambda: gp.Dataset(d, partition_rows=1).to_frame()):
            with pytest.raises(gp.DataError, match=r"far\.parquet: column 't' holds INT96 timestamps from 1500-01-01 "
                                                   r"00:00:00 to 2500-01-01 .*coerce_int96_timestamp_unit='us'"):
                read()
        assert gp.read_parquet(d / "far.parquet", columns=["n"])["n"].tolist() == [1, 2, 3]
        near = gp.read_parquet(d / "near.parquet")
        assert near["t"].tolist() == [pd.Timestamp("2020-01-01 00:00:00.000005")] and str(near["t"].dtype) == "datetime64[ns]"
        assert gp.from_arrow(pq.read_table(d / "far.parquet", coerce_int96_timestamp_unit="us"))["t"].tolist()[0] \
            == pd.Timestamp("2500-01-01")
