"""Bucketize against np.digitize and scikit-learn's KBinsDiscretizer with the same edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpupipe as gp
from gpupipe.errors import SchemaError
from gpupipe.ops import Bucketize, ColumnInfo


def test_matches_digitize_with_null_bucket(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=500) * 10
    x[::7] = np.nan
    x[1], x[2] = -5.0, 5.0  # exactly on a boundary: left-closed buckets
    ints = pd.array(rng.integers(-20, 20, 500), dtype="Int32")
    ints[::11] = None
    df = pd.DataFrame({"x": x, "n": ints})
    bounds = [-5.0, 0.0, 5.0]
    out = gp.to_pandas(Bucketize(bounds).transform(gp.from_pandas(df), ["x", "n"]))
    want_x = np.where(np.isnan(x), len(bounds) + 1, np.digitize(x, bounds))
    assert out["x"].tolist() == want_x.tolist()
    n = df["n"].to_numpy(dtype="float64", na_value=np.nan)
    assert out["n"].tolist() == np.where(np.isnan(n), len(bounds) + 1, np.digitize(n, bounds)).tolist()
    assert out["x"].iloc[1] == 1 and out["x"].iloc[2] == 3


def test_matches_kbins_discretizer():
    from sklearn.preprocessing import KBinsDiscretizer

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, 300)
    kb = KBinsDiscretizer(n_bins=4, encode="ordinal", strategy="uniform").fit(x.reshape(-1, 1))
    inner = kb.bin_edges_[0][1:-1].tolist()
    out = Bucketize(inner).transform(pd.DataFrame({"x": x}), ["x"])
    assert out["x"].tolist() == kb.transform(x.reshape(-1, 1)).ravel().astype(int).tolist()


def test_per_column_boundaries_and_info():
    op = Bucketize({"a": [1, 2], "b": [10]})
    out = op.transform(pd.DataFrame({"a": [0, 1, 2, 3], "b": [5, 10, 20, 1]}), ["a", "b"])
    assert out["a"].tolist() == [0, 1, 2, 2] and out["b"].tolist() == [0, 1, 1, 0]
    info = op.output_info(["a", "b"], {"a": ColumnInfo("int64"), "b": ColumnInfo("int64")})
    assert info["a"] == ColumnInfo("int64", "cat", 4, op.boundaries_digest("a"))
    assert info["b"] == ColumnInfo("int64", "cat", 3, op.boundaries_digest("b"))
    # the digest tells boundaries apart, not how they are written
    assert op.boundaries_digest("a") != op.boundaries_digest("b") != Bucketize([11]).boundaries_digest("x")
    assert Bucketize([10.0]).boundaries_digest("x") == op.boundaries_digest("b")
    assert Bucketize([0.5, 2]).boundaries_digest("x") != Bucketize([0.25, 2]).boundaries_digest("x")
    assert op.get_params() == {"boundaries": {"a": [1.0, 2.0], "b": [10.0]}}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(-100, 100)), min_size=1, max_size=50), st.integers(0, 50))
def test_row_wise(values, cut):
    df = pd.DataFrame({"x": pd.array(values, dtype="Float64")})
    op = Bucketize([-10, 0, 10])
    whole = op.transform(df, ["x"])
    pd.testing.assert_frame_equal(whole, pd.concat([op.transform(df.iloc[:cut], ["x"]),
                                                    op.transform(df.iloc[cut:], ["x"])]))


def test_errors():
    df = pd.DataFrame({"x": [1.0], "s": ["a"]})
    with pytest.raises(ValueError, match="strictly increasing"):
        Bucketize([2, 1]).transform(df, ["x"])
    with pytest.raises(ValueError, match="finite"):
        Bucketize([0, np.inf]).transform(df, ["x"])
    with pytest.raises(SchemaError, match="no boundaries for column 'x'"):
        Bucketize({"y": [1]}).transform(df, ["x"])
    with pytest.raises(SchemaError, match="'s'"):
        Bucketize([1]).transform(df, ["s"])
    with pytest.raises(SchemaError, match="'nope'"):
        Bucketize([1]).transform(df, ["nope"])


def _exact_ids(values, bounds):
    """np.digitize's ids by Python's exact comparisons of ints and floats; the null bucket for None."""
    return [len(bounds) + 1 if v is None else sum(b <= v for b in bounds) for v in values]


@pytest.mark.parametrize(("dtype", "values", "bounds"), [
    # values next to a boundary above 2**53, where float64 has no odd integers (bd - 1 rounds up to bd)
    ("int64", [1_700_000_000_000_000_000 - 1, 1_700_000_000_000_000_000, 1_700_000_000_000_000_001, -5],
     [0, 1_700_000_000_000_000_000]),
    ("int64", [2**53, 2**53 + 1, 2**53 + 2, None], [2**53 + 1, 2**53 + 2]),
    ("uint64", [2**63 + 1, 2**63 + 2, 2**64 - 1, 3], [2**63 + 2, 2**64 - 1]),
    # fractional boundaries on integers, and boundaries beyond the dtype's range on either side
    ("int64", [-3, -2, 0, 1, 2, None], [-2.5, 0.5, 1.0, 1.5]),
    ("int8", [-128, -1, 0, 127], [-1000, -0.5, 126.5, 1000]),
    ("uint8", [0, 1, 255, None], [-3, 0.25, 255]),
])
def test_integer_columns_compare_with_the_boundaries_exactly(backend, dtype, values, bounds):
    # NumPy arrays where there is no null (pd.array(..., "uint64") would round through float64), nullable otherwise
    col = np.array(values, dtype=dtype) if None not in values else pd.array(values, dtype=dtype.replace("uint", "UInt").replace("int", "Int"))
    out = gp.to_pandas(Bucketize(bounds).transform(gp.from_pandas(pd.DataFrame({"x": col})), ["x"]))
    assert out["x"].tolist() == _exact_ids(values, bounds)
    if None not in values and all(isinstance(b, int) for b in bounds):  # np.digitize compares in the column's dtype
        assert out["x"].tolist() == np.digitize(col, np.array(bounds, dtype=dtype)).tolist()


def test_an_integer_boundary_with_no_float_of_its_own_on_a_float_column(backend):
    b = 2**53 + 1  # float64 rounds it to 2**53, so 2**53 (a float) would land at or above it
    values = [float(2**53), float(2**53 + 2), 0.5]
    out = gp.to_pandas(Bucketize([b]).transform(gp.from_pandas(pd.DataFrame({"x": values})), ["x"]))
    assert out["x"].tolist() == _exact_ids(values, [b]) == [0, 1, 0]


def test_integer_boundaries_are_kept_exact_in_the_parameters(tmp_path):
    bd = 1_700_000_000_000_000_001
    wf = gp.Workflow(["t"] >> Bucketize(np.array([0, bd], dtype=np.int64)))
    df = pd.DataFrame({"t": np.array([bd - 1, bd], dtype=np.int64)})
    assert wf.fit_transform(df)["t"].tolist() == [1, 2]
    assert wf.ops[0].get_params() == {"boundaries": [0, bd]}
    wf.save(tmp_path / "wf")
    assert gp.Workflow.load(tmp_path / "wf").transform(df)["t"].tolist() == [1, 2]


def test_an_object_column_of_ints_is_bucketized_on_its_own():
    # on its own (no Workflow converting dtypes) the op refused an object column of Python ints as "str values"
    values = [1, None, 5, -3, 2]
    out = Bucketize([0, 2]).transform(pd.DataFrame({"a": pd.Series(values, dtype=object)}), ["a"])["a"].tolist()
    assert out == [3 if v is None else int(np.digitize(v, [0, 2])) for v in values]


def test_integer_boundaries_beyond_float64_compare_exactly_with_floats(backend: str) -> None:
    # 10**400 has no float64 (it was a bare OverflowError); every finite float lies between -10**400 and 10**400,
    # and inf is at or above 10**400, as Python compares them
    x = [-np.inf, -1.7e308, 0.0, 1.7e308, np.inf, np.nan]
    df = gp.from_pandas(pd.DataFrame({"x": x}))
    bounds = [-(10**400), 0, 10**400]
    out = gp.to_pandas(Bucketize(bounds).transform(df, ["x"]))["x"].tolist()
    assert out == [sum(b <= v for b in bounds) for v in x[:-1]] + [4] == [0, 1, 2, 2, 3, 4]
