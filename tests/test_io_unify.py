"""Many files, one schema: every reader expands paths, reads hive partitions and unifies schemas alike.

The oracle is ``pandas.concat`` of the files read one by one (what a user would write by hand).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gpupipe as gp
from gpupipe.errors import DataError, SchemaError
from gpupipe.io._unify import common_type


def _readers(d, paths):
    return {
        "read_parquet(dir)": lambda: gp.read_parquet(d),
        "read_parquet(list)": lambda: gp.read_parquet(paths),
        "read_parquet(glob)": lambda: gp.read_parquet(str(d / "*.parquet")),
        "Dataset(dir)": lambda: gp.Dataset(d).to_frame(),
        "Dataset(dir, partition_rows=1)": lambda: gp.Dataset(d, partition_rows=1).to_frame(),
    }


def _write(d, tables):
    paths = []
    for i, t in enumerate(tables):
        paths.append(d / f"part-{i}.parquet")
        pq.write_table(t, paths[-1])
    return paths


def _values(frame) -> dict:
    got = gp.to_pandas(frame)
    return {c: [None if pd.isna(v) else v for v in got[c].tolist()] for c in got.columns}


@pytest.mark.parametrize("tables, want", [
    # a column added later: nulls where a file lacks it (D1, D2)
    ([pa.table({"a": [1, 2]}), pa.table({"a": [3], "b": ["x"]})], {"a": [1, 2, 3], "b": [None, None, "x"]}),
    # the same columns in another order (D2)
    ([pa.table({"a": [1], "b": ["x"]}), pa.table({"b": ["y"], "a": [2]})], {"a": [1, 2], "b": ["x", "y"]}),
    # int32 widened to int64, values beyond int32 kept (D3)
    ([pa.table({"a": pa.array([1, 2], pa.int32())}), pa.table({"a": pa.array([2**40], pa.int64())})],
     {"a": [1, 2, 2**40]}),
    # ints and floats give floats (D4)
    ([pa.table({"a": [1, 2]}), pa.table({"a": [1.5, None]})], {"a": [1.0, 2.0, 1.5, None]}),
    # a null-typed column takes the other file's type (D5)
    ([pa.table({"s": pa.nulls(2)}), pa.table({"s": ["x"]})], {"s": [None, None, "x"]}),
    # a column null-typed in every file is float64
    ([pa.table({"s": pa.nulls(1), "k": [1]}), pa.table({"s": pa.nulls(1), "k": [2]})],
     {"s": [None, None], "k": [1, 2]}),
])
def test_files_whose_schema_evolved_read_the_same_with_every_reader(backend, tmp_path, tables, want):
    paths = _write(tmp_path, tables)
    results = {name: _values(read()) for name, read in _readers(tmp_path, paths).items()}
    for name, got in results.items():
        assert got == want, f"{name}: {got}"
    dtypes = {name: dict(gp.to_pandas(read()).dtypes) for name, read in _readers(tmp_path, paths).items()}
    assert len({str(d) for d in dtypes.values()}) == 1, dtypes
    assert gp.Dataset(tmp_path).dtypes == dtypes["read_parquet(dir)"]


def test_a_column_null_typed_everywhere_is_float64(backend, tmp_path):
    _write(tmp_path, [pa.table({"s": pa.nulls(1)}), pa.table({"s": pa.nulls(2)})])
    assert str(gp.to_pandas(gp.read_parquet(tmp_path))["s"].dtype) == "float64"


@pytest.mark.parametrize("a, b", [
    (pa.array([1]), pa.array(["x"])),                        # numbers vs text
    (pa.array([True]), pa.array([1])),                       # bool vs int
    (pa.array([1], pa.uint64()), pa.array([-1])),            # uint64 vs signed
    (pa.array([0], pa.timestamp("us", "UTC")), pa.array([0], pa.timestamp("us"))),  # tz-aware vs naive
    # a DATE vs timestamps in New York: Arrow's cast made 2020-01-01 the instant 2019-12-31 19:00 there
    (pa.array([dt.date(2020, 1, 1)], pa.date32()), pa.array([0], pa.timestamp("us", "America/New_York"))),
])
def test_incompatible_types_are_a_data_error_naming_the_column_and_both_files(backend, tmp_path, a, b):
    paths = _write(tmp_path, [pa.table({"k": [1], "col": a}), pa.table({"k": [2], "col": b})])
    for name, read in _readers(tmp_path, paths).items():
        with pytest.raises(DataError) as info:
            read()
        msg = str(info.value)
        assert "'col'" in msg and "part-0.parquet" in msg and "part-1.parquet" in msg, f"{name}: {msg}"


def test_common_types():
    assert common_type(pa.int8(), pa.uint8()) == pa.int16()
    assert common_type(pa.uint32(), pa.int64()) == pa.int64()
    assert common_type(pa.float32(), pa.int64()) == pa.float64()
    assert common_type(pa.string(), pa.large_string()) == pa.large_string()
    assert common_type(pa.dictionary(pa.int32(), pa.string()), pa.string()) == pa.string()
    assert common_type(pa.timestamp("ms"), pa.timestamp("ns")) == pa.timestamp("ns")
    assert common_type(pa.date32(), pa.timestamp("s")) == pa.timestamp("s")
    assert common_type(pa.date32(), pa.timestamp("us", "UTC")) == pa.timestamp("us", "UTC")  # the same calendar day
    assert common_type(pa.timestamp("ms", "Asia/Tokyo"), pa.date32()) is None
    assert common_type(pa.decimal128(5, 2), pa.decimal128(10, 3)) == pa.float64()
    assert common_type(pa.null(), pa.bool_()) == pa.bool_()
    assert common_type(pa.string(), pa.int64()) is None


def test_columns_selects_from_the_union(backend, tmp_path):
    paths = _write(tmp_path, [pa.table({"a": [1, 2]}), pa.table({"a": [3], "b": ["x"]})])
    for read in (lambda c: gp.read_parquet(tmp_path, columns=c), lambda c: gp.read_parquet(paths, columns=c),
                 lambda c: gp.Dataset(tmp_path, columns=c).to_frame()):
        assert _values(read(["b"])) == {"b": [None, None, "x"]}
        with pytest.raises(SchemaError, match=r"no column\(s\) \['zz'\]"):
            read(["b", "zz"])


# ------------------------------------------------------------------------------------- hive partitions
def _hive(d, parts):
    for i, rel in enumerate(parts):
        (d / rel).mkdir(parents=True)
        pq.write_table(pa.table({"v": [i]}), d / rel / "part.parquet")


def test_hive_columns_are_strings_from_every_reader(backend, tmp_path):
    _hive(tmp_path, ["year=2013/zip=02134", "year=2013/zip=10001", "year=2014/zip=__HIVE_DEFAULT_PARTITION__",
                     "year=2014/zip=a%20b"])
    direct = gp.to_pandas(gp.read_parquet(tmp_path))
    lazy = gp.to_pandas(gp.Dataset(tmp_path).to_frame())
    globbed = gp.to_pandas(gp.read_parquet(str(tmp_path / "year=*/*/*.parquet")))
    for got in (direct, lazy, globbed):
        assert list(got.columns) == ["v", "year", "zip"]
        assert got["year"].tolist() == ["2013", "2013", "2014", "2014"]
        assert [None if pd.isna(z) else z for z in got["zip"].tolist()] == ["02134", "10001", None, "a b"]
        assert str(got["zip"].dtype) == str(direct["zip"].dtype)
    assert gp.Dataset(tmp_path).dtypes == dict(direct.dtypes)
    assert _values(gp.read_parquet(tmp_path, columns=["zip", "v"]))["zip"][0] == "02134"


def test_files_named_one_by_one_carry_no_partition_columns(backend, tmp_path):
    _hive(tmp_path, ["year=2013"])
    assert list(gp.read_parquet(tmp_path / "year=2013" / "part.parquet").columns) == ["v"]


def test_a_partition_key_that_is_also_a_file_column_is_a_schema_error(backend, tmp_path):
    (tmp_path / "year=2013").mkdir()
    pq.write_table(pa.table({"year": [2013], "v": [1]}), tmp_path / "year=2013" / "p.parquet")
    for read in (lambda: gp.read_parquet(tmp_path), lambda: gp.Dataset(tmp_path)):
        with pytest.raises(SchemaError, match=r"'year'.*") as info:
            read()
        assert str(tmp_path) in str(info.value)


def test_a_partition_key_given_two_values_by_one_path_is_a_schema_error(backend, tmp_path):
    """pyarrow's hive partitioning takes the outer value (k=1), gpupipe took the inner one (k=2): ambiguous."""
    _hive(tmp_path, ["k=1/k=2"])
    _hive(tmp_path / "same", ["k=3/k=3"])
    for read in (lambda: gp.read_parquet(tmp_path), lambda: gp.read_parquet(str(tmp_path / "*/*/*.parquet")),
                 lambda: gp.Dataset(tmp_path)):
        with pytest.raises(SchemaError, match=r"k=1.*part\.parquet lies below two partition directories k=1 and k=2"):
            read()
    assert _values(gp.read_parquet(tmp_path / "same"))["k"] == ["3"]  # one value twice: no doubt


