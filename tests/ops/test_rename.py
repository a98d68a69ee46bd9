"""Rename and LambdaOp."""

from __future__ import annotations

import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError, SchemaError


def test_rename_mapping_then_postfix(backend: str) -> None:
    df = gp.from_pandas(pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}))
    out = gp.to_pandas(ops.Rename(mapping={"a": "x"}, postfix="_v").transform(df, ["a", "b"]))
    assert list(out.columns) == ["x_v", "b_v"]
    assert out["x_v"].tolist() == [1, 2]


def test_rename_errors() -> None:
    with pytest.raises(ValueError, match="needs"):
        ops.Rename().output_columns(["a"])
    with pytest.raises(SchemaError, match="'zz'"):
        ops.Rename(mapping={"zz": "y"}).output_columns(["a"])
    with pytest.raises(SchemaError, match="'y'"):
        ops.Rename(mapping={"a": "y", "b": "y"}).output_columns(["a", "b"])


def test_lambda_applies_per_column(backend: str) -> None:
    df = gp.from_pandas(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    out = gp.to_pandas(ops.LambdaOp(lambda s: s * 10).transform(df, ["a", "b"]))
    assert out.to_dict("list") == {"a": [10, 20], "b": [30, 40]}


def test_lambda_wrong_length() -> None:
    with pytest.raises(DataError, match="one value per row"):
        ops.LambdaOp(lambda s: s.iloc[:1]).transform(pd.DataFrame({"a": [1, 2]}), ["a"])


_LOSSY_CASTS = {
    # declared dtype, fn, column; what the cast used to give silently for a = [100, 200, 300, -1], f = [0.5, 1.5, 2.0, 3.0]
    "int8 wraps": ("int8", lambda s: s, "a"),                    # [100, -56, 44, -1]
    "uint8 wraps": ("uint8", lambda s: s, "a"),                  # [100, 200, 44, 255]
    "bool of any number": ("bool", lambda s: s, "a"),            # [True, True, True, True]
    "int truncates fractions": ("int64", lambda s: s, "f"),      # [0, 1, 2, 3]
    "int64 of 1e20": ("int64", lambda s: s * 1e20, "f"),         # every value -2**63
    "float16 overflows": ("float16", lambda s: s * 1e5, "f"),    # [50000, inf, inf, inf]
}


@pytest.mark.parametrize("case", sorted(_LOSSY_CASTS))
def test_lambda_declared_dtype_refuses_a_cast_that_changes_values(backend: str, case: str) -> None:
    dtype, fn, column = _LOSSY_CASTS[case]
    df = gp.from_pandas(pd.DataFrame({"a": [100, 200, 300, -1], "f": [0.5, 1.5, 2.0, 3.0]}))
    with pytest.raises(DataError, match=f"does not fit dtype='{dtype}'"):
        ops.LambdaOp(fn, dtype=dtype).transform(df, [column])


@pytest.mark.parametrize(("dtype", "values"), [("int8", [100, -128, 127]), ("uint8", [0, 255, 7]),
                                               ("bool", [0, 1, 1]), ("int64", [2.0, -3.0, 2.0**62]),
                                               ("float32", [0.1, 1e30, -2.5]), ("uint64", [2.0**63, 0.0, 1.0])])
def test_lambda_declared_dtype_keeps_values_that_fit(backend: str, dtype: str, values: list) -> None:
    # values the declared dtype holds come out as pandas' astype gives them (float32 rounding is what it asks for)
    df = gp.from_pandas(pd.DataFrame({"a": values}))
    out = gp.to_pandas(ops.LambdaOp(lambda s: s, dtype=dtype).transform(df, ["a"]))
    pd.testing.assert_series_equal(out["a"], pd.Series(values).astype(dtype), check_names=False)
