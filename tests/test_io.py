import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import assert_frame_equal, require_cudf

import gpupipe as gp


def _frame_with_nulls() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "i32": pd.array([None, 2, 3], dtype="Int32"),
            "f": [1.5, np.nan, 3.0],
            "s": pd.array(["a", None, "c"], dtype="str"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "t": pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
        }
    )


def test_parquet_round_trip_keeps_nulls_and_int_dtypes(backend, tmp_path):
    src = gp.from_pandas(_frame_with_nulls())
    path = gp.write_parquet(src, tmp_path / "x.parquet")
    schema = pq.read_schema(path)
    assert schema.field("i").type == pa.int64() and schema.field("i32").type == pa.int32()
    back = gp.read_parquet(path)
    assert_frame_equal(back, src, check_dtype=False)
    out = gp.to_pandas(back)
    assert out["i"].isna().tolist() == [False, True, False]
    assert str(out["i"].dtype) in ("Int64", "int64")  # never float


def test_arrow_round_trip_int_with_nulls_stays_int(backend):
    table = pa.table({"a": pa.array([1, None, 3], pa.int64()), "s": pa.array(["x", None, "z"])})
    frame = gp.from_arrow(table)
    back = gp.to_arrow(frame)
    assert back.schema.field("a").type == pa.int64()
    assert back.column("a").null_count == 1 and back.column("s").null_count == 1
    assert back.column("a").to_pylist() == [1, None, 3]


def test_from_arrow_accepts_c_stream_exporters(backend):
    class Exporter:  # any object with __arrow_c_stream__, as polars and DuckDB results have
        def __init__(self, t):
            self._t = t

        def __arrow_c_stream__(self, requested_schema=None):
            return self._t.__arrow_c_stream__(requested_schema)

    t = pa.table({"x": [1.0, 2.0]})
    frame = gp.from_arrow(Exporter(t))
    assert gp.to_pandas(frame)["x"].tolist() == [1.0, 2.0]
    frame2 = gp.from_arrow(pa.record_batch([pa.array([1, 2])], names=["y"]))
    assert len(frame2) == 2


def test_from_arrow_rejects_other_objects():
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        gp.from_arrow({"a": [1]})


def test_pandas_round_trip_is_identity_on_pandas():
    df = pd.DataFrame({"a": [1, 2]})
    with gp.use_backend("pandas"):
        assert gp.from_pandas(df) is df
        assert gp.to_pandas(df) is df