def test_csv_directories_and_hive_partitions(backend, tmp_path):
    for day in ("2024-01-01", "2024-01-02"):
        (tmp_path / f"day={day}").mkdir()
        (tmp_path / f"day={day}" / "data.csv").write_text("id,x\n1,0.5\n")
    got = _values(gp.read_csv(tmp_path))
    assert got == {"id": [1, 1], "x": [0.5, 0.5], "day": ["2024-01-01", "2024-01-02"]}
    assert _values(gp.Dataset(tmp_path).to_frame()) == got
    assert _values(gp.read_csv(str(tmp_path / "*" / "*.csv"))) == got


# ------------------------------------------------------------------------------------- CSV days
@pytest.mark.parametrize("empty_day", [0, 1])
def test_daily_csvs_with_an_empty_column_fit_like_the_whole_table(backend, tmp_path, empty_day):
    for day in range(3):
        x = ["", ""] if day == empty_day else [str(day + 0.5), str(day + 1.5)]
        s = ["", ""] if day == empty_day else ["a", "b"]
        rows = [f"{day * 10 + r},{x[r]},{s[r]}" for r in range(2)]
        (tmp_path / f"day-{day}.csv").write_text("id,x,s\n" + "\n".join(rows) + "\n")
    whole = gp.read_csv(sorted(tmp_path.glob("*.csv")))
    assert str(gp.to_pandas(whole)["x"].dtype) == "float64"
    ds = gp.Dataset(tmp_path, partition_rows=1)
    assert ds.dtypes == dict(gp.to_pandas(whole).dtypes) or ds.backend == "cudf"
    from gpupipe import ops

    mem = gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify()).fit(whole)
    lazy = gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify()).fit(ds)
    a, b = gp.to_pandas(mem.transform(whole)), gp.to_pandas(lazy.transform(whole))
    np.testing.assert_allclose(a["x"].to_numpy(np.float64), b["x"].to_numpy(np.float64), equal_nan=True)
    assert a["s"].tolist() == b["s"].tolist()


