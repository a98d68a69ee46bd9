"""Normalize against scikit-learn's StandardScaler (population std), degenerate columns included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError


def _frame(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame({
        "f": np.where(rng.random(n) < 0.1, np.nan, rng.normal(loc=100, scale=7, size=n)),
        "i": pd.array(rng.integers(0, 1000, n), dtype="Int64"),
        "const": np.full(n, 3.25),
    })


def test_matches_standard_scaler(backend: str) -> None:
    df = _frame()
    op = ops.Normalize().fit(gp.from_pandas(df), list(df.columns))
    out = gp.to_pandas(op.transform(gp.from_pandas(df), list(df.columns)))
    x = df.to_numpy(dtype=float, na_value=np.nan)
    sk = StandardScaler().fit(x)  # ignores NaN in fit, keeps NaN in transform
    np.testing.assert_allclose([op.means_[c] for c in df.columns], sk.mean_, rtol=1e-12)
    np.testing.assert_allclose([op.stds_[c] for c in df.columns], sk.scale_, rtol=1e-12)
    np.testing.assert_allclose(out.to_numpy(dtype=float), sk.transform(x), rtol=1e-6, atol=1e-6)
    assert all(out[c].dtype == np.float32 for c in out.columns)


def test_constant_column_maps_to_zero() -> None:
    df = pd.DataFrame({"c": [0.1] * 7})  # 0.1 is inexact: a naive variance would be ~1e-34, not 0
    out = ops.Normalize().fit(df, ["c"]).transform(df, ["c"])["c"].to_numpy()
    np.testing.assert_array_equal(out, np.zeros(7, dtype=np.float32))


def test_all_null_column_has_finite_statistics() -> None:
    df = pd.DataFrame({"n": [np.nan] * 4, "x": [1.0, 2.0, 3.0, 4.0]})
    op = ops.Normalize().fit(df, ["n", "x"])
    assert (op.means_["n"], op.stds_["n"]) == (0.0, 1.0)
    assert op.transform(df, ["n"])["n"].isna().all()  # missing stays missing


def test_infinite_value_raises_naming_column() -> None:
    with pytest.raises(DataError, match="'x'"):
        ops.Normalize().fit(pd.DataFrame({"x": [1.0, np.inf]}), ["x"])


def test_transform_before_fit() -> None:
    with pytest.raises(gp.NotFittedError):
        ops.Normalize().transform(_frame(), ["f"])


@pytest.mark.parametrize("values", [[1e160, -1e160], [1e308, 1e308, 1.0], [1e200, 2e200, 3e200]])
def test_statistics_that_overflow_are_a_data_error_naming_the_column(values: list[float]) -> None:
    """Finite values whose squares (or sum) pass 1.8e308: the mean or std is not finite in float64, which would
    give 0 or NaN everywhere; refused like an infinite value, in memory and on partitions."""
    df = pd.DataFrame({"big": values})
    for data in (df, gp.Dataset(df, partition_rows=1)):
        with pytest.raises(DataError, match=r"Normalize: column 'big' holds values too large"):
            gp.Workflow(["big"] >> ops.Normalize()).fit(data)


@pytest.mark.parametrize("values", [[1e308, 1e308, 1e308], [-1.5e308, np.nan, -1.5e308], [1.7e308] * 5])
def test_a_constant_column_whose_sum_overflows_fits_as_on_partitions(values: list[float]) -> None:
    """The values' sum passes 1.8e308 but their mean and std (0) do not: the in-memory fit gives the mean and 0 as a
    partitioned fit does (it refused the column as too large, while partition_rows=1 fitted it)."""
    df = pd.DataFrame({"big": values})
    for data in (df, gp.Dataset(df, partition_rows=1), gp.Dataset(df, partition_rows=2)):
        wf = gp.Workflow(["big"] >> ops.Normalize()).fit(data)
        op = wf.nodes[0].ops[0]
        assert op.means_["big"] == np.nanmax(values)
        assert op.stds_["big"] == 1.0
        np.testing.assert_array_equal(wf.transform(df)["big"].to_numpy(), np.where(np.isnan(values), np.nan, 0.0))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the DataError alone: no NumPy warning first
def test_values_scaling_beyond_float32_at_transform_are_a_data_error_naming_the_column() -> None:
    """Fitted on [0, 1], 1e300 standardises to 2e300: its float32 output was inf, silently (the Workflow refuses such
    values from every op that outputs float64); ±inf given stays ±inf, as StandardScaler keeps it."""
    wf = gp.Workflow(["a"] >> ops.Normalize()).fit(pd.DataFrame({"a": [0.0, 1.0]}))
    with pytest.raises(DataError, match=r"Normalize: output column 'a' has 1 finite value.*2e\+300 at row 1.*ops\.Clip"):
        wf.transform(pd.DataFrame({"a": [0.5, 1e300, np.nan]}))
    out = wf.transform(pd.DataFrame({"a": [np.inf, -np.inf, 1e38, np.nan]}))["a"].to_numpy()
    np.testing.assert_array_equal(out, np.array([np.inf, -np.inf, 2e38, np.nan], dtype=np.float32))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the DataError alone: no NumPy warning first
def test_values_scaling_beyond_float64_at_transform_are_a_data_error_too() -> None:
    """-1.7e308 after a fit on [0, 1] standardises past even float64's range: that inf is no input inf either."""
    wf = gp.Workflow(["a"] >> ops.Normalize()).fit(pd.DataFrame({"a": [0.0, 1.0]}))
    with pytest.raises(DataError, match=r"Normalize: output column 'a' has 1 finite value.*-1\.7e\+308 given at row 0"):
        wf.transform(pd.DataFrame({"a": [-1.7e308]}))
    wf = gp.Workflow(["a"] >> ops.NormalizeMinMax()).fit(pd.DataFrame({"a": [0.0, 1e-300]}))
    with pytest.raises(DataError, match=r"NormalizeMinMax: output column 'a' has 1 finite value.*10000000000\.0 given at row 1"):
        wf.transform(pd.DataFrame({"a": [0.0, 1e10]}))