def test_csv_read_with_nulls_types_and_columns(backend, tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b,c\n1,x,1.5\n,y,\n3,,2.5\n")
    frame = gp.to_pandas(gp.read_csv(p))
    assert frame["a"].isna().tolist() == [False, True, False]
    assert frame["a"].dtype.kind in "iu" or str(frame["a"].dtype) == "Int64"
    assert frame["b"].isna().tolist() == [False, False, True]
    only = gp.read_csv(p, columns=["c"], dtype={"c": "float32"})
    assert list(only.columns) == ["c"] and str(only["c"].dtype) == "float32"
    tsv = tmp_path / "x.tsv"
    tsv.write_text("1\t2\n3\t4\n")
    t = gp.to_pandas(gp.read_csv(tsv, sep="\t", header=False, names=["p", "q"]))
    assert t["q"].tolist() == [2, 4]


def test_csv_values_in_quotes_may_hold_line_breaks_across_blocks(tmp_path, monkeypatch):
    """A line break inside a quoted value, where the reader cuts the file into blocks, must not split the row
    (pyarrow's default cuts there: a parse error, or other values without one). Small blocks make many cuts."""
    from gpupipe.io import files

    monkeypatch.setattr(files, "_CSV_BLOCK", 256)
    rng = np.random.default_rng(7)
    n = 400
    text = ["".join(rng.choice(list("ab\n,\" "), int(rng.integers(0, 12)))) for _ in range(n)]
    df = pd.DataFrame({"k": np.arange(n), "t": text, "x": rng.normal(size=n)})
    path = tmp_path / "q.csv"
    df.to_csv(path, index=False)
    assert sum("\n" in t for t in text) > 50 and path.stat().st_size > 20 * 256
    with gp.use_backend("pandas"):
        got = gp.read_csv(path)
    want = pd.read_csv(path, keep_default_na=False)  # pandas' reader: quote-aware, the reference
    assert got["k"].tolist() == want["k"].tolist()
    assert got["t"].fillna("").tolist() == want["t"].tolist()
    np.testing.assert_allclose(got["x"].to_numpy(dtype=float), want["x"].to_numpy())


def test_csv_files_parsed_quote_aware_only_where_a_cut_could_split_a_value(tmp_path, monkeypatch):
    from gpupipe.io import files
    from gpupipe.io._sources import Source

    monkeypatch.setattr(files, "_CSV_BLOCK", 64)
    small, plain, quoted = tmp_path / "s.csv", tmp_path / "p.csv", tmp_path / "q.csv"
    small.write_text('a\n"x\ny"\n')
    plain.write_text("a,b\n" + "1,2\n" * 100)
    quoted.write_text("a,b\n" + "1,2\n" * 100 + '3,"z"\n')
    possible = files._quoted_line_breaks_possible
    assert not possible(Source(str(small)))  # one block: nothing to cut
    assert not possible(Source(str(plain)))  # no quote character at all
    assert possible(Source(str(quoted)))
    assert possible(Source(str(tmp_path / "p.csv.gz")))  # compressed: not scanned
    assert possible(Source("s3://bucket/p.csv", remote=True))


def test_arrow_ipc_feather_and_stream(backend, tmp_path):
    import pyarrow.feather as feather

    t = pa.table({"a": pa.array([1, None], pa.int32()), "s": ["u", "v"]})
    feather.write_feather(t, tmp_path / "x.feather")
    with pa.OSFile(str(tmp_path / "x.arrows"), "wb") as sink, pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    for name in ("x.feather", "x.arrows"):
        back = gp.to_arrow(gp.read_arrow(tmp_path / name))
        assert back.column("a").to_pylist() == [1, None]
        assert back.schema.field("a").type == pa.int32()


@pytest.mark.parametrize("reader", ["read_parquet", "read_csv", "read_arrow"])
def test_missing_file_names_the_file(reader, tmp_path):
    missing = tmp_path / "nope.bin"
    with pytest.raises(FileNotFoundError, match=r"nope\.bin"):
        getattr(gp, reader)(missing)


def test_truncated_parquet_is_data_error_naming_file(backend, tmp_path):
    p = tmp_path / "t.parquet"
    gp.write_parquet(gp.from_pandas(pd.DataFrame({"a": range(1000)})), p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(gp.DataError, match=r"t\.parquet"):
        gp.read_parquet(p)


def test_malformed_files_are_data_errors(backend, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(gp.DataError, match=r"bad\.csv"):
        gp.read_csv(bad)
    notarrow = tmp_path / "n.arrow"
    notarrow.write_bytes(b"definitely not arrow")
    with pytest.raises(gp.DataError, match=r"n\.arrow"):
        gp.read_arrow(notarrow)


def test_read_parquet_unknown_column_is_schema_error(backend, tmp_path):
    p = gp.write_parquet(gp.from_pandas(pd.DataFrame({"a": [1]})), tmp_path / "c.parquet")
    with pytest.raises(gp.SchemaError, match=r"no column\(s\) \['zz'\]"):
        gp.read_parquet(p, columns=["zz"])


def test_write_parquet_is_atomic(tmp_path, monkeypatch):
    """A failure mid-write leaves the previous file whole and no temporary file behind."""
    p = tmp_path / "keep.parquet"
    with gp.use_backend("pandas"):
        gp.write_parquet(pd.DataFrame({"a": [1, 2]}), p)

        def boom(*a, **k):
            raise OSError("disk full")

        monkeypatch.setattr(pq, "write_table", boom)
        with pytest.raises(OSError, match="disk full"):
            gp.write_parquet(pd.DataFrame({"a": [9]}), p)
        monkeypatch.undo()
        assert gp.read_parquet(p)["a"].tolist() == [1, 2]
    assert os.listdir(tmp_path) == ["keep.parquet"]


def test_read_parquet_directory_and_list(backend, tmp_path):
    d = tmp_path / "parts"
    for i in range(3):
        gp.write_parquet(gp.from_pandas(pd.DataFrame({"a": [i, i]})), d / f"part-{i}.parquet")
    assert len(gp.read_parquet(d)) == 6
    assert len(gp.read_parquet([d / "part-0.parquet", d / "part-2.parquet"])) == 4


def test_corrupted_data_page_is_detected_not_decoded(tmp_path):
    """write_parquet stores page CRCs and the readers verify them: a flipped byte is a DataError."""
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": np.arange(50_000), "b": rng.random(50_000)})
    p = tmp_path / "c.parquet"
    with gp.use_backend("pandas"):
        gp.write_parquet(frame, p)
        raw = bytearray(p.read_bytes())
        raw[len(raw) // 3] ^= 0xFF  # inside the data pages, far from the footer
        p.write_bytes(bytes(raw))
        with pytest.raises(gp.DataError, match=r"c\.parquet"):
            gp.read_parquet(p)
        with pytest.raises(gp.DataError, match=r"c\.parquet"):
            gp.Dataset(p).to_frame()
    # the same file without checksums decodes silently to other values: the check is what catches it
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), plain, write_page_checksum=False)
    raw = bytearray(plain.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    plain.write_bytes(bytes(raw))
    try:
        back = pq.read_table(plain).to_pandas()
    except (pa.ArrowException, OSError):
        return  # this corruption happened to break decoding outright; nothing more to show
    assert not back.equals(frame)


def test_what_each_backend_verifies_in_a_parquet_data_page(backend, tmp_path):
    """The pandas backend (pyarrow) checks the CRC of every data page that carries one: one flipped byte is a
    DataError naming the file. libcudf's reader checks no page CRC (rapidsai/cudf cpp/src/io/parquet): on
    cuDF the same flipped byte decodes, silently, to another value. This pins the documented limit; if a
    cuDF release starts verifying, this test fails and docs/verification.md must change with it."""
    n = 20_000
    values = np.arange(n, dtype="float64") + 0.25
    marker = 12345.678  # one value, not the column's min or max (those are in the statistics too)
    values[n // 2] = marker
    path = tmp_path / "crc.parquet"
    # plain encoding, no compression: the marker's 8 bytes lie in the data page as they are
    pq.write_table(pa.table({"v": values}), path, compression="none", use_dictionary=False, write_page_checksum=True)
    raw = bytearray(path.read_bytes())
    at = raw.find(np.float64(marker).tobytes())
    assert at > 0 and raw.count(np.float64(marker).tobytes()) == 1
    raw[at] ^= 0x01  # the lowest mantissa bit: still a finite double, nothing structural broken
    path.write_bytes(bytes(raw))
    if backend == "pandas":
        with pytest.raises(gp.DataError, match=r"crc\.parquet"):
            gp.read_parquet(path)
        return
    back = gp.to_pandas(gp.read_parquet(path))["v"].to_numpy()
    assert np.flatnonzero(back != values).tolist() == [n // 2]  # read without error, one value changed


@pytest.mark.gpu
def test_cudf_read_csv_gives_the_pandas_frame_for_na_tokens_and_an_empty_column(tmp_path):
    """Both backends read the same NA tokens as null ("", NA, NaN, nan, null, NULL, N/A, and na_values) and no
    others (cuDF's defaults add "#N/A", "n/a", "<NA>", "-nan", ...), and a column with no value becomes float64
    (pyarrow says null, cuDF int8): the frames are equal column for column, dtypes included."""
    require_cudf()
    path = tmp_path / "na.csv"
    path.write_text("i,f,s,e,t\n"
                    "1,1.5,a,,x\n"
                    "NA,NaN,NA,,#N/A\n"
                    "3,nan,null,,n/a\n"
                    ",N/A,NULL,,-nan\n"
                    "5,2.5,,,<NA>\n")
    frames = {}
    for backend in ("pandas", "cudf"):
        with gp.use_backend(backend):
            frames[backend] = (gp.to_pandas(gp.read_csv(path)), gp.to_pandas(gp.read_csv(path, na_values=["x"])))
    for got, want in zip(frames["cudf"], frames["pandas"], strict=True):
        pd.testing.assert_frame_equal(got, want)
    plain, with_x = frames["cudf"]
    assert plain["i"].tolist() == [1, pd.NA, 3, pd.NA, 5] and str(plain["i"].dtype) == "Int64"
    assert plain["f"].isna().tolist() == [False, True, True, True, False]
    assert plain["s"].isna().tolist() == [False, True, True, True, True]
    assert plain["e"].dtype == np.float64 and plain["e"].isna().all()
    assert plain["t"].tolist() == ["x", "#N/A", "n/a", "-nan", "<NA>"]  # not NA tokens on either backend
    assert with_x["t"].isna().tolist() == [True, False, False, False, False]


def test_frames_read_from_files_can_be_assigned_into_as_pandas_frames_can(tmp_path):
    """Every column of a frame gpupipe reads is writable, as pd.read_parquet's are (zero-copy views of Arrow's
    buffers are read-only, and pandas then refuses `df.loc[i, c] = v` and `fillna(inplace=True)`)."""
    import datetime as dt

    t = pa.table({
        "f": pa.array([1.5, None, 2.5]), "g": pa.array([1.0, 2.0, 3.0], pa.float32()), "i": pa.array([1, None, 3]),
        "b": pa.array([True, None, False]), "s": pa.array(["a", None, "c"]),
        "t": pa.array([dt.datetime(2020, 1, 1)] * 3, pa.timestamp("us")),
        "z": pa.array([dt.datetime(2020, 1, 1), None, dt.datetime(2021, 1, 1)], pa.timestamp("ns", tz="UTC")),
        "d": pa.array([1, 2, 3], pa.int64()).cast(pa.duration("s")),
    })
    pq.write_table(t, tmp_path / "w.parquet")
    new = {"f": 9.5, "g": 9.5, "i": 9, "b": True, "s": "x", "t": pd.Timestamp("2022-01-01").as_unit("us"),
           "z": pd.Timestamp("2022-01-01", tz="UTC"), "d": pd.Timedelta(9, "s").as_unit("s")}
    with gp.use_backend("pandas"):
        for frame in (gp.read_parquet(tmp_path / "w.parquet"), gp.from_arrow(t)):
            for c, v in new.items():
                frame.loc[0, c] = v
                assert frame[c].iloc[0] == v, c
            frame.fillna({"f": 0.0}, inplace=True)
            assert frame["f"].tolist() == [9.5, 0.0, 2.5]
        # pandas metadata beyond a plain index (a pivot's columns name) takes Arrow's own conversion: writable too
        pivot = pd.DataFrame({"k": ["a", "a"], "c": ["x", "y"], "v": [1.0, 2.0]}).pivot_table(
            index="k", columns="c", values="v").reset_index()
        pivot.to_parquet(tmp_path / "pivot.parquet")
        g = gp.read_parquet(tmp_path / "pivot.parquet")
        g.loc[0, "x"] = 5.0
        assert g["x"].tolist() == [5.0]


def test_csv_null_tokens_are_pandas_defaults(backend, tmp_path):
    """Every token pandas.read_csv reads as missing is null here too, so a numeric column stays numeric."""
    from pandas._libs.parsers import STR_NA_VALUES

    tokens = sorted(STR_NA_VALUES - {""})
    p = tmp_path / "na.csv"
    p.write_text("x,s\n" + "".join(f"{t},{t}\n" for t in tokens) + "1.5,a\n")
    got = gp.to_pandas(gp.read_csv(p))
    want = pd.read_csv(p)
    assert got["x"].dtype == np.float64 and got["x"].isna().tolist() == want["x"].isna().tolist()
    assert got["x"].iloc[-1] == 1.5 and got["s"].isna().sum() == len(tokens)


def test_tsv_files_are_split_on_tabs_unless_sep_says_otherwise(backend, tmp_path):
    (tmp_path / "x.tsv").write_text("user\tprice\nu1\t1.5\nu2\t2\n")
    (tmp_path / "y.csv").write_text("user,price\nu3,3\n")
    import gzip

    with gzip.open(tmp_path / "z.tsv.gz", "wt") as f:
        f.write("user\tprice\nu4\t4\n")
    for frame in (gp.read_csv(tmp_path / "x.tsv"), gp.Dataset(tmp_path / "x.tsv").to_frame()):
        frame = gp.to_pandas(frame)
        assert list(frame.columns) == ["user", "price"] and frame["price"].tolist() == [1.5, 2.0]
    both = gp.to_pandas(gp.read_csv([tmp_path / "x.tsv", tmp_path / "y.csv", tmp_path / "z.tsv.gz"]))
    assert both["user"].tolist() == ["u1", "u2", "u3", "u4"]
    one = gp.to_pandas(gp.read_csv(tmp_path / "x.tsv", sep=","))  # an explicit sep wins
    assert list(one.columns) == ["user\tprice"]
    from gpupipe.io._sources import Source
    from gpupipe.io.files import csv_options, csv_sep

    assert csv_sep(csv_options(), Source(str(tmp_path / "q?x.tsv"))) == "\t"  # '?' is part of a local name
    assert csv_sep(csv_options(), Source("s3://b/x.TSV?versionId=3", remote=True)) == "\t"


def test_csv_values_that_do_not_read_as_the_column_type_name_the_column(tmp_path):
    p = tmp_path / "v.csv"
    p.write_text("id,flag\n1,true\n2,yes\n")
    with gp.use_backend("pandas"), pytest.raises(gp.DataError, match=r"v\.csv: column 'flag' holds 'yes'.*dtype=\{'flag': 'str'\}"):
        gp.read_csv(p, dtype={"flag": "bool"})
    q = tmp_path / "w.csv"
    q.write_text("a,b\n1,2\n3,4,\n")
    with gp.use_backend("pandas"), pytest.raises(gp.DataError, match=r"w\.csv: .*Expected 2 columns, got 3.*sep=','"):
        gp.read_csv(q)
    with pytest.raises(gp.SchemaError, match=r"float16.*float32"):
        gp.read_csv(p, dtype={"id": "float16"})


@pytest.mark.parametrize("values", [["True", "1"], ["1", "0"], ["true", "false"], ["TRUE", "0"], ["false", "0"],
                                    ["True", "NA", "1"], ["1", "NA", "0"], ["true", "NA", "false"], ["0", "FALSE", ""]])
def test_csv_booleans_as_words_or_digits_read_as_pandas_reads_them(tmp_path, values):
    """Arrow takes 1 and 0 as booleans too: a column holding True and 1 read as [True, True]. A column mixing the
    words and the digits reads as text, as pandas reads it; the words alone are booleans, 1 and 0 alone integers,
    in read_csv and gp.Dataset."""
    p = tmp_path / "b.csv"
    p.write_text("a,n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values)))
    def typed(column: pd.Series) -> list:  # each value with its kind (True == 1 in Python), ints and floats alike
        kinds = {bool: "bool", int: "number", float: "number", str: "text"}
        return [None if pd.isna(v) else (kinds[type(v.item() if isinstance(v, np.generic) else v)], v) for v in column]

    want = typed(pd.read_csv(p)["a"])
    with gp.use_backend("pandas"):
        for got in (gp.read_csv(p)["a"], gp.Dataset(p, partition_rows=1).to_frame()["a"]):
            assert typed(got) == want


def test_csv_dtype_bool_reads_words_or_digits_not_both(tmp_path):
    """dtype bool reads the words or 1 and 0, as pandas does; a column holding both is a DataError naming it."""
    p = tmp_path / "b.csv"
    with gp.use_backend("pandas"):
        for values, want in ((["1", "NA", "0"], [True, None, False]), (["true", "FALSE", "NA"], [True, False, None])):
            p.write_text("a\n" + "\n".join(values) + "\n")
            got = gp.read_csv(p, dtype={"a": "bool"})["a"]
            assert [None if pd.isna(v) else bool(v) for v in got] == want
        p.write_text("a\nTrue\n1\n")
        with pytest.raises(ValueError):
            pd.read_csv(p, dtype={"a": bool})
        with pytest.raises(gp.DataError, match=r"b\.csv: column 'a' holds both words and digits"):
            gp.read_csv(p, dtype={"a": bool})


def test_csv_integers_beyond_int64_read_exactly_as_pandas_reads_them(tmp_path):
    """pyarrow infers float64 for integers beyond int64, where distinct ids above 2**53 collapse; they read exactly."""
    p = tmp_path / "ids.csv"
    p.write_text("user_id,n,x,big\n18446744073709551615,1,1e20,9007199254740993\n 18446744073709551614,2,3.0,\n"
                 "+9223372036854775809,,5.0,9007199254740992\n")  # a leading space and '+' as pandas reads them
    with gp.use_backend("pandas"):
        got = gp.read_csv(p)
        ds = gp.Dataset(p, partition_rows=2).to_frame()
    want = pd.read_csv(p)
    assert str(got["user_id"].dtype) == "UInt64" and got["user_id"].tolist() == want["user_id"].tolist()
    assert got["user_id"].nunique() == 3
    assert got["big"].tolist()[0] == 9007199254740993 and pd.isna(got["big"].iloc[1])  # int64 with a null
    assert got["x"].dtype == np.float64  # whole floats written as floats stay floats
    assert ds["user_id"].tolist() == got["user_id"].tolist()


@pytest.mark.parametrize("ids", [[99999999999999999999, 99999999999999999998, 1],  # beyond uint64
                                 [-1, 2**63, 2**63 + 1],  # negatives beside values above int64
                                 [-(2**63) - 1, -(2**63) - 2, 5]])  # below int64
def test_csv_integers_no_64_bit_type_holds_are_refused_not_rounded(tmp_path, ids):
    """pandas reads such ids exactly (Python ints, or text); as float64 distinct ids merged. A DataError names the
    file and column and gives the dtype= that reads them."""
    p = tmp_path / "ids.csv"
    p.write_text("user_id,n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(ids)))
    assert [int(v) for v in pd.read_csv(p)["user_id"]] == ids
    with gp.use_backend("pandas"):
        for read in (lambda: gp.read_csv(p), lambda: gp.Dataset(p, partition_rows=1).to_frame()):
            with pytest.raises(gp.DataError, match=rf"ids\.csv: column 'user_id' holds integers from {min(ids)} to "
                                                   rf"{max(ids)}.*dtype=\{{'user_id': 'str'\}}"):
                read()
        assert gp.read_csv(p, dtype={"user_id": "str"})["user_id"].tolist() == [str(v) for v in ids]


def test_csv_hexadecimal_text_reads_as_text_as_pandas_reads_it(tmp_path):
    """Arrow's integer parser takes 0x10 as 16: a column of 0x10 and 16 read as [16, 16]. It reads as the text, as
    pandas and Polars read it, from a plain or compressed file and in gp.Dataset partitions."""
    import gzip

    text = "code,n\n0x10,1\n16,2\n 0X1f ,3\nNA,4\n"
    (tmp_path / "h.csv").write_text(text)
    (tmp_path / "h.csv.gz").write_bytes(gzip.compress(text.encode()))
    want = pd.read_csv(tmp_path / "h.csv")
    assert want["code"].tolist()[:3] == ["0x10", "16", " 0X1f "]
    with gp.use_backend("pandas"):
        for name in ("h.csv", "h.csv.gz"):
            for got in (gp.read_csv(tmp_path / name), gp.Dataset(tmp_path / name, partition_rows=1).to_frame()):
                assert got["code"].tolist()[:3] == want["code"].tolist()[:3] and pd.isna(got["code"].iloc[3]), name
                assert got["n"].tolist() == [1, 2, 3, 4]
        (tmp_path / "d.csv").write_text("code,n\n10,1\n16,2\n")  # no hex: integers
        assert gp.read_csv(tmp_path / "d.csv")["code"].tolist() == [10, 16]


def test_csv_hexadecimal_text_in_an_integer_dtype_column_is_refused_by_name(tmp_path):
    """dtype={"code": "int64"} on a column holding 0x10 read 16 (Arrow's integer parser takes hex) where pandas
    raises: a DataError naming the file, the column and the value, from a plain or compressed file."""
    import gzip

    text = "code,n,note\n0x10,1,a\n3,2,0x5\n"
    (tmp_path / "h.csv").write_text(text)
    (tmp_path / "h.csv.gz").write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ValueError):
        pd.read_csv(tmp_path / "h.csv", dtype={"code": "int64"})
    with gp.use_backend("pandas"):
        for name in ("h.csv", "h.csv.gz"):
            for dtype in ("int64", "Int64", "uint8", int):
                with pytest.raises(gp.DataError, match=r"h\.csv.*: column 'code' holds hexadecimal text \('0x10'\)"):
                    gp.read_csv(tmp_path / name, dtype={"code": dtype})
            got = gp.read_csv(tmp_path / name, dtype={"n": "int32"})  # hex elsewhere: the integer column reads
            assert got["n"].tolist() == [1, 2] and got["code"].tolist() == ["0x10", "3"]
            assert gp.read_csv(tmp_path / name, dtype={"code": "str"})["code"].tolist() == ["0x10", "3"]


def test_csv_unsigned_ids_beyond_int64_read_alike_on_both_backends(backend, tmp_path):
    """Non-negative integers beyond int64 read as exact unsigned ids on both backends: pyarrow's float64 inference
    is re-read (``_exact_big_integers``); libcudf types such a column UINT64 itself (cpp/src/io/csv/reader_impl.cu,
    ``big_int_count`` without negatives). Distinct ids above 2**53 stay distinct."""
    p = tmp_path / "ids.csv"
    ids = [2**64 - 1, 2**64 - 2, 2**63 + 1, 2**53 + 1, 2**53]
    p.write_text("user_id,n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(ids)))
    got = gp.to_pandas(gp.read_csv(p))
    assert str(got["user_id"].dtype) == "UInt64"
    assert got["user_id"].tolist() == pd.read_csv(p)["user_id"].tolist() == ids


def test_write_parquet_keeps_an_index_that_holds_data_as_columns(backend, tmp_path):
    src = pd.DataFrame({"store": ["a", "b", "a"], "day": [1, 1, 2], "amount": [1.0, 2.0, 3.0]})
    agg = src.groupby("store").sum()  # the keys live in the index
    gp.write_parquet(gp.from_pandas(agg) if backend == "cudf" else agg, tmp_path / "agg.parquet")
    back = gp.to_pandas(gp.read_parquet(tmp_path / "agg.parquet"))
    assert back["store"].tolist() == ["a", "b"] and back["amount"].tolist() == [4.0, 2.0]
    two = src.groupby(["store", "day"]).sum()
    gp.write_parquet(two, tmp_path / "two.parquet")
    assert list(gp.to_pandas(gp.read_parquet(tmp_path / "two.parquet")).columns) == ["store", "day", "amount"]
    kept = src[src["amount"] > 1]  # row numbers 1, 2: not data
    gp.write_parquet(kept, tmp_path / "kept.parquet")
    assert list(gp.to_pandas(gp.read_parquet(tmp_path / "kept.parquet")).columns) == ["store", "day", "amount"]
    labelled = pd.Series([1.0, 2.0], index=pd.Index(["x", "y"]), name="v")
    gp.write_parquet(labelled, tmp_path / "s.parquet")
    assert gp.to_pandas(gp.read_parquet(tmp_path / "s.parquet"))["index"].tolist() == ["x", "y"]
    with pytest.raises(gp.DataError, match=r"\['amount'\].*names of columns"):
        gp.write_parquet(agg.rename_axis("amount"), tmp_path / "bad.parquet")


def test_a_stored_pandas_index_reads_the_same_however_the_file_is_named(backend, tmp_path):
    """df.to_parquet stores a named index as a column and an unnamed one as __index_level_0__: a named index is a
    column and row numbers are left out, for the file, its directory, a glob and gp.Dataset alike (on cuDF, whose
    reader moves stored index columns into the index, as on pandas)."""
    df = pd.DataFrame({"id": [30, 10, 20], "a": [1.0, 2.0, 3.0]}).set_index("id")
    (tmp_path / "named").mkdir()
    df.to_parquet(tmp_path / "named" / "f.parquet")
    (tmp_path / "rows").mkdir()
    df.reset_index().iloc[[2, 0]].to_parquet(tmp_path / "rows" / "f.parquet")  # unnamed index [2, 0]
    for sub, cols in (("named", ["a", "id"]), ("rows", ["id", "a"])):  # the file's column order
        d = tmp_path / sub
        reads = [gp.to_pandas(r) for r in (gp.read_parquet(d / "f.parquet"), gp.read_parquet(d),
                                          gp.read_parquet(str(d / "*.parquet")), gp.Dataset(d / "f.parquet").to_frame())]
        for frame in reads:
            assert list(frame.columns) == cols and list(frame.index) == list(range(len(frame))), sub
            assert frame["id"].tolist() == reads[0]["id"].tolist()
        assert list(gp.read_parquet(d / "f.parquet", columns=["a"]).columns) == ["a"]
    assert gp.to_pandas(gp.read_parquet(tmp_path / "named" / "f.parquet"))["id"].tolist() == [30, 10, 20]
    # an unnamed index of labels other than integers is data: kept under pandas' stored name, by every reader
    (tmp_path / "labels").mkdir()
    pd.DataFrame({"v": [1.5, 2.5]}, index=pd.Index(["x", "y"])).to_parquet(tmp_path / "labels" / "f.parquet")
    for r in (gp.read_parquet(tmp_path / "labels" / "f.parquet"), gp.read_parquet(tmp_path / "labels"),
              gp.Dataset(tmp_path / "labels").to_frame()):
        assert gp.to_pandas(r)["__index_level_0__"].tolist() == ["x", "y"]


def test_csv_dtype_for_a_hive_partition_column_is_refused_not_ignored(backend, tmp_path):
    (tmp_path / "year=2020").mkdir()
    (tmp_path / "year=2020" / "a.csv").write_text("x\n1\n")
    assert gp.to_pandas(gp.read_csv(tmp_path))["year"].tolist() == ["2020"]
    with pytest.raises(gp.SchemaError, match=r"dtype names \['year'\], partition column.*astype"):
        gp.read_csv(tmp_path, dtype={"year": "int64"})


def test_text_with_a_lone_surrogate_is_a_schema_error_naming_the_column():
    # such text (bytes decoded with errors="surrogateescape") has no UTF-8 form: Arrow's str conversion raised a bare
    # UnicodeEncodeError from Workflow.fit and gp.from_pandas, and to_arrow advised the very cast that fails
    from gpupipe import ops

    df = pd.DataFrame({"c": pd.Series(["\udc80x", "a", None], dtype=object), "y": [0.0, 1.0, 0.0]})
    with gp.use_backend("pandas"):
        for call in (lambda: gp.from_pandas(df), lambda: gp.to_arrow(df),
                     lambda: gp.Workflow(["c"] >> ops.Categorify(), label="y").fit(df)):
            with pytest.raises(gp.SchemaError, match=r"column 'c' holds text that is not valid Unicode.*errors='replace'"):
                call()
        fixed = df.assign(c=df["c"].str.encode("utf-8", errors="replace").str.decode("utf-8"))  # the advice works
        assert gp.from_pandas(fixed)["c"].tolist()[:2] == ["?x", "a"]


def test_csv_text_that_is_not_utf8_is_a_data_error_not_a_column_of_bytes(tmp_path):
    """One Latin-1 value made Arrow read the whole column as binary: every value came back as bytes (b'Paris'), so
    ``== 'Paris'`` matched none of 999 rows, where pandas.read_csv raises UnicodeDecodeError."""
    p = tmp_path / "cities.csv"
    p.write_bytes(("id,city\n" + "".join(f"{i},Paris\n" for i in range(999)) + "999,Montr\xe9al\n").encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        pd.read_csv(p)
    with gp.use_backend("pandas"):
        for call in (lambda: gp.read_csv(p), lambda: gp.read_csv([p, p]), lambda: gp.Dataset(p, partition_rows=300)):
            with pytest.raises(gp.DataError, match=r"cities\.csv: column 'city' holds bytes that are not UTF-8.*row 999"):
                call()
        with pytest.raises(gp.DataError, match=r"cities\.csv: column 'city' holds bytes that are not UTF-8.*re-encode"):
            gp.read_csv(p, dtype={"city": "str"})
        good = tmp_path / "utf8.csv"
        good.write_text(p.read_bytes().decode("latin-1"), encoding="utf-8")  # the advice works
        assert gp.read_csv(good)["city"].tolist() == pd.read_csv(good)["city"].tolist()


@pytest.mark.parametrize("kind", ["file", "stream"])
def test_read_arrow_of_a_file_with_a_repeated_column_name_is_a_schema_error_naming_it(backend, tmp_path, kind):
    # Arrow IPC allows repeated names; the conversion failed with a bare AttributeError ('DataFrame' has no 'dtype')
    table = pa.table([[1, 2], [3, 4], [5.0, 6.0]], names=["a", "a", "b"])
    p = tmp_path / f"dup.{kind}"
    with pa.OSFile(str(p), "wb") as f, (pa.ipc.new_file if kind == "file" else pa.ipc.new_stream)(f, table.schema) as w:
        w.write_table(table)
    with pytest.raises(gp.SchemaError, match=r"dup\.\w+: duplicate column name\(s\) \['a'\]"):
        gp.read_arrow(p)


def test_csv_na_values_number_matches_its_other_spellings_as_pandas(tmp_path):
    """na_values=['-999'] left the sentinel wherever it was spelled otherwise: a float column written by pandas holds
    '-999.0', so none of the 3 sentinels in x was null (mean -748.875, not 1.5; with ['-999.0'], 2 of 3 stayed:
    -665.5). pandas nulls a float equal to the number, and the texts '-999' and '-999.0' for either."""
    p = tmp_path / "s.csv"
    p.write_text("x,y,t\n1.5,-999,a\n-999.0,1,-999.0\n-999.00,-999.0,b\n-9.99e2,2,c\n")
    for na in (["-999"], ["-999.0"]):
        want = pd.read_csv(p, na_values=na)
        with gp.use_backend("pandas"):
            got = gp.read_csv(p, na_values=na)
        assert got["x"].isna().tolist() == want["x"].isna().tolist() == [False, True, True, True]
        assert got["x"].mean() == want["x"].mean() == 1.5
        assert got["y"].tolist() == [pd.NA, 1, pd.NA, 2] and want["y"].isna().tolist() == [True, False, True, False]
        assert got["t"].isna().tolist() == want["t"].isna().tolist() == [False, True, False, False]


def test_na_floats_are_the_numbers_a_float_column_of_each_width_holds():
    """The values a number among na_values nulls in a float column, shared by both backends' readers: finite numbers
    only, in the column's width, none beyond its range (1e300 as float32 is inf: it nulled the file's infinities),
    and 0 with both signs (Arrow's is_in told -0.0 from 0, where pandas compares values)."""
    from gpupipe.io.files import _na_floats

    wide = _na_floats(["-999", "-999.0", "x", "NA", "nan", "inf", "1e300", "0.1"], "float64")
    assert wide.dtype == np.float64 and wide.tolist() == [-999.0, 1e300, 0.1]
    narrow = _na_floats(["-999", "1e300", "0.1"], np.float32)
    assert narrow.dtype == np.float32 and narrow.tolist() == [np.float32(-999.0), np.float32(0.1)]
    zeros = _na_floats(["-0"], "float64")
    assert np.signbit(zeros).tolist() == [False, True] and (zeros == 0).all()
    assert _na_floats(None, "float64").tolist() == _na_floats(["x"], "float32").tolist() == []


def test_csv_na_values_number_nulls_both_zeros_and_no_infinity_as_pandas(tmp_path):
    """na_values=['0'] left -0.0 in a float column (Arrow's is_in compares bits; pandas nulls it), and ['1e300'] on a
    float32 column nulled its infinities (1e300 cast to float32 is inf; pandas keeps them)."""
    p = tmp_path / "z.csv"
    p.write_text("z,g\n-0.0,inf\n0.00,1.5\n0.5,-inf\n")
    with gp.use_backend("pandas"):
        got = gp.read_csv(p, na_values=["0"])["z"]
        assert got.isna().tolist() == pd.read_csv(p, na_values=["0"])["z"].isna().tolist() == [True, True, False]
        kw = {"dtype": {"g": "float32"}, "na_values": ["1e300"]}
        assert gp.read_csv(p, **kw)["g"].tolist() == pd.read_csv(p, **kw)["g"].tolist() == [np.inf, 1.5, -np.inf]


def _csv_pieces_read(path, backend, opts, rows):
    """The file read through the Dataset's piece reader of ``backend``, ``rows`` rows a piece, with ``opts``
    (gp.Dataset itself reads CSV with the default options), as one pandas frame."""
    from gpupipe.io._sources import expand
    from gpupipe.io.dataset import _csv_schema, _Piece, _read_csv_piece
    from gpupipe.io.files import csv_target

    (src,) = expand(str(path), formats=("csv",), reader="test")
    own, n = _csv_schema.impl(backend)(src, opts)
    target = csv_target([src], [own], opts)
    parts = [_read_csv_piece.impl(backend)(_Piece(backend, src, "csv", target, own, None, a, min(rows, n - a)), opts)
             for a in range(0, n, rows)]
    return pd.concat([gp.to_pandas(part) for part in parts], ignore_index=True)


@pytest.mark.gpu
def test_cudf_read_csv_nulls_na_values_numbers_in_every_spelling_as_pandas(tmp_path):
    """libcudf matches na_values as text, so of -999 it nulled "-999" and "-999.0" only: "-999.00" and "-9.99e2" in a
    float column stayed -999 on cuDF (a silently wrong mean). Both readers (whole files and Dataset pieces) give the
    pandas backend's frame, nulls included: float32 columns, -0.0 for 0, a column whose every value is a sentinel
    (float64, not the type of another file's column), and no infinity for a number beyond float32."""
    from gpupipe.io.files import csv_options

    require_cudf()
    p = tmp_path / "s.csv"
    p.write_text("x,y,t,z,h,g\n"
                 "1.5,-999,a,-0.0,-9.99e2,inf\n"
                 "-999.0,1,-999.0,0.5,-999.00,1.5\n"
                 "-999.00,-999.0,b,0,-999.0,-999.0\n"
                 "-9.99e2,2,c,2.5,-999.000,-inf\n")
    q = tmp_path / "other.csv"
    q.write_text("x,y,t,z,h,g\n2.5,3,d,1.0,7,0.5\n")
    cases = [({"na_values": na}, [p]) for na in (["-999"], ["-999.0"], ["-999", "0"], ["x", "-9.99e2"])]
    cases += [({"na_values": ["-999", "1e300"], "dtype": {"x": "float32", "g": "float32"}}, [p]),
              ({"na_values": ["-999"]}, [p, q])]
    for kw, paths in cases:
        frames = {}
        for backend in ("pandas", "cudf"):
            with gp.use_backend(backend):
                frames[backend] = gp.to_pandas(gp.read_csv(paths, **kw))
        pd.testing.assert_frame_equal(frames["cudf"], frames["pandas"])
        if len(paths) == 1:
            opts = csv_options(**kw)
            pieces = {b: _csv_pieces_read(p, b, opts, 3) for b in ("pandas", "cudf")}
            pd.testing.assert_frame_equal(pieces["cudf"], pieces["pandas"])
    with gp.use_backend("cudf"):
        got = gp.to_pandas(gp.read_csv(p, na_values=["-999"]))
    assert got["x"].isna().tolist() == [False, True, True, True] and got["x"].mean() == 1.5
    assert got["h"].dtype == np.float64 and got["h"].isna().all()
    assert got["z"].isna().tolist() == [False, False, False, False]
    with gp.use_backend("cudf"):
        frame = gp.read_csv(p, na_values=["-999"])
    assert int(frame["x"].null_count) == 3  # nulls, as libcudf reads the file's NA tokens, not NaN


def test_a_glob_reads_the_same_files_on_object_storage_as_on_a_local_disk(tmp_path):
    """fsspec's glob matches names starting with '.', Python's does not: memory://.../**/*.parquet read a hidden file's
    rows too (6 rows where the local glob gave 4). A glob whose matches all lie in '_' or '.' directories gave a bare
    ArrowInvalid ('Must pass at least one table'); it is a FileNotFoundError naming the pattern."""
    df = pd.DataFrame({"a": pd.array([1, 2], dtype="Int64")})
    url = "memory://gpupipe-test-glob/d"
    with gp.use_backend("pandas"):
        for rel in ("year=2013/x.parquet", "year=2014/x.parquet", ".hidden.parquet", "_tmp/y.parquet"):
            gp.write_parquet(df, f"{url}/{rel}")
            gp.write_parquet(df, tmp_path / rel)
        for pattern in ("**/*.parquet", "*/*.parquet", "year=*/*"):
            local = gp.read_parquet(str(tmp_path / pattern))
            pd.testing.assert_frame_equal(gp.read_parquet(f"{url}/{pattern}"), local)
        assert gp.read_parquet(str(tmp_path / "**/*.parquet"))["year"].tolist() == ["2013", "2013", "2014", "2014"]
        assert len(gp.read_parquet(f"{url}/.hidden.parquet")) == len(gp.read_parquet(f"{url}/.h*")) == 2  # named: read
        for where in (str(tmp_path), url):
            with pytest.raises(FileNotFoundError, match=r"no \w+ matches the pattern.*skipped"):
                gp.read_parquet(f"{where}/_tmp*/*.parquet")


@pytest.mark.parametrize("suffix, codec", [(".gz", "gzip"), (".bz2", "bz2"), (".zst", "zstd"), (".zstd", "zstd"),
                                           (".lz4", "lz4"), (".br", "brotli")])
def test_compressed_csv_reads_alike_in_read_csv_and_dataset(tmp_path, suffix, codec):
    """Every compression read_csv knows by name, gp.Dataset knows too, in a directory as well as named, and from
    a URL: .zstd and .br files were parsed undecompressed (a column-count or UTF-8 error), and gp.Dataset could not
    tell the format of .lz4, .br and .zstd files."""
    text = b"a,b\n1,x\n2,y\n"
    path = tmp_path / f"f.csv{suffix}"
    with pa.CompressedOutputStream(str(path), codec) as f:
        f.write(text)
    want = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for got in (gp.read_csv(path), gp.read_csv(tmp_path), gp.Dataset(path).to_frame(), gp.Dataset(tmp_path).to_frame()):
        assert_frame_equal(got, want, check_dtype=False)
    fsspec = pytest.importorskip("fsspec")
    url = f"memory://gpupipe-test-compressed/f.csv{suffix}"
    fsspec.filesystem("memory").pipe(url, path.read_bytes())
    try:
        assert_frame_equal(gp.read_csv(url), want, check_dtype=False)
        assert_frame_equal(gp.Dataset(url).to_frame(), want, check_dtype=False)
    finally:
        fsspec.filesystem("memory").rm(url)


def test_xz_csv_reads_in_read_csv_and_dataset(tmp_path):
    """Arrow has no xz codec: .csv.xz files are decompressed by the standard library's lzma, named, in a directory
    and from a URL, where compressed bytes were parsed as text (a UTF-8 or column-count error)."""
    import lzma

    path = tmp_path / "f.csv.xz"
    path.write_bytes(lzma.compress(b"a,b\n1,x\n2,y\n"))
    want = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for got in (gp.read_csv(path), gp.read_csv(tmp_path), gp.Dataset(path).to_frame(), gp.Dataset(tmp_path).to_frame(),
                gp.Dataset(path, partition_rows=1).to_frame()):
        assert_frame_equal(got, want, check_dtype=False)
    fsspec = pytest.importorskip("fsspec")
    url = "memory://gpupipe-test-compressed/f.csv.xz"
    fsspec.filesystem("memory").pipe(url, path.read_bytes())
    try:
        assert_frame_equal(gp.read_csv(url), want, check_dtype=False)
    finally:
        fsspec.filesystem("memory").rm(url)
