"""NormalizeMinMax against scikit-learn's MinMaxScaler; never NaN from a zero range."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

import gpupipe as gp
from gpupipe import ops


def test_matches_minmax_scaler(backend: str) -> None:
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame({
        "f": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(size=n)),
        "i": pd.array(rng.integers(-50, 50, n), dtype="Int32"),
        "const": np.full(n, -2.0),
    })
    op = ops.NormalizeMinMax().fit(gp.from_pandas(df), list(df.columns))
    out = gp.to_pandas(op.transform(gp.from_pandas(df), list(df.columns)))
    x = df.to_numpy(dtype=float, na_value=np.nan)
    expected = MinMaxScaler().fit(x).transform(x)
    np.testing.assert_allclose(out.to_numpy(dtype=float), expected, rtol=1e-6, atol=1e-7)
    assert (out["const"] == 0).all()


def test_all_null_and_single_value() -> None:
    df = pd.DataFrame({"n": [np.nan, np.nan], "one": [7.0, np.nan]})
    op = ops.NormalizeMinMax().fit(df, ["n", "one"])
    assert op.ranges_ == {"n": 1.0, "one": 1.0}
    out = op.transform(df, ["n", "one"])
    assert out["n"].isna().all() and out["one"].tolist()[0] == 0.0


def test_a_range_that_overflows_is_a_data_error_naming_the_column() -> None:
    import pytest

    from gpupipe.errors import DataError

    df = pd.DataFrame({"big": [1e308, -1e308, 0.0]})
    for data in (df, gp.Dataset(df, partition_rows=1)):
        with pytest.raises(DataError, match=r"NormalizeMinMax: column 'big' holds values too large.*range"):
            gp.Workflow(["big"] >> ops.NormalizeMinMax()).fit(data)
    # huge values whose range is finite are scaled exactly, as MinMaxScaler scales them
    ok = pd.DataFrame({"big": [1e308, 1e308, 1.0, -1e160]})
    got = gp.Workflow(["big"] >> ops.NormalizeMinMax()).fit_transform(ok)["big"].to_numpy()
    np.testing.assert_allclose(got, MinMaxScaler().fit_transform(ok).ravel().astype(np.float32))


def test_an_object_column_of_numbers_is_scaled_on_its_own() -> None:
    # on its own (no Workflow converting dtypes) the op refused an object column of Python numbers as "str values"
    df = pd.DataFrame({"a": pd.Series([4, None, -2, 10], dtype=object)})
    out = ops.NormalizeMinMax().fit(df, ["a"]).transform(df, ["a"])["a"].to_numpy(dtype=np.float64)
    want = MinMaxScaler().fit_transform(df.to_numpy(dtype=float, na_value=np.nan)).ravel()
    np.testing.assert_allclose(out, want, rtol=1e-6, equal_nan=True)


def test_values_scaling_beyond_float32_at_transform_are_a_data_error_naming_the_column() -> None:
    """Fitted on [0, 1], -1e300 scales to -1e300: its float32 output was -inf, silently."""
    import pytest

    from gpupipe.errors import DataError

    wf = gp.Workflow(["a"] >> ops.NormalizeMinMax()).fit(pd.DataFrame({"a": [0.0, 1.0]}))
    with pytest.raises(DataError, match=r"NormalizeMinMax: output column 'a' has 1 finite value.*-1e\+300 at row 0"):
        wf.transform(pd.DataFrame({"a": [-1e300, 0.5]}))
    np.testing.assert_array_equal(wf.transform(pd.DataFrame({"a": [np.inf, 3e38]}))["a"].to_numpy(),
                                  np.array([np.inf, 3e38], dtype=np.float32))