def test_csv_columns_of_different_types_name_both_files(backend, tmp_path):
    (tmp_path / "a.csv").write_text("zip\n02134\n")
    (tmp_path / "b.csv").write_text("zip\nAB1\n")
    with pytest.raises(DataError, match=r"'zip'.*a\.csv.*b\.csv.*dtype="):
        gp.read_csv(tmp_path)
    assert _values(gp.read_csv(tmp_path, dtype={"zip": "str"})) == {"zip": ["02134", "AB1"]}


def test_csv_dtype_for_a_column_no_file_has_is_a_schema_error(backend, tmp_path):
    (tmp_path / "a.csv").write_text("a\n1\n")
    with pytest.raises(SchemaError, match="nope"):
        gp.read_csv(tmp_path / "a.csv", dtype={"nope": "int64"})
    with pytest.raises(SchemaError, match="nope"):
        gp.read_csv([tmp_path / "a.csv", tmp_path / "a.csv"], dtype={"nope": "int64"})


# ------------------------------------------------------------------------------------- path forms
def test_every_reader_takes_the_same_path_forms(backend, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "_tmp").mkdir()
    for i, where in enumerate(["p0.parquet", "sub/p1.parquet", "_tmp/ignored.parquet", ".hidden.parquet"]):
        pq.write_table(pa.table({"a": [i]}), tmp_path / where)
    (tmp_path / "notes.txt").write_text("not data")
    for form in (tmp_path, str(tmp_path / "**" / "*.parquet"), [tmp_path / "p0.parquet", tmp_path / "sub"]):
        assert _values(gp.read_parquet(form)) == {"a": [0, 1]}, form
        assert _values(gp.Dataset(form).to_frame()) == {"a": [0, 1]}, form
    with pytest.raises(FileNotFoundError, match="nothing"):
        gp.read_parquet(str(tmp_path / "nothing*.parquet"))
    with pytest.raises(DataError, match="no csv files"):
        gp.read_csv(tmp_path)


