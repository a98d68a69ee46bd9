"""Properties over generated data: partition-independent fits, row-wise transforms, lossless saves,
finite statistics for constant and all-null columns."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest
from helpers import assert_frame_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpupipe as gp
from gpupipe import ops

_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 1) -> pd.DataFrame:
    n = draw(st.integers(min_rows, 60))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    null_rate = draw(st.sampled_from([0.0, 0.3, 1.0]))  # 1.0: all-null columns
    const = draw(st.booleans())
    x = rng.normal(scale=draw(st.sampled_from([1e-3, 1.0, 1e6])), size=n)
    if const:
        x[:] = x[0] if n else 0.0
    x[rng.random(n) < null_rate] = np.nan
    cnt = rng.integers(0, draw(st.integers(1, 1000)), n)
    return pd.DataFrame({
        "x": x,
        "cnt": pd.array(np.where(rng.random(n) < null_rate, None, cnt), dtype="Int64"),
        "s": pd.array(rng.choice(["a", "b", "c", "d", "e"], n), dtype="str"),
        "y": rng.integers(0, 2, n).astype(np.float64),
    })


def _workflow() -> gp.Workflow:
    return gp.Workflow(
        ["cnt"] >> ops.FillMedian() >> ops.Clip(lower=0) >> ops.LogOp() >> ops.Normalize(),
        ["x"] >> ops.Rename(postfix="_mm") >> ops.NormalizeMinMax(),
        ["x"] >> ops.FillMissing(fill_value=0, add_indicator=True) >> ops.Normalize(),
        ["s"] >> ops.Categorify(),
        label="y",
    )


def _stats(wf: gp.Workflow) -> list[tuple[str, dict]]:
    names = ("medians_", "means_", "stds_", "mins_", "ranges_")
    return [(n, getattr(op, n)) for op in wf.ops for n in names if hasattr(op, n)]


@pytest.mark.slow  # ~0.5 s per example: Dask graphs per fit
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames(), parts=st.integers(1, 9))
def test_any_partitioning_fits_like_in_memory(df: pd.DataFrame, parts: int) -> None:
    rows = max(1, -(-len(df) // parts))
    mem = _workflow().fit(df)
    lazy = _workflow().fit(gp.Dataset(df, partition_rows=rows))
    for (name, a), (_, b) in zip(_stats(mem), _stats(lazy), strict=True):
        assert a.keys() == b.keys()
        for c in a:
            if name in ("medians_", "mins_"):
                assert a[c] == b[c], (name, c)  # exact: no arithmetic across partitions
            else:
                np.testing.assert_allclose(a[c], b[c], rtol=1e-12, atol=1e-300, err_msg=f"{name} {c}")
    assert mem.output_schema == lazy.output_schema
    assert_frame_equal(lazy.transform(gp.Dataset(df, partition_rows=rows)).to_frame(), mem.transform(df),
                       rtol=1e-5, atol=1e-6)


@_SETTINGS
@given(train=frames(), a=frames(), b=frames())
def test_transform_is_row_wise(train: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame) -> None:
    wf = _workflow().fit(train)
    both = pd.concat([a, b], ignore_index=True)
    parts = pd.concat([wf.transform(a), wf.transform(b)], ignore_index=True)
    assert_frame_equal(wf.transform(both), parts)


@_SETTINGS
@given(train=frames(), new=frames())
def test_save_load_transform_identical(train: pd.DataFrame, new: pd.DataFrame) -> None:
    wf = _workflow().fit(train)
    with tempfile.TemporaryDirectory() as d:
        loaded = gp.Workflow.load(wf.save(f"{d}/wf"))
    assert loaded.output_schema == wf.output_schema
    assert_frame_equal(loaded.transform(new), wf.transform(new))


@_SETTINGS
@given(df=frames())
def test_statistics_always_finite_and_outputs_never_nan_from_degenerate_columns(df: pd.DataFrame) -> None:
    wf = _workflow()
    out = wf.fit_transform(df)
    for name, stats in _stats(wf):
        assert all(np.isfinite(v) for v in stats.values()), name
    assert all(v > 0 for _, s in _stats(wf) if _ in ("stds_", "ranges_") for v in s.values())
    # filled or encoded columns have no missing values at all, whatever the input
    for c in ("cnt", "x", "x_missing", "s"):
        assert np.isfinite(out[c].to_numpy(dtype=float)).all(), c
    # the min-max column is missing exactly where the input was, and in [0, 1] elsewhere
    mm = out["x_mm"].to_numpy()
    np.testing.assert_array_equal(np.isnan(mm), df["x"].isna().to_numpy())
    assert ((mm[~np.isnan(mm)] >= 0) & (mm[~np.isnan(mm)] <= 1)).all()
