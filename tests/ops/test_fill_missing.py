"""FillMissing against scikit-learn's SimpleImputer(strategy="constant"), on every installed backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import SchemaError


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 200
    return pd.DataFrame({
        "f": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
        "i": pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(-5, 5, n)), dtype="Int32"),
        "s": pd.array(np.where(rng.random(n) < 0.3, None, rng.choice(["a", "b"], n)), dtype="str"),
    })


@pytest.mark.parametrize("fill", [0, -7, 2.5])
def test_matches_simple_imputer_constant(backend: str, fill: float) -> None:
    df = _frame()
    out = gp.to_pandas(ops.FillMissing(fill_value=fill).transform(gp.from_pandas(df), ["f", "i"]))
    x = np.column_stack([df["f"].to_numpy(), df["i"].to_numpy(dtype=float, na_value=np.nan)])
    expected = SimpleImputer(strategy="constant", fill_value=fill).fit_transform(x)
    np.testing.assert_array_equal(out[["f", "i"]].to_numpy(dtype=float), expected)
    # integer columns stay integer for a whole-number fill, and lose their nullable mask
    assert str(out["i"].dtype) == ("float64" if fill == 2.5 else "int32")


def test_indicator_matches_sklearn(backend: str) -> None:
    df = _frame()
    out = gp.to_pandas(ops.FillMissing(fill_value=0, add_indicator=True).transform(gp.from_pandas(df), ["f", "i"]))
    assert list(out.columns) == ["f", "i", "f_missing", "i_missing"]
    x = np.column_stack([df["f"].to_numpy(), df["i"].to_numpy(dtype=float, na_value=np.nan)])
    expected = SimpleImputer(strategy="constant", fill_value=0, add_indicator=True).fit_transform(x)
    np.testing.assert_array_equal(out.to_numpy(dtype=float), expected)
    assert str(out["f_missing"].dtype) == "float32"


def test_string_fill(backend: str) -> None:
    df = _frame()
    out = gp.to_pandas(ops.FillMissing(fill_value="?").transform(gp.from_pandas(df), ["s"]))
    assert out["s"].tolist() == df["s"].fillna("?").tolist()


def test_kind_mismatch_names_column(backend: str) -> None:
    df = gp.from_pandas(_frame())
    with pytest.raises(SchemaError, match="'s'"):
        ops.FillMissing(fill_value=0).transform(df, ["s"])
    with pytest.raises(SchemaError, match="'f'"):
        ops.FillMissing(fill_value="x").transform(df, ["f"])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, [1]])
def test_bad_fill_value(bad: object) -> None:
    with pytest.raises(ValueError, match="fill_value"):
        ops.FillMissing(fill_value=bad).transform(_frame(), ["f"])


def test_missing_column_is_schema_error() -> None:
    with pytest.raises(SchemaError, match="nope"):
        ops.FillMissing().transform(_frame(), ["nope"])


@pytest.mark.parametrize("fill", ["x", 0])
def test_a_categorical_column_is_refused_with_advice_that_fits_it(fill: object) -> None:
    df = pd.DataFrame({"c": pd.Categorical(["a", None, "b"])})
    with pytest.raises(SchemaError, match="'c'") as err:
        ops.FillMissing(fill_value=fill).transform(df, ["c"])
    msg = str(err.value)
    assert "does not fill categorical columns" in msg and "Categorify" in msg
    assert "Give a string fill_value" not in msg and "Give a number fill_value" not in msg


def test_a_datetime_column_is_refused_without_advice_to_change_the_fill() -> None:
    df = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", None])})
    with pytest.raises(SchemaError, match=r"'t'.*numeric and string columns only.*DateParts"):
        ops.FillMissing(fill_value="x").transform(df, ["t"])


@pytest.mark.parametrize(("dtype", "fill"), [("float32", 1e40), ("float32", -(2**128)), ("float64", 10**400),
                                             ("Int64", 10**400)], ids=["f32-1e40", "f32-2**128", "f64-1e400", "Int64-1e400"])
def test_a_fill_beyond_a_columns_finite_range_is_refused(backend: str, dtype: str, fill: float) -> None:
    # 1e40 is inf in float32 (np.float32(1e40)); the fill was written as inf, which FillMissing refuses as fill_value;
    # 10**400 has no float64 at all (it was a bare OverflowError)
    df = gp.from_pandas(pd.DataFrame({"x": pd.array([1, None, 3], dtype=dtype)}))
    with pytest.raises(SchemaError, match=r"'x'.*choose a fill value in range"):
        ops.FillMissing(fill_value=fill).transform(df, ["x"])


def test_a_fill_within_float32s_range_is_float32s_value(backend: str) -> None:
    df = gp.from_pandas(pd.DataFrame({"x": np.array([1.0, np.nan], dtype="float32")}))
    out = gp.to_pandas(ops.FillMissing(fill_value=3e38).transform(df, ["x"]))
    assert str(out["x"].dtype) == "float32" and out["x"].tolist() == [1.0, float(np.float32(3e38))]


@pytest.mark.parametrize("make", [lambda: ops.FillMissing(add_indicator=True), lambda: ops.FillMedian(add_indicator=True)],
                         ids=["FillMissing", "FillMedian"])
def test_an_indicator_named_like_a_selected_column_is_refused(backend: str, make) -> None:
    # the filled 'a_missing' (0, 2) was overwritten by the indicator of 'a' (0, 1) in the op's output, with no word;
    # a workflow refused it advising a Rename after the op, which cannot help
    df = gp.from_pandas(pd.DataFrame({"a": [1.0, None], "a_missing": [None, 2.0]}))
    op = make()
    with pytest.raises(SchemaError, match=r"indicator of column 'a' is named 'a_missing'.*Rename that column in the data"):
        (op.fit(df, ["a", "a_missing"]) if hasattr(op, "partial_fit") else op).transform(df, ["a", "a_missing"])
    with pytest.raises(SchemaError, match=r"indicator of column 'a' is named 'a_missing'"):
        gp.Workflow(["a", "a_missing"] >> make())
    # renamed in the data, every column is SimpleImputer's (constant 0, indicators of both)
    renamed = pd.DataFrame({"a": [1.0, None], "a_missing_raw": [None, 2.0]})
    out = gp.to_pandas(ops.FillMissing(add_indicator=True).transform(gp.from_pandas(renamed), ["a", "a_missing_raw"]))
    expected = SimpleImputer(strategy="constant", fill_value=0, add_indicator=True).fit_transform(renamed.to_numpy())
    np.testing.assert_array_equal(out.to_numpy(dtype=float), expected)
