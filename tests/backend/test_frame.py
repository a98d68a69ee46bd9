"""Every generic of the frame vocabulary on every installed backend, against pandas/NumPy references.

In the style of skrub's ``_dataframe/tests/test_common.py``: one test per generic, parametrised by the
``backend`` fixture, so a cuDF implementation is held to exactly what the pandas one gives. The cuDF
cases carry the ``gpu`` marker and skip, with the reason, where cuDF cannot run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import mmh3_hash

import gpupipe as gp
from gpupipe.backend import frame as F
from gpupipe.errors import DataError, SchemaError
from gpupipe.schema import ColumnSchema, Schema


def on(backend: str, pdf: pd.DataFrame):
    """``pdf`` as a canonical frame of ``backend``."""
    return F.to_backend(F.normalize(pdf), backend)


def on_keeping_nan(backend: str, pdf: pd.DataFrame):
    """``pdf`` on ``backend`` with float NaN kept as NaN. Through Arrow (``on``) a NaN becomes a null on cuDF;
    NaN values proper arise there from computations (an op's float output, 0/0), and cuDF treats them
    differently from nulls (groupby aggregations count them, ``null_count`` does not)."""
    if backend == "pandas":
        return F.normalize(pdf)
    import cudf

    return F.normalize(cudf.from_pandas(pdf, nan_as_null=False))


def host(x):
    """A NumPy array (or pandas object) from whatever a generic returned."""
    if hasattr(x, "to_pandas") and not isinstance(x, (pd.Series, pd.DataFrame)):
        return x.to_pandas()
    return F.to_host(x)


def sample() -> pd.DataFrame:
    return pd.DataFrame({
        "i": pd.array([3, None, 1, 3, 7, -2], dtype="Int64"),
        "i32": pd.array([5, 6, None, 5, 5, 0], dtype="Int32"),
        "u8": np.array([0, 255, 7, 7, 1, 2], dtype=np.uint8),
        "f": [1.5, np.nan, -0.0, 0.0, 2.5, np.nan],
        "b": pd.array([True, False, None, True, True, False], dtype="boolean"),
        "s": pd.array(["a", "b", None, "a", "é", "b"], dtype="str"),
        "t": pd.to_datetime(["2013-01-07 05:10", None, "2013-12-31 23:59", "2013-02-28 00:00",
                             "2013-06-01 12:00", "2013-01-01 00:00"]),
    })


# ------------------------------------------------------------------------------ dtypes (pure)
@pytest.mark.parametrize(("dtype", "want"), [
    ("Int64", "int"), ("uint8", "int"), (np.dtype("int32"), "int"), ("float32", "float"), ("Float64", "float"),
    ("boolean", "bool"), ("bool", "bool"), ("str", "str"), ("string", "str"), ("object", "str"),
    ("category", "category"), ("datetime64[ns]", "datetime"), ("datetime64[us, UTC]", "datetime"),
    ("double[pyarrow]", "float"), ("int64[pyarrow]", "int"), ("large_string[pyarrow]", "str"),
    ("timestamp[us][pyarrow]", "datetime"), ("date32[day][pyarrow]", "datetime"),
    ("decimal128(10, 2)[pyarrow]", "decimal"), ("list<item: int64>[pyarrow]", "nested"),
    ("timedelta64[ns]", "other"), ("complex128", "other"),
])
def test_kind_of_dtypes_and_their_names(dtype, want):
    assert F.kind(dtype) == want


@pytest.mark.parametrize("dtype", [pd.ArrowDtype(pa.float64()), pd.ArrowDtype(pa.list_(pa.int64())),
                                   pd.ArrowDtype(pa.decimal128(10, 2)), pd.ArrowDtype(pa.string())])
def test_kind_of_arrow_backed_dtype_objects(dtype):
    assert F.kind(dtype) == F.kind(str(dtype))  # the object and its saved name agree


def test_value_kind_looks_through_categoricals():
    assert F.value_kind(pd.Series([1, 2], dtype="category")) == "int"
    assert F.value_kind(pd.Series(["a"], dtype="category")) == "str"


# ------------------------------------------------------------------------------ boundary
def test_normalize_gives_the_canonical_dtype_of_each_column(backend):
    pdf = pd.DataFrame({
        "obj_int": pd.Series([1, None, 2**40], dtype=object),
        "obj_big": pd.Series([2**64 - 1, 5, None], dtype=object),
        "obj_str": pd.Series(["x", None, "y"], dtype=object),
        "obj_float": pd.Series([1.5, None, 2], dtype=object),
        "arrow_f": pd.array([1.0, None, 3.0], dtype="double[pyarrow]"),
        "arrow_s": pd.array(["a", None, "c"], dtype="large_string[pyarrow]"),
        "masked_f": pd.array([1.0, None, 3.0], dtype="Float64"),
        "f16": np.array([1, 2, 3], dtype=np.float16),
        "py_str": pd.array(["a", "b", None], dtype="string[python]"),
    })
    out = F.to_pandas(on(backend, pdf))
    kinds = {c: F.kind(out[c]) for c in out.columns}
    assert kinds == {"obj_int": "int", "obj_big": "int", "obj_str": "str", "obj_float": "float", "arrow_f": "float",
                     "arrow_s": "str", "masked_f": "float", "f16": "float", "py_str": "str"}
    assert out["obj_int"].tolist() == [1, pd.NA, 2**40]
    assert out["obj_big"].tolist() == [2**64 - 1, 5, pd.NA]  # above 2**63: unsigned, not wrapped
    assert out["masked_f"].dtype == np.float64 and np.isnan(out["masked_f"][1])  # floats: NaN is missing
    assert out["f16"].dtype == np.float32
    assert out["py_str"].isna().tolist() == [False, False, True]


def test_normalize_reads_object_numbers_with_pd_na_as_the_nullable_column_they_came_from(backend):
    # a Float64 (or Decimal) column cast to object holds pd.NA for its nulls: the same floats, NaN for missing
    from decimal import Decimal

    floats = pd.array([0.5, None, 2.0, -1.0], dtype="Float64")
    floats[3] = np.nan
    pdf = pd.DataFrame({"f": floats, "o": pd.Series(floats, dtype=object),
                        "mixed": pd.Series([1, pd.NA, 2.5, None], dtype=object),
                        "dec": pd.Series([Decimal("1.25"), pd.NA, None, Decimal(3)], dtype=object)})
    out = F.to_pandas(on(backend, pdf))
    assert [str(out[c].dtype) for c in out.columns] == ["float64"] * 4
    np.testing.assert_array_equal(out["o"].to_numpy(), out["f"].to_numpy())
    np.testing.assert_array_equal(out["o"].to_numpy(), [0.5, np.nan, 2.0, np.nan])
    np.testing.assert_array_equal(out["mixed"].to_numpy(), [1.0, np.nan, 2.5, np.nan])
    np.testing.assert_array_equal(out["dec"].to_numpy(), [1.25, np.nan, np.nan, 3.0])


def test_normalize_reads_categories_held_as_python_objects_by_the_rules_of_object_columns():
    def cat(categories, codes=(0, 1, -1, 1)):
        return pd.Series(pd.Categorical.from_codes(list(codes), dtype=pd.CategoricalDtype(categories, ordered=True)))

    pdf = pd.DataFrame({"i": cat(pd.Index([10, 9], dtype=object)), "b": cat(pd.Index([True, False], dtype=object)),
                        "s": cat(pd.Index(["x", "y"], dtype=object)), "py": cat(pd.Index(["x", "y"], dtype="string[python]"))})
    out = F.normalize(pdf)
    assert {c: F.value_kind(out[c]) for c in out} == {"i": "int", "b": "bool", "s": "str", "py": "str"}
    assert out["i"].tolist()[:2] == [10, 9] and out["i"].cat.ordered  # same codes, same order, same values
    assert out["i"].isna().tolist() == [False, False, True, False]
    assert F.normalize(out) is out
    with pytest.raises(SchemaError, match="'mixed'"):  # as an object column mixing kinds is
        F.normalize(pd.DataFrame({"mixed": cat(pd.Index([1, "1"], dtype=object))}))


def test_normalize_returns_the_same_frame_when_nothing_needs_converting():
    pdf = F.normalize(sample())
    assert F.normalize(pdf) is pdf


def test_normalize_refuses_an_object_column_mixing_kinds_naming_it():
    pdf = pd.DataFrame({"ok": [1, 2], "mixed": pd.Series([1, "1"], dtype=object)})
    with pytest.raises(SchemaError, match=r"'mixed'.*astype\(str\)"):
        F.normalize(pdf)
    assert F.normalize(pdf, ["ok"]) is pdf  # only the columns asked for are looked at


def test_canonical_arrow_casts_dates_decimals_and_nulls():
    import datetime
    import decimal

    t = pa.table({"d": pa.array([datetime.date(2013, 1, 2), None]), "dec": pa.array([decimal.Decimal("1.25"), None]),
                  "n": pa.array([None, None], type=pa.null()), "h": pa.array([1, 2], type=pa.float16())})
    out = F.canonical_arrow(t)
    assert [f.type for f in out.schema] == [pa.timestamp("ms"), pa.float64(), pa.float64(), pa.float32()]
    assert out.column("dec").to_pylist() == [1.25, None]
    assert F.canonical_arrow(out) is out


def test_arrow_round_trip_keeps_values_nulls_and_kinds(backend):
    pdf = F.normalize(sample())
    frame = F.from_arrow.impl(backend)(F.to_arrow(pdf))
    back = F.to_pandas(frame)
    pd.testing.assert_frame_equal(back, pdf, check_dtype=False)
    assert {c: F.kind(back[c]) for c in back} == {c: F.kind(pdf[c]) for c in pdf}
    # no index column of any name (cuDF's to_arrow() would add "__index_level_0__", or "index" for a
    # non-range index, without preserve_index=False)
    assert F.to_arrow(frame.iloc[2:]).column_names == list(pdf.columns)


def test_to_pandas_keeps_integers_with_nulls_integers(backend):
    pdf = F.normalize(sample())
    back = F.to_pandas(on(backend, pdf))
    assert str(back["i"].dtype) == "Int64" and back["i"].tolist() == [3, pd.NA, 1, 3, 7, -2]  # never float64
    assert str(back["b"].dtype) == "boolean" and back["b"].isna().tolist() == pdf["b"].isna().tolist()


# ------------------------------------------------------------------------------ arrays
@pytest.mark.parametrize("column", ["i", "i32", "u8", "f", "b"])
def test_float_values_are_float64_with_nan_where_missing(backend, column):
    pdf = sample()
    got = host(F.float_values(on(backend, pdf)[column]))
    want = pdf[column].to_numpy(dtype=np.float64, na_value=np.nan)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("column", ["i", "f", "b", "s", "t"])
def test_missing_marks_nulls_and_nan(backend, column):
    pdf = sample()
    np.testing.assert_array_equal(host(F.missing(on(backend, pdf)[column])), pdf[column].isna().to_numpy())


def test_numeric_arrays_fill_missing_slots(backend):
    pdf = sample()
    values, mask = F.numeric_arrays(on(backend, pdf)["i32"], dtype="float64", fill=-9.0)
    np.testing.assert_array_equal(host(values), [5, 6, -9, 5, 5, 0])
    np.testing.assert_array_equal(host(mask), [False, False, True, False, False, False])
    values, _ = F.numeric_arrays(on(backend, pdf)["f"], dtype="float64", fill=0.0)
    np.testing.assert_array_equal(host(values), [1.5, 0.0, -0.0, 0.0, 2.5, 0.0])


def test_to_device_and_to_host(backend):
    frame = on(backend, sample())
    arr = F.to_device(F.missing(frame["i"]), np.arange(3))
    assert gp.backend.backend_of(arr) == backend
    np.testing.assert_array_equal(F.to_host(arr), [0, 1, 2])


def test_build_frame_keeps_rows_index_and_nan(backend):
    frame = on(backend, sample())
    xp = gp.backend.array_namespace(frame)
    out = F.build_frame(frame, {"x": xp.asarray([np.nan, 1, 2, 3, 4, 5], dtype=xp.float64), "i": frame["i"]})
    back = F.to_pandas(out)
    assert list(back.columns) == ["x", "i"] and len(back) == 6
    assert np.isnan(back["x"][0]) and back["i"].tolist() == [3, pd.NA, 1, 3, 7, -2]
    if backend == "cudf":
        assert out["x"].null_count == 0  # NaN kept as NaN, not turned into null


def test_build_frame_on_a_duplicate_index_places_values_by_position(backend):
    frame = on(backend, sample())
    concat = pd.concat if backend == "pandas" else __import__("cudf").concat
    like = concat([frame, frame])  # index 0..5, 0..5: every label twice
    xp = gp.backend.array_namespace(like)
    out = F.build_frame(like, {"x": xp.arange(12, dtype=xp.float64), "i": like["i"], "s": like["s"]})
    back = F.to_pandas(out)
    assert len(out) == 12 and list(back.columns) == ["x", "i", "s"]
    assert back["x"].tolist() == list(range(12))  # by position, not aligned on labels
    assert back["i"].tolist() == [3, pd.NA, 1, 3, 7, -2] * 2
    assert out.index.to_numpy().tolist() == [*range(6)] * 2  # like's labels, kept as they are


def test_map_columns_runs_fn_per_column_in_order(backend):
    frame = on(backend, sample())
    assert F.map_columns(frame, ["s", "i", "f"], lambda s: str(s.name)) == ["s", "i", "f"]


def test_work_scope_turns_numpy_huge_pages_off_on_pandas_only_and_restores_them(backend, monkeypatch):
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.delenv("GPUPIPE_NUMPY_HUGEPAGE", raising=False)
    core = getattr(np, "_core", None) or np.core

    def huge_pages() -> bool:
        prev = core.multiarray._set_madvise_hugepage(True)
        core.multiarray._set_madvise_hugepage(prev)
        return bool(prev)

    frame = on(backend, sample())
    before = huge_pages()
    with F.work_scope(frame):
        assert huge_pages() is (False if backend == "pandas" else before)
    assert huge_pages() is before


def test_empty_frame_has_the_schema_dtypes(backend):
    schema = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("c", "cat", "int64", 5),
                     ColumnSchema("y", "label", "float32")])
    out = F.to_pandas(F.empty_frame.impl(backend)(schema))
    assert len(out) == 0 and {c: str(t) for c, t in out.dtypes.items()} == {"x": "float32", "c": "int64",
                                                                           "y": "float32"}


# ------------------------------------------------------------------------------ counting and lookups
@pytest.mark.parametrize("column", ["i", "i32", "u8", "b", "s"])
def test_value_counts_equal_pandas_value_counts(backend, column):
    pdf = sample()
    got = F.value_counts(on(backend, pdf)[column])
    want = pdf[column].value_counts(dropna=True)
    assert dict(zip(got["value"].tolist(), got["count"].tolist(), strict=True)) == {
        (v.item() if hasattr(v, "item") else v): int(n) for v, n in want.items()}


def test_value_counts_of_uint64_above_2_63_keep_the_values(backend):
    big = 2**64 - 5
    pdf = pd.DataFrame({"u": np.array([big, big, 1], dtype=np.uint64)})
    got = F.value_counts(on(backend, pdf)["u"])
    assert dict(zip(got["value"].tolist(), got["count"].tolist(), strict=True)) == {big: 2, 1: 1}


@pytest.mark.parametrize("column", ["i", "b", "s"])
def test_factorize_codes_index_the_values(backend, column):
    pdf = sample()
    codes, values = F.factorize(on(backend, pdf)[column])
    codes = host(codes)
    rebuilt = [None if c < 0 else values[c] for c in codes]
    want = [None if pd.isna(v) else v for v in pdf[column].tolist()]
    assert rebuilt == want


def test_float_value_counts_are_sorted_distinct_non_missing_values(backend):
    pdf = sample()
    values, counts = F.float_value_counts(on(backend, pdf)["f"])
    assert values.tolist() == [0.0, 1.5, 2.5] and counts.tolist() == [2, 1, 1]  # -0.0 == 0.0, NaN left out


@pytest.mark.parametrize("column", ["i", "i32", "s", "b"])
def test_lookup_positions_in_a_vocabulary(backend, column):
    pdf = sample()
    vocab = F.canonical_values(pdf[column].dropna().unique())[::-1]
    frame = on(backend, pdf)
    index = F.make_index.impl(backend)(np.asarray(vocab), frame[column].dtype if F.kind(frame[column]) == "int" else None)
    got = host(F.lookup(frame[column], index))
    where = {(v.item() if hasattr(v, "item") else v): k for k, v in enumerate(vocab)}
    want = [-1 if pd.isna(v) else where[v] for v in pdf[column].tolist()]
    assert got.tolist() == want


@pytest.mark.parametrize("values", [
    pd.Series(["x", None, "é", "y"], dtype="str"),
    pd.Series([7, None, -3, 2**40], dtype="Int64"),
    pd.Series([7, None, 0, 9], dtype="Int32"),
    pd.Series([True, None, False, True], dtype="boolean"),
], ids=["str", "Int64", "Int32", "boolean"])
def test_take_values_gathers_host_values_at_device_positions(backend, values):
    pdf = pd.DataFrame({"ids": [3, 0, 1, 1, 2]}, index=[10, 11, 12, 13, 14])
    frame = on(backend, pdf)
    positions = F.to_device(frame["ids"], np.array([3, 0, 1, 1, 2], dtype=np.int64))
    got = F.take_values(frame["ids"], values, positions)
    assert gp.backend.backend_of(got) == backend
    assert got.name == "ids" and list(got.index.to_numpy().tolist()) == [10, 11, 12, 13, 14]
    assert F.kind(got) == F.kind(values.dtype)
    listed = got.to_arrow().to_pylist() if backend == "cudf" else [None if pd.isna(v) else v for v in got.tolist()]
    assert listed == [None if pd.isna(values[k]) else values[k] for k in (3, 0, 1, 1, 2)]
    if F.kind(values.dtype) == "int":  # the width survives (Int32 stays 32 bits, not widened)
        assert np.dtype(F.plain_dtype_name(got.dtype)).itemsize == values.dtype.numpy_dtype.itemsize


@pytest.mark.parametrize("column", ["i", "i32", "u8", "f", "b", "s"])
def test_hash_values_match_mmh3_over_canonical_bytes(backend, column):
    pdf = sample()
    hashed, mask = F.hash_values(on(backend, pdf)[column], 42)
    hashed, mask = host(hashed), host(mask)
    for v, h, m in zip(pdf[column].tolist(), hashed.tolist(), mask.tolist(), strict=True):
        if pd.isna(v):
            assert m and h == 0
            continue
        if isinstance(v, str):
            data = v.encode()
        elif isinstance(v, float):
            data = np.float64(0.0 if v == 0 else v).tobytes()
        else:
            data = np.int64(int(v)).tobytes()
        assert h == mmh3_hash(data, 42), (column, v)


# ------------------------------------------------------------------------------ element-wise
def test_fill_missing_makes_nullable_ints_plain(backend):
    pdf = sample()
    out = F.to_pandas(F.build_frame(on(backend, pdf), {"i": F.fill_missing(on(backend, pdf)["i"], 0)}))
    assert out["i"].tolist() == [3, 0, 1, 3, 7, -2] and F.kind(out["i"]) == "int"
    got = host(F.float_values(F.fill_missing(on(backend, pdf)["f"], -1.0)))
    np.testing.assert_array_equal(got, [1.5, -1.0, -0.0, 0.0, 2.5, -1.0])


@pytest.mark.parametrize(("column", "fill", "dtype"), [("i", 0, "int64"), ("i32", 0, "int32"), ("b", False, "bool")])
def test_fill_missing_gives_the_numpy_dtype_not_the_nullable_one(backend, column, fill, dtype):
    pdf = sample()
    out = F.fill_missing(on(backend, pdf)[column], fill)
    assert str(out.dtype) == dtype  # not Int32/Int64/boolean, on either backend (what output_info promises)
    want = pdf[column].fillna(fill).astype(dtype)
    np.testing.assert_array_equal(F.to_host(out.to_numpy()), want.to_numpy())


@pytest.mark.parametrize(("lower", "upper"), [(0, None), (None, 5), (-1e30, 1e30), (None, math.inf),
                                              (-math.inf, 2), (-2**40, 2**40)])
def test_clip_bounds_beyond_the_dtype_on_their_own_side_bound_nothing(backend, lower, upper):
    pdf = pd.DataFrame({"x": pd.array([-5, 3, None, 9], dtype="Int32")})
    got = host(F.float_values(F.clip(on(backend, pdf)["x"], lower, upper)))
    want = pdf["x"].astype("float64").clip(lower, upper).to_numpy(dtype=np.float64, na_value=np.nan)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("lower", "upper"), [(2**40, None), (None, -2**40), (0.5, None)])
def test_clip_bounds_an_integer_dtype_cannot_hold_make_the_column_float(backend, lower, upper):
    from gpupipe import ops

    pdf = pd.DataFrame({"x": pd.array([-5, 3, None, 9], dtype="Int32")})
    out = F.to_pandas(ops.Clip(lower=lower, upper=upper).transform(on(backend, pdf), ["x"]))
    want = pdf["x"].astype("float64").clip(lower, upper)
    assert out["x"].dtype == np.float64
    np.testing.assert_array_equal(out["x"].to_numpy(), want.to_numpy(dtype=np.float64, na_value=np.nan))


def test_log1p_and_its_negative_check(backend):
    pdf = pd.DataFrame({"x": pd.array([0, 3, None, 99], dtype="Int64"), "n": [1.0, -2.0, np.nan, 0.0]})
    np.testing.assert_allclose(host(F.log1p(on(backend, pdf)["x"], "x")), np.log1p([0, 3, np.nan, 99]))
    with pytest.raises(DataError, match=r"'n' has 1 negative value.*minimum -2\.0"):
        F.log1p(on(backend, pdf)["n"], "n")


def test_standardize_equals_numpy(backend):
    pdf = sample()
    got = host(F.standardize(on(backend, pdf)["f"], 1.0, 2.0))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ((pdf["f"].to_numpy() - 1.0) / 2.0).astype(np.float32))


@pytest.mark.parametrize("part", F.DATE_PARTS)
def test_date_part_equals_pandas_accessor(backend, part):
    pdf = sample()
    want = getattr(pdf["t"].dt, F.DATE_FIELDS[part]).astype("Int64")
    got = F.to_pandas(F.build_frame(on(backend, pdf), {"p": F.date_part(on(backend, pdf)["t"], part)}))["p"]
    assert got.tolist() == want.tolist()


def test_date_part_of_tz_aware_timestamps_is_local(backend):
    t = pd.Series(pd.to_datetime(["2013-12-31 23:30"]).tz_localize("UTC").tz_convert("Asia/Tokyo"))
    pdf = pd.DataFrame({"t": t})
    got = {p: F.to_pandas(F.build_frame(on(backend, pdf), {"p": F.date_part(on(backend, pdf)["t"], p)}))["p"][0]
           for p in ("year", "doy", "hour")}
    assert got == {"year": 2014, "doy": 1, "hour": 8}


# ------------------------------------------------------------------------------ statistics
def test_column_moments(backend):
    pdf = sample()
    n, mean, m2, lo, hi = F.column_moments(on(backend, pdf)["f"], "f", "Normalize")
    x = pdf["f"].dropna().to_numpy()
    assert n == 4 and math.isclose(mean, x.mean()) and math.isclose(m2, ((x - x.mean()) ** 2).sum())
    assert (lo, hi) == (-0.0, 2.5)
    with pytest.raises(DataError, match="'z' holds infinite"):
        F.column_moments(on(backend, pd.DataFrame({"z": [1.0, np.inf]}))["z"], "z", "Normalize")


def test_combine_moments_equals_the_whole():
    x = np.random.default_rng(0).normal(size=101)
    parts = [{"x": F.moments_of(p, "x", "t")} for p in (x[:10], x[10:60], x[60:], x[:0])]
    n, mean, m2, lo, hi = F.combine_moments(parts)["x"]
    assert n == 101 and math.isclose(mean, x.mean()) and math.isclose(m2, ((x - x.mean()) ** 2).sum())
    assert (lo, hi) == (x.min(), x.max())


def test_group_moments_skip_nan_like_pandas(backend):
    pdf = pd.DataFrame({"k": ["a", "a", "b", "b", None, "c"], "v": [1.0, np.nan, 2.0, 4.0, 9.0, np.nan]})
    got = F.group_moments(on(backend, pdf), ["k"], ["v"]).set_index("k").sort_index()
    g = pdf.groupby("k")["v"]
    assert got["v__n"].tolist() == g.count().astype(float).tolist() == [1.0, 2.0, 0.0]
    assert got["v__sum"].tolist() == [1.0, 6.0, 0.0]
    np.testing.assert_array_equal(got["v__min"], g.min())
    np.testing.assert_array_equal(got["v__max"], g.max())
    np.testing.assert_allclose(got["v__m2"], (g.var(ddof=0) * g.count()).fillna(0.0))


def test_group_moments_skip_true_nan_values_like_pandas(backend):
    # NaN values proper (not nulls): cuDF's groupby count/sum/var count them outside pandas-compatible mode
    pdf = pd.DataFrame({"k": pd.array(["a", "a", "b", "b", "b", "c"], dtype="str"),
                        "v": [1.0, np.nan, 2.0, np.nan, 4.0, np.nan]})
    frame = on_keeping_nan(backend, pdf)
    if backend == "cudf":
        assert frame["v"].null_count == 0 and int(frame["v"].isna().sum()) == 3  # NaN, not null
    got = F.group_moments(frame, ["k"], ["v"]).set_index("k").sort_index()
    g = pdf.groupby("k")["v"]
    assert got["v__n"].tolist() == [1.0, 2.0, 0.0]
    assert got["v__sum"].tolist() == [1.0, 6.0, 0.0]
    np.testing.assert_array_equal(got["v__min"], g.min())
    np.testing.assert_array_equal(got["v__max"], g.max())
    np.testing.assert_allclose(got["v__m2"], (g.var(ddof=0) * g.count()).fillna(0.0))


def test_float_values_missing_and_fill_treat_nan_like_null(backend):
    pdf = pd.DataFrame({"v": [1.0, np.nan, -0.0, np.nan]})
    frame = on_keeping_nan(backend, pdf)
    np.testing.assert_array_equal(host(F.float_values(frame["v"])), [1.0, np.nan, -0.0, np.nan])
    assert host(F.missing(frame["v"])).tolist() == [False, True, False, True]
    np.testing.assert_array_equal(host(F.float_values(F.fill_missing(frame["v"], 9.0))), [1.0, 9.0, -0.0, 9.0])
    values, counts = F.float_value_counts(frame["v"])
    assert values.tolist() == [0.0, 1.0] and counts.tolist() == [1, 1]


def test_sum_counts_of_partitions_with_uint64_values():
    a = F.counts_frame(np.array([2**64 - 1, 3], dtype=np.uint64), [1, 2])
    b = F.counts_frame(np.array([3, 4]), [5, 1])
    out = F.sum_counts([a, b]).set_index("value")["count"].to_dict()
    assert out == {2**64 - 1: 1, 3: 7, 4: 1}


# ------------------------------------------------------------------------------ rows and joins
def test_keep_rows_with_a_mask_holding_nulls(backend):
    frame = on(backend, sample())
    out = F.to_pandas(F.keep_rows(frame, frame["b"]))
    assert out["i"].tolist() == [3, 3, 7] and list(out.index) == [0, 1, 2]


def test_left_join_keeps_the_left_order_like_pandas_merge(backend):
    left = pd.DataFrame({"k": pd.array([3, 1, 2, 9, 1, None], dtype="Int64")})
    ext = pd.DataFrame({"k": pd.array([1, 2, 3], dtype="Int64"), "v": [10.0, 20.0, 30.0], "w": ["a", "b", "c"]})
    got = F.to_pandas(F.left_join(on(backend, left), on(backend, ext), ["k"], ["v", "w"]))
    want = left.merge(ext, on="k", how="left")[["v", "w"]]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


def test_key_positions_of_multi_column_keys(backend):
    pdf = pd.DataFrame({"a": pd.array([1, 2, 1, None], dtype="Int32"), "b": ["x", "y", "z", "x"]})
    table = pd.DataFrame({"a": [2, 1], "b": pd.array(["y", "x"], dtype="str")})
    assert host(F.key_positions(on(backend, pdf), ["a", "b"], table)).tolist() == [1, 0, -1, -1]


# ------------------------------------------------------------------------------ output
def test_check_label(backend):
    F.check_label(on(backend, pd.DataFrame({"y": [0.0, 1.0]})), "y")
    with pytest.raises(DataError, match="'y' has 2 null, NaN or infinite"):
        F.check_label(on(backend, pd.DataFrame({"y": [np.nan, np.inf, 1.0]})), "y")
    with pytest.raises(DataError, match="'y' has 1 null, NaN or infinite"):
        F.check_label(on(backend, pd.DataFrame({"y": pd.array([1, None, 0], dtype="Int64")})), "y")


def test_finalize_output_dtypes_and_nan_without_nulls(backend):
    pdf = pd.DataFrame({"c": pd.array([1, 2, 3], dtype="Int64"), "x": pd.array([1, None, 3], dtype="Int64"),
                        "y": [0, 1, 0]})
    schema = Schema([ColumnSchema("c", "cat", "int64", 4), ColumnSchema("x", "cont", "float32"),
                     ColumnSchema("y", "label", "float32")])
    out = F.finalize_output(on(backend, pdf), schema)
    back = F.to_pandas(out)
    assert {c: str(t) for c, t in back.dtypes.items()} == {"c": "int64", "x": "float32", "y": "float32"}
    assert np.isnan(back["x"][1])
    if backend == "cudf":
        assert out["x"].null_count == 0  # NaN, so the tensor can be a view of the column
    with pytest.raises(DataError, match="'c' has 1 null id"):
        F.finalize_output(on(backend, pdf.assign(c=pd.array([1, None, 3], dtype="Int64"))), schema)
