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


@pytest.mark.parametrize("indicator", [False, True])
def test_column_wise_chain_equals_the_ops_applied_to_the_whole_frame(indicator):
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame({k: pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(-3, 500, n)), dtype="Int32")
                       for k in ("p", "q", "r")})
    chain = [ops.FillMissing(fill_value=0, add_indicator=indicator), ops.Clip(lower=0), ops.LogOp(), ops.Normalize()]
    cols = ["p", "q", "r"]
    wf = gp.Workflow(cols >> chain[0] >> chain[1] >> chain[2] >> chain[3])
    out = wf.fit(df).transform(df)
    # the same ops by hand, each on the whole frame
    x = df
    for op in chain[:3]:
        x = op.transform(x, cols)
    norm = ops.Normalize().fit(x, cols)
    want = norm.transform(x, cols)
    for c in cols:
        np.testing.assert_array_equal(out[c].to_numpy(), want[c].to_numpy())
    assert list(out.columns) == wf.output_columns


def test_column_wise_chain_error_names_the_column():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, -4.0]})
    wf = gp.Workflow(["a", "b"] >> ops.FillMissing(fill_value=0) >> ops.LogOp())
    with pytest.raises(gp.DataError, match="LogOp: column 'b' has 1 negative"):
        wf.fit(df).transform(df)
