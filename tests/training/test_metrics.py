"""Device metrics agree with scikit-learn's on the same predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from gpupipe.errors import DataError
from gpupipe.training.metrics import accuracy, compute_metrics, log_loss, mae, rmse, roc_auc


@st.composite
def scored_labels(draw, tied: bool):
    n = draw(st.integers(2, 300))
    labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < len(y)))
    if tied:  # few distinct values -> many ties
        scores = draw(st.lists(st.integers(0, 5).map(lambda v: v / 5), min_size=n, max_size=n))
    else:
        scores = draw(st.lists(st.floats(0, 1, allow_nan=False, width=32), min_size=n, max_size=n))
    return np.asarray(scores, dtype=np.float32), np.asarray(labels, dtype=np.float32)


@settings(max_examples=60, deadline=None)
@given(scored_labels(tied=False))
def test_auc_matches_sklearn_on_random_scores(data):
    scores, labels = data
    assert roc_auc(torch.from_numpy(scores), torch.from_numpy(labels)).item() == pytest.approx(
        skm.roc_auc_score(labels, scores), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(scored_labels(tied=True))
def test_auc_matches_sklearn_with_ties(data):
    scores, labels = data
    assert roc_auc(torch.from_numpy(scores), torch.from_numpy(labels)).item() == pytest.approx(
        skm.roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logloss_and_accuracy_match_sklearn_including_clipped_extremes(dtype):
    rng = np.random.default_rng(3)
    p = rng.uniform(size=5000).astype(dtype)
    p[:10] = 0.0  # clipped to eps of the dtype, as scikit-learn does
    p[10:20] = 1.0
    p[20:30] = 0.5  # exactly 0.5 predicts the negative class, like a classifier's predict
    y = (rng.uniform(size=5000) < 0.4).astype(np.float32)
    tp, ty = torch.from_numpy(p), torch.from_numpy(y)
    # scikit-learn sums float32 input in float32; ours sums in float64, hence the looser float32 tolerance
    rel = 1e-10 if dtype is np.float64 else 1e-6
    assert log_loss(tp, ty).item() == pytest.approx(skm.log_loss(y, p), rel=rel)
    assert accuracy(tp, ty).item() == pytest.approx(skm.accuracy_score(y, p > 0.5))


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(4)
    y = rng.normal(size=3000)
    pred = y + rng.normal(scale=0.5, size=3000)
    assert rmse(torch.from_numpy(pred), torch.from_numpy(y)).item() == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, pred)), rel=1e-12)
    assert mae(torch.from_numpy(pred), torch.from_numpy(y)).item() == pytest.approx(
        skm.mean_absolute_error(y, pred), rel=1e-12)


def test_compute_metrics_accepts_numpy_and_readonly_pandas_arrays():
    rng = np.random.default_rng(5)
    s = pd.Series(rng.uniform(size=400))
    y = pd.Series((rng.uniform(size=400) < 0.5).astype("float32"))
    out = compute_metrics(s.to_numpy(), y, "binary")  # pandas 3 gives read-only arrays
    assert out["auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert out["logloss"] == pytest.approx(skm.log_loss(y, s))
    assert set(compute_metrics(s.to_numpy(), y.to_numpy(), "regression")) == {"rmse", "mae"}


def test_single_class_auc_is_nan_with_warning():
    with pytest.warns(RuntimeWarning, match="only one class"):
        out = compute_metrics(torch.rand(10), torch.ones(10), "binary")
    assert np.isnan(out["auc"])


def test_bad_inputs_raise_data_error():
    with pytest.raises(DataError, match="same rows"):
        roc_auc(torch.rand(5), torch.ones(4))
    with pytest.raises(DataError, match="empty"):
        compute_metrics(torch.zeros(0), torch.zeros(0), "binary")
    with pytest.raises(ValueError, match="task"):
        compute_metrics(torch.rand(3), torch.ones(3), "multiclass")


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_nan_or_inf_scores_are_refused_as_scikit_learn_refuses_them(task):
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    for bad, word in ((np.nan, "1 NaN scores"), (np.inf, "1 ±inf scores")):
        s = np.array([0.1, bad, 0.35, 0.8, 0.7])
        sk = skm.roc_auc_score if task == "binary" else skm.mean_squared_error
        with pytest.raises(ValueError, match=r"Input contains (NaN|infinity)"):
            sk(y, s)
        with pytest.raises(DataError) as exc:
            compute_metrics(torch.tensor(s), torch.tensor(y), task)
        msg = str(exc.value)
        assert word in msg and "of 5 rows" in msg and "model produced" in msg
        assert "ops.FillMissing" in msg and "learning rate" in msg  # why a model does that, and what to do


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # scikit-learn's own cast
def test_nan_labels_are_refused():
    s = torch.tensor([0.1, 0.4, 0.35, 0.8])
    with pytest.raises(ValueError, match="contains NaN"):
        skm.log_loss(np.array([0.0, np.nan, 1.0, 1.0]), s.numpy())
    with pytest.raises(DataError, match=r"the labels hold 1 NaN values \(of 4 rows\)"):
        compute_metrics(s, torch.tensor([0.0, float("nan"), 1.0, 1.0]), "binary")


def test_the_nan_check_reads_back_with_the_metrics_in_one_transfer(monkeypatch):
    reads = []
    real = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "tolist", lambda self: reads.append(1) or real(self))
    compute_metrics(torch.rand(50), (torch.rand(50) > 0.5).float(), "binary")
    assert len(reads) == 1


@pytest.mark.parametrize("labels", [[0.0, 2.0, 1.0, 0.0], [-1.0, 1.0, 1.0, -1.0], [0.0, 0.5, 1.0, 0.0]])
def test_binary_metrics_refuse_labels_other_than_0_and_1(labels):
    s = np.array([0.1, 0.8, 0.7, 0.2], dtype=np.float32)
    y = np.array(labels, dtype=np.float32)
    if labels[0] == -1.0:
        # the cross-entropy of -1/1 labels is no log loss: -0.669 (compute_metrics reported it), where
        # scikit-learn, which takes the two values as the classes, gives 0.227
        assert log_loss(torch.from_numpy(s), torch.from_numpy(y)).item() == pytest.approx(-0.6688, abs=1e-4)
        assert skm.log_loss(y, s) == pytest.approx(0.2271, abs=1e-4)
    with pytest.raises(DataError, match=r"1 of 4 labels are neither 0 nor 1.*encode the label as 0/1"
                       if labels[0] != -1.0 else r"2 of 4 labels are neither 0 nor 1"):
        compute_metrics(torch.from_numpy(s), torch.from_numpy(y), "binary")
    compute_metrics(torch.from_numpy(s), torch.from_numpy(y), "regression")  # any targets for regression


def test_binary_metrics_refuse_scores_outside_0_1_as_scikit_learn_does():
    y = np.array([1.0, 0.0, 1.0])
    logits = np.array([1.5, -0.5, 0.3])
    with pytest.raises(ValueError, match="greater than 1"):
        skm.log_loss(y, logits)
    with pytest.raises(DataError, match=r"2 of 3 scores lie outside \[0, 1\].*torch.sigmoid"):
        compute_metrics(torch.tensor(logits), torch.tensor(y), "binary")
    # bool and integer 0/1 labels are fine, with the same values as float ones
    s = torch.tensor([0.1, 0.8, 0.3])
    want = compute_metrics(s, torch.tensor([0.0, 1.0, 1.0]), "binary")
    assert compute_metrics(s, torch.tensor([False, True, True]), "binary") == want
    assert compute_metrics(s, torch.tensor([0, 1, 1]), "binary") == want
