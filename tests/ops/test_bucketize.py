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
    assert info["a"] == ColumnInfo("int64", "cat", 4) and info["b"] == ColumnInfo("int64", "cat", 3)
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
