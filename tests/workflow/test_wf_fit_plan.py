"""Workflow.fit transforms only what a later statistic op reads; its statistics stay those of fit_transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops


class _Counting(ops.Clip):
    """Clip that counts its transforms (not registered: these workflows are never saved)."""

    calls = 0

    def transform(self, frame, columns):
        type(self).calls += 1
        return super().transform(frame, columns)


def _frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.normal(size=n),
        "c": pd.array(rng.integers(0, 9, n), dtype="Int32"), "y": rng.integers(0, 2, n),
    })


def test_fit_skips_transforms_no_later_fit_reads():
    _Counting.calls = 0
    wf = gp.Workflow(["a"] >> _Counting(lower=0) >> ops.LogOp(), ["c"] >> ops.Categorify(), label="y")
    wf.fit(_frame())
    assert _Counting.calls == 0  # nothing fitted after it reads "a"
    wf.transform(_frame())
    assert _Counting.calls == 1


def test_fit_runs_transforms_a_later_fit_reads_and_matches_fit_transform():
    df = _frame()
    _Counting.calls = 0
    wf = gp.Workflow(["a"] >> _Counting(lower=0) >> ops.LogOp() >> ops.Normalize(),
                     ["b"] >> ops.Normalize(), ["c"] >> ops.Categorify(), label="y")
    out = wf.fit(df).transform(df)
    assert _Counting.calls == 2  # once to fit Normalize on its output, once to transform
    ref = gp.Workflow(["a"] >> ops.Clip(lower=0) >> ops.LogOp() >> ops.Normalize(),
                      ["b"] >> ops.Normalize(), ["c"] >> ops.Categorify(), label="y").fit_transform(df)
    pd.testing.assert_frame_equal(out, ref)


def test_row_dropping_step_always_runs_before_a_later_fit():
    df = _frame()
    df.loc[::3, "b"] = np.nan
    wf = gp.Workflow(["b"] >> ops.Dropna(), ["a"] >> ops.Normalize())
    wf.fit(df)
    kept = df["a"][df["b"].notna()]
    norm = wf.ops[-1]
    assert norm.means_["a"] == pytest.approx(kept.mean(), rel=1e-12)  # fitted on the rows Dropna kept
