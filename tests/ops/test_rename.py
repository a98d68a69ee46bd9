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
