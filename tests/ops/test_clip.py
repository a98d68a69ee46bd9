"""Clip against numpy.clip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import SchemaError


def test_matches_numpy_clip_and_keeps_nulls(backend: str) -> None:
    rng = np.random.default_rng(3)
    f = np.where(rng.random(100) < 0.2, np.nan, rng.normal(scale=5, size=100))
    df = pd.DataFrame({"f": f, "i": pd.array(np.where(np.isnan(f), None, rng.integers(-9, 9, 100)), dtype="Int64")})
    out = gp.to_pandas(ops.Clip(lower=-2, upper=3).transform(gp.from_pandas(df), ["f", "i"]))
    np.testing.assert_array_equal(out["f"].to_numpy(), np.clip(f, -2, 3))
    i = df["i"].to_numpy(dtype=float, na_value=np.nan)
    np.testing.assert_array_equal(out["i"].to_numpy(dtype=float, na_value=np.nan), np.clip(i, -2, 3))
    assert out["i"].dtype.kind == "i"  # whole-number bounds keep integers


def test_fractional_bound_makes_ints_float() -> None:
    df = pd.DataFrame({"i": pd.array([0, 5, None], dtype="Int64")})
    op = ops.Clip(lower=0.5)
    out = op.transform(df, ["i"])
    np.testing.assert_array_equal(out["i"].to_numpy(), [0.5, 5.0, np.nan])
    assert op.output_info(["i"], {"i": ops.ColumnInfo("Int64")})["i"].dtype == "float64"


@pytest.mark.parametrize(("lower", "upper"), [(None, None), (3, 1), (float("nan"), None), ("0", None)])
def test_bad_bounds(lower: object, upper: object) -> None:
    with pytest.raises(ValueError, match="Clip"):
        ops.Clip(lower=lower, upper=upper).transform(pd.DataFrame({"a": [1.0]}), ["a"])


def test_text_refused() -> None:
    with pytest.raises(SchemaError, match="'s'"):
        ops.Clip(lower=0).transform(pd.DataFrame({"s": ["x"]}), ["s"])


@pytest.mark.parametrize("bound", [10**17 + 1, 2**63 - 1, -(2**63) + 1, 2**53 + 1])
def test_integer_bounds_keep_integer_columns_integer_and_exact(backend: str, bound: int) -> None:
    # none of these bounds has a float64 of its own (2**63 - 1 rounds to 2**63, beyond int64)
    values = np.array([1, 10**16 + 1, 2**53 + 2, -(2**62), 10**17 + 3], dtype=np.int64)
    df = pd.DataFrame({"i": values})
    for op, lo, hi in ((ops.Clip(upper=bound), None, bound), (ops.Clip(lower=bound), bound, None)):
        out = gp.to_pandas(op.transform(gp.from_pandas(df), ["i"]))["i"]
        assert out.dtype == np.int64
        assert op.output_info(["i"], {"i": ops.ColumnInfo("int64")})["i"].dtype == "int64"
        want = np.clip(values, np.int64(lo) if lo is not None else None, np.int64(hi) if hi is not None else None)
        assert out.tolist() == want.tolist()


@pytest.mark.parametrize("column", [
    pd.Series([True, False]), pd.Series(pd.array([True, None], dtype="boolean")),
    pd.Series(pd.Categorical([1, 3])), pd.Series(pd.Categorical(["a", "b"]))], ids=["bool", "boolean", "cat-int", "cat-str"])
def test_bool_and_categorical_columns_are_refused_naming_them(column: pd.Series) -> None:
    df = pd.DataFrame({"f": column})
    with pytest.raises(SchemaError, match=r"Clip: column 'f'|Clip: column\(s\) \{'f'"):
        ops.Clip(upper=0).transform(df, ["f"])
    with pytest.raises(SchemaError, match="'f'"):
        gp.Workflow(["f"] >> ops.Clip(lower=1) >> ops.HashBucket(10)).fit_transform(df)


@pytest.mark.parametrize(("bounds", "cardinality"), [({"lower": 10}, 11), ({"lower": 6}, 7), ({"lower": 7, "upper": 8}, 8),
                                                      ({"upper": 4}, 7), ({"lower": -5, "upper": 100}, 7), ({"upper": 9.5}, 7)])
def test_clip_of_categorical_ids_gives_a_cardinality_that_holds_every_id(bounds, cardinality):
    # Clip kept the Categorify's cardinality (7: ids 0..6): Clip(lower=10) made every id 10 under a schema of 7 ids.
    # An upper bound only shrinks the ids: the cardinality stays (so do saved schemas).
    df = pd.DataFrame({"c": ["a", "a", "b", "b", "c", "d", "d", "d"]})
    wf = gp.Workflow(["c"] >> ops.Categorify() >> ops.Clip(**bounds),
                     ["c"] >> ops.HashBucket(7) >> ops.Clip(**bounds) >> ops.Rename(postfix="_h"))
    out = wf.fit_transform(df)
    for col in ("c", "c_h"):
        ids = np.clip(np.arange(7), bounds.get("lower"), bounds.get("upper"))
        assert wf.output_schema[col].cardinality == cardinality == max(7, int(ids.max()) + 1), col
        assert out[col].max() < cardinality and out[col].min() >= 0
    gp.to_tensors(out, schema=wf.output_schema)  # every id within its cardinality


@pytest.mark.parametrize(("bounds", "became"), [({"upper": -1}, "-1..-1"), ({"upper": 2.5}, "0..2.5"),
                                                ({"lower": 3.5}, "3.5..6")])
def test_clip_making_categorical_ids_negative_or_fractional_is_refused(bounds, became):
    df = pd.DataFrame({"c": ["a", "a", "b", "b", "c", "d", "d", "d"]})
    wf = gp.Workflow(["c"] >> ops.Categorify() >> ops.Clip(**bounds))
    with pytest.raises(gp.SchemaError, match=rf"column 'c', which holds categorical ids 0\.\.6: the ids would become {became}"):
        wf.fit(df)


@pytest.mark.parametrize("dtype", ["float64", "float32", "Int64"])
def test_an_integer_bound_beyond_float64_on_its_own_side_bounds_nothing(backend: str, dtype: str) -> None:
    # 10**400 has no float64: these were a bare OverflowError ("int too large to convert to float")
    df = pd.DataFrame({"x": pd.array([1, None, -3], dtype=dtype)})
    out = gp.to_pandas(ops.Clip(lower=-(10**400), upper=10**400).transform(gp.from_pandas(df), ["x"]))
    pd.testing.assert_series_equal(out["x"], df["x"])


@pytest.mark.parametrize(("side", "bound"), [("lower", 10**400), ("upper", -(10**400))], ids=["lower", "upper"])
def test_an_integer_bound_beyond_float64_where_it_takes_effect_is_refused(side: str, bound: int) -> None:
    from gpupipe.errors import ParameterError

    with pytest.raises(ParameterError, match=f"{side} must lie within float64's range"):
        ops.Clip(**{side: bound}).transform(pd.DataFrame({"x": [1.0]}), ["x"])


@pytest.mark.parametrize(("bounds", "ref"), [({"lower": 1e39}, (1e39, None)), ({"upper": -(2**200)}, (None, -(2.0**200)))])
def test_a_bound_beyond_float32_makes_a_float32_column_float64(backend: str, bounds: dict, ref: tuple) -> None:
    # np.clip of the float64 values; in float32 every value became inf
    x = np.array([1.0, np.nan, -2.5], dtype="float32")
    df = gp.from_pandas(pd.DataFrame({"x": x}))
    op = ops.Clip(**bounds)
    out = gp.to_pandas(op.transform(df, ["x"]))
    np.testing.assert_array_equal(out["x"].to_numpy(), np.clip(x.astype("float64"), *ref))
    assert str(out["x"].dtype) == "float64" == op.output_info(["x"], {"x": ops.ColumnInfo("float32")})["x"].dtype
    # followed by LogOp: log1p of the bound (it was log1p(inf) = inf)
    logged = gp.to_pandas(gp.Workflow(["x"] >> ops.Clip(**bounds) >> ops.LogOp()).fit_transform(df)) \
        if "lower" in bounds else None
    if logged is not None:
        np.testing.assert_array_equal(logged["x"].to_numpy(), np.log1p([1e39, np.nan, 1e39]).astype("float32"))
