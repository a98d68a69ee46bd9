"""to_tensors: zero-copy for numeric null-free columns, named copies otherwise, errors that name the column."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

import gpupipe as gp
from gpupipe.schema import ColumnSchema, Schema


def _schema(cont=(), cat=(), label=None, card=1000):
    cols = [ColumnSchema(c, "cont", "float32") for c in cont]
    cols += [ColumnSchema(c, "cat", "int64", card) for c in cat]
    if label:
        cols.append(ColumnSchema(label, "label", "float32"))
    return Schema(cols)


def _ptr(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def test_numeric_columns_share_the_frames_buffers():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "x": rng.random(1000, dtype=np.float32),
        "c": rng.integers(0, 50, 1000),
        "y": (rng.random(1000) < 0.5).astype(np.float32),
    })
    tt = gp.to_tensors(df, schema=_schema(["x"], ["c"], "y"))
    assert tt.copies == {}
    for name in ("x", "c", "y"):
        assert tt[name].data_ptr() == _ptr(df[name].to_numpy())
        np.testing.assert_array_equal(tt[name].numpy(), df[name].to_numpy())
    assert tt["x"].dtype == torch.float32 and tt["c"].dtype == torch.int64
    assert tt.num_rows == len(tt) == 1000 and tt.device.type == "cpu"


def test_nullable_columns_without_nulls_share_their_data_buffer():
    df = pd.DataFrame({
        "c": pd.array(np.arange(100), dtype="Int64"),
        "x": pd.array(np.linspace(0, 1, 100, dtype=np.float32), dtype="Float32"),
    })
    tt = gp.to_tensors(df, schema=_schema(["x"], ["c"], card=100))
    assert tt.copies == {}
    assert tt["c"].data_ptr() == _ptr(df["c"].array._data)
    assert tt["x"].data_ptr() == _ptr(df["x"].array._data)
    np.testing.assert_array_equal(tt["c"].numpy(), np.arange(100))


def test_arrow_backed_column_without_nulls_is_zero_copy():
    arr = pa.array(np.arange(10, dtype=np.float32))
    df = pd.DataFrame({"x": pd.Series(arr, dtype=pd.ArrowDtype(pa.float32()))})
    tt = gp.to_tensors(df, schema=_schema(["x"]))
    assert tt.copies == {}
    assert tt["x"].data_ptr() == arr.buffers()[1].address
    np.testing.assert_array_equal(tt["x"].numpy(), np.arange(10, dtype=np.float32))


def test_read_only_pandas3_arrays_convert_without_warning(recwarn):
    df = pd.DataFrame({"x": np.arange(5, dtype=np.float32)})
    assert not df["x"].to_numpy().flags.writeable  # pandas 3 copy-on-write
    gp.to_tensors(df, schema=_schema(["x"]))
    assert [str(w.message) for w in recwarn] == []


def test_columns_that_need_converting_are_converted_once_and_named():
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    df = pd.DataFrame(base, columns=["s0", "s1", "s2"], copy=False)  # strided columns of one block
    df["f64"] = np.array([0.5, 1.5, 2.5, 3.5])
    df["i32"] = pd.array([1, None, 3, 4], dtype="Int32")
    df["b"] = np.array([True, False, True, True])
    df["c32"] = np.array([1, 2, 3, 4], dtype=np.int32)
    df["y"] = np.array([0, 1, 1, 0], dtype=np.int8)
    # validate=False: the null in i32 (a NaN once converted) is kept, to show the conversion itself
    tt = gp.to_tensors(df, schema=_schema(["s1", "f64", "i32", "b"], ["c32"], "y", card=10), validate=False)
    assert set(tt.copies) == {"s1", "f64", "i32", "b", "c32", "y"}
    assert "non-contiguous" in tt.copies["s1"]
    assert "float64" in tt.copies["f64"] and "1 nulls" in tt.copies["i32"]
    assert "bool" in tt.copies["b"] and "int32" in tt.copies["c32"] and "int8" in tt.copies["y"]
    np.testing.assert_array_equal(tt["s1"].numpy(), base[:, 1])
    np.testing.assert_array_equal(tt["f64"].numpy(), df["f64"].to_numpy().astype(np.float32))
    np.testing.assert_array_equal(tt["i32"].numpy(), np.array([1, np.nan, 3, 4], dtype=np.float32))
    np.testing.assert_array_equal(tt["b"].numpy(), np.array([1, 0, 1, 1], dtype=np.float32))
    assert tt["c32"].dtype == torch.int64 and tt["y"].dtype == torch.float32
    for name in tt.copies:
        assert tt[name].is_contiguous()


def test_schema_none_is_inferred_with_the_label_named():
    df = pd.DataFrame({"x": np.ones(3, dtype=np.float32), "c": np.array([0, 1, 2]), "y": np.zeros(3)})
    tt = gp.to_tensors(df, label="y")
    assert (tt.schema.cont, tt.schema.cat, tt.schema.label) == (["x"], ["c"], "y")


def test_accepts_an_object_with_output_schema_and_ignores_extra_columns():
    class FittedWorkflow:
        output_schema = _schema(["x"])

    df = pd.DataFrame({"x": np.ones(3, dtype=np.float32), "other": ["a", "b", "c"]})
    tt = gp.to_tensors(df, schema=FittedWorkflow())
    assert list(tt) == ["x"]


def test_tensor_table_passes_through_unchanged():
    df = pd.DataFrame({"x": np.ones(3, dtype=np.float32)})
    tt = gp.to_tensors(df, schema=_schema(["x"]))
    assert gp.to_tensors(tt) is tt
    assert tt.to("cpu") is tt


@pytest.mark.parametrize(
    ("column", "role", "error", "words"),
    [
        (pd.Series(["a", "b", "c"]), "cont", gp.SchemaError, ["'bad'", "str", "cont"]),
        (pd.Series(["a", "b", "c"], dtype="category"), "cat", gp.SchemaError, ["'bad'", "Categorify"]),
        (pd.Series(pd.to_datetime(["2024-01-01"] * 3)), "cont", gp.SchemaError, ["'bad'", "DateParts"]),
        (pd.Series([1.0, np.nan, 0.0], dtype="float32"), "label", gp.DataError, ["'bad'", "NaN/inf", "row 1"]),
        (pd.Series([1.0, np.inf, 0.0], dtype="float32"), "label", gp.DataError, ["'bad'", "NaN/inf"]),
        (pd.array([1, None, 0], dtype="Int8"), "label", gp.DataError, ["'bad'", "1 nulls"]),
        (pd.array([1, None, 0], dtype="Int32"), "cat", gp.DataError, ["'bad'", "nulls", "Categorify"]),
        (pd.Series([1, -1, 0]), "cat", gp.DataError, ["'bad'", "[-1, 1]"]),
        (pd.Series([1, 10, 0]), "cat", gp.DataError, ["'bad'", "[0, 5)"]),
        (pd.Series([1.0, 2.5, 0.0]), "cat", gp.SchemaError, ["'bad'", "non-integer"]),
    ],
)
def test_bad_columns_raise_an_error_naming_them(column, role, error, words):
    df = pd.DataFrame({"bad": column})
    schema = Schema([ColumnSchema("bad", role, "x", 5 if role == "cat" else None)])
    with pytest.raises(error) as exc:
        gp.to_tensors(df, schema=schema)
    for word in words:
        assert word in str(exc.value)


@pytest.mark.parametrize(
    ("column", "words"),
    [
        (pd.Series([1.0, 2.0, np.nan, 0.5], dtype="float32"), ["1 NaN/null", "row 2"]),
        (pd.Series([1.0, np.nan, np.nan, 0.5]), ["2 NaN/null", "row 1"]),
        (pd.Series([1.0, 2.0, 3.0, np.inf], dtype="float32"), ["1 ±inf", "row 3", "ops.Clip"]),
        (pd.Series([-np.inf, 2.0, np.nan, 0.5]), ["1 NaN/null and 1 ±inf", "row 0"]),
        (pd.array([1, None, 3, None], dtype="Int64"), ["2 NaN/null", "row 1"]),
        (pd.array([1.0, None, 3.0, 4.0], dtype="Float32"), ["1 NaN/null", "row 1"]),
        (pd.Series([1.0, None, 3.0, 4.0], dtype=pd.ArrowDtype(pa.float64())), ["1 NaN/null", "row 1"]),
    ],
    ids=["nan-f32", "nan-f64", "inf", "both", "Int64-null", "Float32-null", "arrow-null"],
)
def test_non_finite_values_in_a_continuous_column_are_refused_naming_it(column, words):
    # the counts where NumPy counts them; these values would reach the model as NaN scores
    df = pd.DataFrame({"x": np.arange(4, dtype=np.float32), "bad": column, "y": np.zeros(4, dtype=np.float32)})
    schema = _schema(["x", "bad"], label="y")
    for build in (lambda: gp.to_tensors(df, schema=schema), lambda: gp.Loader(df, schema=schema, batch_size=2)):
        with pytest.raises(gp.DataError) as exc:
            build()
        msg = str(exc.value)
        for word in ["continuous column 'bad'", "ops.FillMissing", "ops.FillMedian", "ops.Dropna", *words]:
            assert word in msg, (word, msg)
        assert "'x'" not in msg
    # validate=False skips the check: the values arrive as they are (nulls as NaN)
    tt = gp.to_tensors(df, schema=schema, validate=False)
    want = pd.Series(column).astype("float64").to_numpy(dtype="float64", na_value=np.nan).astype("float32")
    np.testing.assert_array_equal(tt["bad"].numpy(), want)


def test_a_tensor_table_with_nan_in_a_continuous_column_is_refused_by_the_loader():
    df = pd.DataFrame({"x": np.array([0.0, np.nan, 2.0], dtype=np.float32), "y": np.zeros(3, dtype=np.float32)})
    tt = gp.to_tensors(df, schema=_schema(["x"], label="y"), validate=False)
    with pytest.raises(gp.DataError, match=r"continuous column 'x' has 1 NaN/null values \(first at row 1\)"):
        gp.Loader(tt, batch_size=2)


def test_a_continuous_column_of_huge_finite_float64_values_is_not_refused():
    # their float64 sum overflows to inf, but every value is finite: the check counts before refusing
    from gpupipe.tensors.convert import _validate

    _validate("x", "cont", None, torch.full((4,), 1e308, dtype=torch.float64))  # no error
    with pytest.raises(gp.DataError, match="1 ±inf"):
        _validate("x", "cont", None, torch.tensor([1e308, float("inf")], dtype=torch.float64))
    big = torch.full((4,), 3e38, dtype=torch.float32)  # the largest float32 values a table holds pass the Loader
    tt = gp.TensorTable({"x": big, "y": torch.zeros(4)}, _schema(["x"], label="y"))
    assert len(gp.Loader(tt, batch_size=2, shuffle=False)) == 2


def test_missing_schema_column_is_a_schema_error_listing_it():
    df = pd.DataFrame({"x": np.ones(2, dtype=np.float32)})
    with pytest.raises(gp.SchemaError, match=r"\['gone'\]"):
        gp.to_tensors(df, schema=_schema(["x", "gone"]))


def test_whole_numbers_in_a_float_cat_column_are_converted():
    df = pd.DataFrame({"c": np.array([1.0, 2.0, 0.0])})
    tt = gp.to_tensors(df, schema=_schema(cat=["c"], card=3))
    assert tt["c"].tolist() == [1, 2, 0] and "float64 → int64" in tt.copies["c"]


def test_a_dataset_is_refused_with_advice():
    class DS:
        num_partitions = 1

        def iter_partitions(self):
            yield pd.DataFrame({"x": [1.0]})

    with pytest.raises(TypeError, match="Loader"):
        gp.to_tensors(DS())


@pytest.mark.parametrize("kind", ["table", "record batch"])
def test_arrow_data_is_refused_as_the_loader_refuses_it(kind):
    # a pyarrow Table has `columns` too (its arrays): to_tensors said "column names must be strings, got
    # [<pyarrow.lib.ChunkedArray ...>]"
    table = pa.table({"x": [1.0, 2.0], "c": [0, 1], "y": [0.0, 1.0]})
    data = table if kind == "table" else table.to_batches()[0]
    schema = _schema(["x"], ["c"], "y", card=2)
    with pytest.raises(gp.ParameterError, match=r"^to_tensors: frame must be a pandas or cuDF DataFrame.*, got a "
                       r"pyarrow\.lib\.(Table|RecordBatch); convert Arrow data with gp\.from_arrow\(\.\.\.\) first$"):
        gp.to_tensors(data, schema=schema)
    with pytest.raises(gp.ParameterError, match=r"^gp\.Loader: data must be .*, got a pyarrow\.lib\.(Table|RecordBatch); "
                       r"convert Arrow data with gp\.from_arrow\(\.\.\.\) first$"):
        gp.Loader(data, schema=schema, batch_size=2)
    tt = gp.to_tensors(gp.from_arrow(data), schema=schema)  # as the advice says
    assert tt["x"].tolist() == [1.0, 2.0] and tt["c"].tolist() == [0, 1]
    assert next(iter(gp.Loader(gp.from_arrow(data), schema=schema, batch_size=2, shuffle=False))).label.tolist() == [
        0.0, 1.0]
    with pytest.raises(gp.ParameterError, match=r"to_tensors: frame .*a Series is one column: series\.to_frame\(\)"):
        gp.to_tensors(pd.Series([1.0, 2.0], name="x"), schema=_schema(["x"]))


# -- memory does not grow with rows ------------------------------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def _frame(rows: int, cont_dtype: str = "float32") -> pd.DataFrame:
    return pd.DataFrame({
        "a": np.ones(rows, dtype=cont_dtype),
        "b": np.zeros(rows, dtype=np.float32),
        "c": np.ones(rows, dtype=np.int64),
        "y": np.zeros(rows, dtype=np.float32),
    })


def _cost(df: pd.DataFrame) -> tuple[int, int]:
    """(RSS growth, peak tracemalloc bytes) of one to_tensors call; the result is kept alive while measuring."""
    schema = _schema(["a", "b"], ["c"], "y", card=2)
    gc.collect()
    tracemalloc.start()
    before = _rss()
    tt = gp.to_tensors(df, schema=schema)
    grown = _rss() - before
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert tt.num_rows == len(df)
    return grown, peak


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_memory_of_to_tensors_does_not_grow_with_rows():
    gp.to_tensors(_frame(10), schema=_schema(["a", "b"], ["c"], "y", card=2))  # imports, warm-up
    small, small_peak = _cost(_frame(100_000))
    big, big_peak = _cost(_frame(10_000_000))
    column_bytes = 10_000_000 * 4  # one float32 column of the big frame: 40 MB
    assert big - small < column_bytes // 10, (small, big)
    assert big_peak < 1 << 20 and small_peak < 1 << 20, (small_peak, big_peak)
    # The measurement does see copies: a float64 column must be converted (40 MB of new float32).
    copied, copied_peak = _cost(_frame(10_000_000, cont_dtype="float64"))
    assert copied > column_bytes * 0.8 or copied_peak > column_bytes * 0.8, (copied, copied_peak)


def test_arrow_bool_and_decimal_columns_convert_once_as_the_dtype_rule_says():
    import decimal

    df = pd.DataFrame({
        "b": pd.array([True, False, True], dtype="bool[pyarrow]"),  # pd.read_parquet(dtype_backend="pyarrow")
        "d": pd.array([decimal.Decimal("1.25"), decimal.Decimal("-2.50"), decimal.Decimal("0.10")],
                      dtype=pd.ArrowDtype(pa.decimal128(10, 2))),
        "c": pd.array([True, False, False], dtype="bool[pyarrow]"),
        "y": pd.array([False, True, True], dtype="bool[pyarrow]"),
    })
    # bools were to_numpy(zero_copy_only=True): pyarrow's ArrowInvalid "Zero copy conversions not possible with
    # boolean types"; decimals a SchemaError "not numeric", though the README's dtype rule makes them float64
    schema = Schema([ColumnSchema("b", "cont", "bool"), ColumnSchema("d", "cont", "float64"),
                     ColumnSchema("c", "cat", "bool", 2), ColumnSchema("y", "label", "bool")])
    tt = gp.to_tensors(df, schema=schema)
    np.testing.assert_array_equal(tt["b"].numpy(), df["b"].astype("float32").to_numpy())
    np.testing.assert_array_equal(tt["d"].numpy(), df["d"].astype("float64").to_numpy().astype(np.float32))
    assert tt["c"].tolist() == [1, 0, 0] and tt["c"].dtype == torch.int64
    assert tt["y"].tolist() == [0.0, 1.0, 1.0]
    assert tt.copies["b"].startswith("bool[pyarrow] → boolean") and "float64" in tt.copies["d"]
    assert [len(b) for b in gp.Loader(df, batch_size=2, schema=schema)] == [2, 1]
    nulls = df.assign(y=pd.array([False, None, True], dtype="bool[pyarrow]"))
    with pytest.raises(gp.DataError, match="label column 'y' has 1 nulls"):
        gp.to_tensors(nulls, schema=schema)
    dates = pd.DataFrame({"t": pd.array([pa.scalar(0, pa.date32()).as_py()], dtype=pd.ArrowDtype(pa.date32()))})
    with pytest.raises(gp.SchemaError, match=r"'t' has dtype datetime64.*ops.DateParts"):
        gp.to_tensors(dates, schema=_schema(["t"]))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_refusals_after_a_conversion_give_the_frames_values_not_the_converted_ones():
    label = ColumnSchema("y", "label", "float32")
    wrapped = pd.DataFrame({"c": np.array([1, 2**63 + 5], dtype=np.uint64), "y": [0.0, 1.0]})
    assert int(wrapped["c"].to_numpy().astype(np.int64)[1]) == -(2**63) + 5  # what the message showed
    with pytest.raises(gp.DataError, match=r"'c' has ids in \[1, 9223372036854775813\] \(beyond the int64 range"):
        gp.to_tensors(wrapped, schema=Schema([ColumnSchema("c", "cat", "uint64", 10), label]))
    huge = pd.DataFrame({"c": np.array([1e20, 3.0]), "y": [0.0, 1.0]})
    with pytest.raises(gp.DataError, match=r"'c' has ids in \[3, 100000000000000000000\] \(beyond"):
        gp.to_tensors(huge, schema=Schema([ColumnSchema("c", "cat", "float64", 10), label]))
    # finite float64 values past float32's range became inf and were refused as "±inf values"
    big = pd.DataFrame({"x": np.array([3.0, 1e39, 2.0]), "y": [0.0, 1.0, 1e39]})
    assert np.isinf(np.float32(big["x"][1]))
    with pytest.raises(gp.DataError, match=r"continuous column 'x' has 1 finite values beyond float32's range "
                                           r"\(±3.4e38; e.g. 1e\+39 at row 1\).*ops.LogOp"):
        gp.to_tensors(big, schema=_schema(["x"], label="y"))
    with pytest.raises(gp.DataError, match=r"label column 'y' has 1 finite values beyond float32's range"):
        gp.to_tensors(big.assign(x=1.0), schema=_schema(["x"], label="y"))
    # real infinities and in-range ids keep their messages
    with pytest.raises(gp.DataError, match=r"'x' has 1 ±inf values \(first at row 1\)"):
        gp.to_tensors(big.assign(x=[3.0, np.inf, 2.0], y=0.0), schema=_schema(["x"], label="y"))
    with pytest.raises(gp.DataError, match=r"'c' has ids in \[3, 12\] but the schema allows \[0, 10\)"):
        gp.to_tensors(huge.assign(c=[12.0, 3.0]), schema=Schema([ColumnSchema("c", "cat", "float64", 10), label]))


def test_writing_into_the_frame_afterwards_leaves_the_shared_tensors_as_they_were():
    # pandas' copy-on-write: the frame copies its block before the write, because the tensors hold the columns
    df = pd.DataFrame(np.arange(8, dtype=np.float32).reshape(4, 2), columns=["x", "y"])  # one 2-D block
    df["c"] = pd.array([0, 1, 2, 3], dtype="Int64")
    ptrs = {"x": _ptr(df["x"].to_numpy()), "c": _ptr(df["c"].array._data)}
    tt = gp.to_tensors(df, schema=_schema(["x"], ["c"], "y", card=10))
    assert tt.copies == {} and {n: tt[n].data_ptr() for n in ptrs} == ptrs  # still zero-copy
    df.loc[0, "x"] = 99.0
    df.iloc[1, 1] = 77.0
    df.loc[2, "c"] = 9
    assert df["x"].tolist()[0] == 99.0 and df["y"].tolist()[1] == 77.0 and df["c"].tolist()[2] == 9
    assert tt["x"].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert tt["y"].tolist() == [1.0, 3.0, 5.0, 7.0]
    assert tt["c"].tolist() == [0, 1, 2, 3]
    # a sequential loader's batches are views of those tensors: they keep the values too
    df = pd.DataFrame({"x": np.arange(4, dtype=np.float32), "y": np.zeros(4, dtype=np.float32)})
    loader = gp.Loader(df, batch_size=4, shuffle=False, schema=_schema(["x"], label="y"))
    df.loc[0, ["x", "y"]] = 5.0
    batch = next(iter(loader))
    assert batch.cont[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0] and batch.label.tolist() == [0.0] * 4
