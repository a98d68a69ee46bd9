"""Polars in and out: from_arrow, the frame-taking entry points, to_polars; nulls and dtypes survive."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpupipe as gp
from gpupipe import ops

pl = pytest.importorskip("polars")

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Polars dtype -> (value strategy, the dtype it comes back as from gpupipe: gpupipe's canonical types)
_INTS = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32, pl.Int64: 64}
_UINTS = {pl.UInt8: 8, pl.UInt16: 16, pl.UInt32: 32, pl.UInt64: 64}


def _kinds() -> dict[str, tuple[st.SearchStrategy, object, object]]:
    kinds: dict[str, tuple[st.SearchStrategy, object, object]] = {}
    for t, bits in _INTS.items():
        kinds[str(t)] = (st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1), t, t)
    for t, bits in _UINTS.items():
        kinds[str(t)] = (st.integers(0, 2**bits - 1), t, t)
    kinds["Float64"] = (st.floats(allow_nan=False, allow_infinity=True), pl.Float64, pl.Float64)
    kinds["Float32"] = (st.floats(width=32, allow_nan=False), pl.Float32, pl.Float32)
    kinds["Boolean"] = (st.booleans(), pl.Boolean, pl.Boolean)
    kinds["String"] = (st.text(max_size=5), pl.String, pl.String)
    kinds["Categorical"] = (st.sampled_from(["a", "b", "c"]), pl.Categorical, pl.Categorical)
    when = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1))
    kinds["Datetime(us)"] = (when, pl.Datetime("us"), pl.Datetime("us"))
    kinds["Datetime(ns, UTC)"] = (when, pl.Datetime("ns", "UTC"), pl.Datetime("ns", "UTC"))
    # frames keep a DATE exact (Arrow-backed on pandas); it becomes a timestamp only where ops take it
    kinds["Date"] = (st.dates(min_value=dt.date(1900, 1, 1)), pl.Date, pl.Date)
    return kinds


KINDS = _kinds()


@st.composite
def polars_frames(draw) -> tuple[object, dict[str, object]]:
    names = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=5, unique=True))
    n = draw(st.integers(0, 6))
    cols, back = {}, {}
    for i, kind in enumerate(names):
        values, dtype, returned = KINDS[kind]
        vals = draw(st.lists(st.none() | values, min_size=n, max_size=n))
        name = f"c{i} {kind}"
        cols[name] = pl.Series(name, vals, dtype=dtype)
        back[name] = returned
    return pl.DataFrame(cols), back


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def _assert_polars_equal(got, want, back) -> None:
    assert got.columns == want.columns
    for name in want.columns:
        assert got.schema[name] == back[name], f"{name}: {got.schema[name]} != {back[name]}"
        g, w = got[name].to_list(), want[name].cast(back[name]).to_list()
        assert all(_same(a, b) for a, b in zip(g, w, strict=True)), f"{name}: {g} != {w}"


@SETTINGS
@given(frame=polars_frames(), lazy=st.booleans())
def test_polars_round_trips_keep_nulls_and_dtypes(backend, frame, lazy):
    df, back = frame
    got = gp.from_arrow(df.lazy() if lazy else df)
    _assert_polars_equal(gp.to_polars(got), df, back)
    # and again through parquet and Arrow
    _assert_polars_equal(gp.to_polars(gp.from_arrow(gp.to_arrow(got))), df, back)


@SETTINGS
@given(frame=polars_frames())
def test_polars_frames_read_like_their_arrow_tables(backend, frame):
    df, _ = frame
    direct = gp.to_pandas(gp.from_arrow(df))
    via_arrow = gp.to_pandas(gp.from_arrow(df.to_arrow()))
    assert list(direct.columns) == list(via_arrow.columns)
    for c in direct.columns:
        assert [None if pd.isna(v) else v for v in direct[c].tolist()] == \
               [None if pd.isna(v) else v for v in via_arrow[c].tolist()], c


def test_float_nan_and_null_are_both_missing(backend):
    df = pl.DataFrame({"x": pl.Series([1.0, float("nan"), None], dtype=pl.Float64)})
    back = gp.to_polars(gp.from_arrow(df))["x"]
    assert back[0] == 1.0 and all(v is None or math.isnan(v) for v in back.to_list()[1:])


def test_numeric_columns_without_nulls_are_views_of_polars_memory():
    df = pl.DataFrame({"x": np.arange(5, dtype="float32"), "k": np.arange(5), "n": [1, None, 3, 4, 5]})
    with gp.use_backend("pandas"):
        frame = gp.from_arrow(df)
        assert np.shares_memory(frame["x"].to_numpy(), df["x"].to_numpy())
        assert np.shares_memory(frame["k"].to_numpy(), df["k"].to_numpy())
        assert str(frame["n"].dtype) == "Int64"
        schema = gp.Schema([gp.ColumnSchema("x", "cont", "float32"), gp.ColumnSchema("n", "cont", "float32")])
        with gp.audit.transfers(cuda=False) as report:  # validate=False: the null in n is kept (as NaN), not refused
            tt = gp.to_tensors(df, schema=schema, validate=False)
        assert report.shared == ["x"]
        assert "n" in report.copied
        assert [e.name for e in report.events if e.kind == "host" and "Polars" in e.reason] == ["n"]
        assert tt["x"].data_ptr() == df["x"].to_numpy().ctypes.data


def test_the_audit_counts_the_bytes_each_polars_conversion_wrote_and_says_what_it_made():
    n = 1000
    df = pl.DataFrame({"b": np.arange(n) % 2 == 0, "i": pl.Series([1, None] * (n // 2), dtype=pl.Int64),
                       "f": pl.Series([1.0, None] * (n // 2), dtype=pl.Float32), "x": np.arange(n, dtype="float32")})
    with gp.use_backend("pandas"), gp.audit.transfers(cuda=False) as report:
        frame = gp.from_arrow(df)
    host = {e.name: e.bytes for e in report.events if e.kind == "host"}
    # bool: 1 byte of values + 1 byte of mask per row (Arrow's bits were 125 bytes); Int64: 8 + 1; float32: 4 (NaN)
    assert host == {"b": 2 * n, "i": 9 * n, "f": 4 * n}
    assert host == {name: frame[name].array.nbytes for name in host}
    why = {e.name: e.reason for e in report.events}
    assert str(frame["f"].dtype) == "float32" and why["f"].endswith("null(s) → NaN in a NumPy float column")
    assert str(frame["i"].dtype) == "Int64" and why["i"].endswith("null(s) → nullable pandas column")



@pytest.mark.parametrize("dtype", [pl.Int8, pl.Int32, pl.Int64, pl.UInt8, pl.UInt64, pl.Float32, pl.Float64])
def test_a_polars_column_reads_to_one_dtype_however_it_is_chunked(dtype):
    """A Polars column in several chunks (pl.concat(rechunk=False), a scan of several files) reads as it does in one:
    an integer column without nulls was int64 in one chunk but a nullable Int64 in several."""
    first = pl.DataFrame({"k": pl.Series([1, 2, 3], dtype=dtype), "n": pl.Series([1, 2, 3], dtype=dtype)})
    second = pl.DataFrame({"k": pl.Series([4, 5], dtype=dtype), "n": pl.Series([None, 5], dtype=dtype)})
    # sliced chunks (offsets into Polars' buffers), and nulls in one chunk only
    chunked = pl.concat([first[1:], second, first[:1]], rechunk=False)
    assert chunked.n_chunks("all") == [3, 3]
    one = chunked.rechunk()
    assert one.n_chunks("all") == [1, 1]
    with gp.use_backend("pandas"):
        want = gp.from_arrow(one)
        assert want["k"].dtype == np.dtype(str(dtype).lower())
        assert want["k"].tolist() == one["k"].to_list() == [2, 3, 4, 5, 1]
        with gp.audit.transfers(cuda=False) as report:
            got = gp.from_arrow(chunked)
        pd.testing.assert_frame_equal(got, want)
        pd.testing.assert_frame_equal(gp.from_arrow(chunked.lazy()), want)
        pd.testing.assert_frame_equal(gp.Dataset(chunked).head(5), want)
        # one copy into a NumPy column of that dtype, its bytes counted
        host = {e.name: e.bytes for e in report.events if e.kind == "host"}
        assert host["k"] == 5 * want["k"].dtype.itemsize and "in 3 chunks" in report.events[0].reason


def test_workflow_loader_and_dataset_take_polars_frames(backend):
    rng = np.random.default_rng(0)
    df = pl.DataFrame({"x": rng.normal(size=50), "c": rng.choice(["a", "b", None], 50).tolist(),
                       "y": (rng.random(50) < 0.5).astype("float32")})
    make = lambda: gp.Workflow(["x"] >> ops.Normalize(), ["c"] >> ops.Categorify(), label="y")  # noqa: E731
    pandas_df = df.to_pandas()
    want = gp.to_pandas(make().fit_transform(gp.from_pandas(pandas_df)))
    wf = make().fit(df)
    got = gp.to_pandas(wf.transform(df))
    pd.testing.assert_frame_equal(got, want)
    lazy = make().fit(gp.Dataset(df, partition_rows=7))
    pd.testing.assert_frame_equal(gp.to_pandas(lazy.transform(df)), want)
    out = gp.to_polars(wf.transform(df))
    loader = gp.Loader(out, batch_size=16, shuffle=False, schema=wf.output_schema)
    batches = list(loader)
    assert sum(len(b.label) for b in batches) == 50
    assert gp.to_tensors(out, schema=wf.output_schema)["x"].shape == (50,)


def test_importing_gpupipe_does_not_import_polars():
    import subprocess
    import sys

    code = "import sys, gpupipe as gp; gp.read_parquet; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_time_of_day_with_nanoseconds_round_trips_exactly(tmp_path):
    # Python's datetime.time holds microseconds: a TIME with nanoseconds (Polars' Time is ns) raised ArrowInvalid
    # ('Value 1 has non-zero nanoseconds') in from_arrow; it stays an Arrow-backed column, exact both ways
    import pyarrow as pa
    import pyarrow.parquet as pq

    ns = [1, None, 86_399_999_999_999]
    times = pl.DataFrame({"t": pl.Series(ns, dtype=pl.Int64).cast(pl.Time), "x": [1.0, 2.0, 3.0]})
    table = pa.table({"t": pa.array(ns, pa.time64("ns")), "s": pa.array([1, None, 86_399], pa.time32("s"))})
    pq.write_table(table, tmp_path / "t.parquet")
    with gp.use_backend("pandas"):
        frame = gp.from_arrow(times)
        assert gp.to_polars(frame)["t"].to_list() == times["t"].to_list()
        assert gp.to_polars(frame).schema["t"] == pl.Time
        assert gp.to_arrow(gp.from_arrow(table)).equals(table)
        stored = pq.read_table(tmp_path / "t.parquet").replace_schema_metadata(None)  # parquet keeps time32 in ms
        assert gp.to_arrow(gp.read_parquet(tmp_path / "t.parquet")).replace_schema_metadata(None).equals(stored)
        with pytest.raises(gp.SchemaError, match="'t'"):  # no op takes a time of day: refused by name
            gp.Workflow(["t"] >> ops.Categorify()).fit(frame)


def test_a_polars_column_arrow_cannot_take_is_a_schema_error_naming_it(backend):
    # Polars' Int128 exports with a format pyarrow does not read: a bare ArrowInvalid ('_pli128') before
    frame = pl.DataFrame({"ok": [1, 2], "big": pl.Series([2**100, None], dtype=pl.Int128)})
    for data in (frame, frame.lazy()):
        with pytest.raises(gp.SchemaError, match=r"'big': 'Int128'.*cast"):
            gp.from_arrow(data)
        with pytest.raises(gp.SchemaError, match="'big'"):
            gp.Workflow(["ok"] >> ops.Categorify()).fit(data)
    assert gp.to_pandas(gp.from_arrow(frame.with_columns(pl.col("big").cast(pl.Float64))))["big"].iloc[0] == 2.0**100
