"""gp.Schema.infer: the roles it guesses from a frame's dtypes."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import gpupipe as gp


def test_infer_makes_decimal_columns_continuous_float64_as_the_dtype_rule_says():
    # A DECIMAL column read from a file (Arrow-backed on pandas) was refused as "neither numeric nor listed
    # as cat", so gp.Loader / gp.to_tensors with schema=None refused it too, though to_tensors converts
    # decimals to floats when given a schema.
    values = [decimal.Decimal("1.25"), decimal.Decimal("-2.50"), decimal.Decimal("0.10")]
    df = pd.DataFrame({"d": pd.array(values, dtype=pd.ArrowDtype(pa.decimal128(10, 2))), "y": [0.0, 1.0, 0.0]})
    schema = gp.Schema.infer(df, label="y")
    assert (schema.cont, schema.cat, schema.label) == (["d"], [], "y")
    assert schema["d"].dtype == "float64"
    batch = next(iter(gp.Loader(df, batch_size=3, shuffle=False)))
    np.testing.assert_array_equal(batch.cont[:, 0].numpy(), np.array([1.25, -2.5, 0.1], dtype=np.float32))


def test_infer_refuses_column_names_that_are_not_strings():
    # label="1" did not match the column 1 (the check compared str names, the roles the raw ones):
    # the label became a categorical feature and the schema had no label, silently.
    df = pd.DataFrame({0: [1.5, 2.0], 1: [1, 0]})
    with pytest.raises(gp.SchemaError, match=r"Schema.infer: column names must be strings, got \[0, 1\]"):
        gp.Schema.infer(df, label="1")


@pytest.mark.parametrize(("cardinality", "shown"), [(7.5, "float 7.5"), ("abc", "str 'abc'"), (True, "bool True")])
def test_from_dict_refuses_a_cardinality_that_is_not_a_whole_number(cardinality, shown):
    # 7.5 was truncated to 7 (an embedding one row short of id 7) and True read as 1, silently; "abc" was a bare
    # ValueError
    d = {"columns": [{"name": "c", "role": "cat", "dtype": "int64", "cardinality": cardinality}]}
    with pytest.raises(gp.SchemaError, match=f"column 'c': cardinality must be a whole number of ids, got {shown}"):
        gp.Schema.from_dict(d)


def test_from_dict_refuses_entries_that_are_not_dictionaries_by_name():
    # bare TypeErrors: "string indices must be integers", "cannot convert dictionary update sequence element"
    with pytest.raises(gp.SchemaError, match="a column schema must be a dictionary"):
        gp.Schema.from_dict({"columns": ["c"]})
    with pytest.raises(gp.SchemaError, match="column schema 'c': properties must be a dictionary, got list"):
        gp.Schema.from_dict({"columns": [{"name": "c", "role": "cont", "dtype": "float32", "properties": [1]}]})
    schema = gp.Schema([gp.ColumnSchema("c", "cat", "int64", np.int64(5), {"op": "Categorify"})])
    assert gp.Schema.from_dict(schema.to_dict()) == schema and schema["c"].cardinality == 5


def test_infer_refuses_the_label_listed_as_cat():
    """label="y" with cat=["y"] silently made y the label; which was meant is not clear, so it is refused."""
    df = pd.DataFrame({"y": [0, 1, 1], "c": [1, 2, 3]})
    with pytest.raises(gp.ParameterError, match=r"Schema.infer: cat .*'y' is the label"):
        gp.Schema.infer(df, label="y", cat=["y", "c"])
    assert gp.Schema.infer(df, label="y", cat=["c"]).label == "y"