def test_integers_beyond_2_53_unify_with_floats_as_pandas_concat_does(tmp_path):
    (tmp_path / "1.csv").write_text("a\n18446744073709551615\n")
    (tmp_path / "2.csv").write_text("a\n1.5\n")
    with gp.use_backend("pandas"):
        got = gp.read_csv(tmp_path)["a"].tolist()
    want = pd.concat([pd.read_csv(tmp_path / "1.csv"), pd.read_csv(tmp_path / "2.csv")])["a"].astype(float).tolist()
    assert got == want


def _write_frames(d, frames):
    paths = []
    for i, f in enumerate(frames):
        paths.append(d / f"part-{i}.parquet")
        f.to_parquet(paths[-1])
    return paths


def _cat(values, categories, ordered=True):
    return pd.DataFrame({"c": pd.Categorical(values, categories=categories, ordered=ordered), "n": range(len(values))})


@pytest.mark.parametrize("second", [
    _cat(["lo", "hi"], ["hi", "lo"]),                    # the same categories in another order
    _cat(["lo", "hi"], ["lo", "mid", "hi"]),             # another set: "mid" was ranked after "hi"
    _cat(["lo", "hi"], ["lo", "hi"], ordered=False),     # not ordered
])
def test_ordered_categoricals_of_different_categories_are_a_schema_error_naming_both_files(backend, tmp_path, second):
    """read_parquet took the first file's order (ranking the other files' values wrongly) and gp.Dataset failed with
    pandas' bare TypeError; every reader refuses, naming the column and both files."""
    paths = _write_frames(tmp_path, [_cat(["lo", "hi"], ["lo", "hi"]), second])
    for read in _readers(tmp_path, paths).values():
        with pytest.raises(SchemaError, match=r"column 'c' .*part-0\.parquet.*part-1\.parquet.*same categories in the "
                                              r"same order.*separately"):
            read()
    assert gp.to_pandas(gp.read_parquet(tmp_path, columns=["n"]))["n"].tolist() == [0, 1, 0, 1]  # not read: no error


def test_categoricals_that_agree_or_are_unordered_still_read(backend, tmp_path):
    paths = _write_frames(tmp_path, [_cat(["lo", "hi"], ["lo", "hi"]), _cat(["hi"], ["lo", "hi"])])
    for name, read in _readers(tmp_path, paths).items():
        got = gp.to_pandas(read())["c"]
        assert got.tolist() == ["lo", "hi", "hi"] and got.cat.ordered and list(got.cat.categories) == ["lo", "hi"], name
    for p in paths:
        p.unlink()
    paths = _write_frames(tmp_path, [_cat(["lo", "hi"], ["lo", "hi"], False), _cat(["x", "lo"], ["x", "lo"], False)])
    for name, read in _readers(tmp_path, paths).items():
        assert [str(v) for v in gp.to_pandas(read())["c"].tolist()] == ["lo", "hi", "x", "lo"], name
