"""Metrics computed with torch ops on the predictions' device.

Binary tasks report ``auc`` (exact, rank-based, ties counted as one half, as scikit-learn's
``roc_auc_score``), ``logloss`` (probabilities clipped to ``[eps, 1 - eps]`` for their dtype's
``eps``, as scikit-learn's ``log_loss``) and ``accuracy`` (a positive prediction is a probability
above 0.5, as a classifier's ``predict``). Regression tasks report ``rmse`` and ``mae``.

Each metric function returns a 0-d tensor on the input's device, so nothing waits for the device
until :func:`compute_metrics` reads all of them back at once. NumPy and CuPy arrays are accepted
too (shared with torch through DLPack), which is how the baselines score with the same functions.
:func:`compute_metrics` refuses scores or labels holding NaN or ±inf with a ``DataError`` (as
scikit-learn's metrics do), rather than return a finite AUC and a NaN log loss: early stopping
then never picks an epoch on such a metric. For binary tasks it also refuses labels other than
0/1 and scores outside ``[0, 1]`` (logits passed for probabilities), which gave a meaningless,
even negative, log loss.

Examples
--------
>>> import torch
>>> from gpupipe.training.metrics import compute_metrics
>>> m = compute_metrics(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0.0, 0.0, 1.0, 1.0]), "binary")
>>> m["auc"], m["accuracy"]
(0.75, 0.75)
"""

from __future__ import annotations

import warnings
from typing import Any, NoReturn

import torch

from ..errors import DataError, ParameterError

__all__ = ["BINARY_METRICS", "REGRESSION_METRICS", "accuracy", "as_tensor", "compute_metrics", "log_loss", "mae",
           "rmse", "roc_auc"]

BINARY_METRICS = ("auc", "logloss", "accuracy")
REGRESSION_METRICS = ("rmse", "mae")
# Which way is better, for early stopping and "best epoch".
HIGHER_IS_BETTER = {"auc": True, "accuracy": True, "logloss": False, "rmse": False, "mae": False, "loss": False}


def as_tensor(x: Any) -> torch.Tensor:
    """A 1-D torch view of a tensor, NumPy/CuPy array or pandas/cuDF Series (zero-copy where possible)."""
    if isinstance(x, torch.Tensor):
        return x.reshape(-1)
    if hasattr(x, "to_cupy"):  # cuDF Series: a device array without leaving the GPU
        x = x.to_cupy()
    elif hasattr(x, "to_numpy"):  # pandas Series
        x = x.to_numpy()
    if hasattr(x, "__dlpack__"):
        try:
            return torch.from_dlpack(x).reshape(-1)
        except (BufferError, RuntimeError, TypeError):
            pass  # read-only or unusual arrays: fall back to one copy below
    import numpy as np

    return torch.as_tensor(np.asarray(x)).reshape(-1)


def _pair(pred: Any, label: Any) -> tuple[torch.Tensor, torch.Tensor]:
    p, y = as_tensor(pred), as_tensor(label)
    if p.shape != y.shape:
        msg = f"predictions have {p.numel()} values but labels have {y.numel()}; they must be the same rows"
        raise DataError(msg)
    if p.numel() == 0:
        raise DataError("no rows to score: the predictions and labels are empty; check the validation data")
    return p, y.to(p.device)


def roc_auc(scores: Any, labels: Any) -> torch.Tensor:
    """Area under the ROC curve, exact: ``P(score_pos > score_neg) + P(equal) / 2``.

    Groups equal scores (``torch.unique``), counts positives and negatives per group, and sums
    over positives the negatives ranked below plus half of the tied ones; float64 counts are
    exact up to 2**53 rows. Labels above 0.5 are positives. NaN if only one class is present.
    """
    s, y = _pair(scores, labels)
    pos = (y > 0.5).to(torch.float64)
    uniq, inverse = torch.unique(s.to(torch.float64), sorted=True, return_inverse=True)
    groups = uniq.numel()
    total = torch.bincount(inverse, minlength=groups).to(torch.float64)
    pos_c = torch.bincount(inverse, weights=pos, minlength=groups)
    neg_c = total - pos_c
    neg_below = torch.cumsum(neg_c, 0) - neg_c
    num = (pos_c * (neg_below + 0.5 * neg_c)).sum()
    return num / (pos_c.sum() * neg_c.sum())


def log_loss(probs: Any, labels: Any) -> torch.Tensor:
    """Mean binary cross-entropy of probabilities, clipped to ``[eps, 1 - eps]`` of their dtype."""
    p, y = _pair(probs, labels)
    eps = torch.finfo(p.dtype).eps if p.is_floating_point() else torch.finfo(torch.float64).eps
    p = p.to(torch.float64).clamp(eps, 1 - eps)
    y = y.to(torch.float64)
    return -(y * torch.log(p) + (1 - y) * torch.log1p(-p)).mean()


def accuracy(probs: Any, labels: Any, threshold: float = 0.5) -> torch.Tensor:
    """Share of rows where ``prob > threshold`` agrees with ``label > 0.5``."""
    p, y = _pair(probs, labels)
    return ((p > threshold) == (y > 0.5)).to(torch.float64).mean()


def rmse(pred: Any, target: Any) -> torch.Tensor:
    """Root mean squared error (float64)."""
    p, y = _pair(pred, target)
    return torch.sqrt(((p.to(torch.float64) - y.to(torch.float64)) ** 2).mean())


def mae(pred: Any, target: Any) -> torch.Tensor:
    """Mean absolute error (float64)."""
    p, y = _pair(pred, target)
    return (p.to(torch.float64) - y.to(torch.float64)).abs().mean()


def metric_tensors(pred: Any, label: Any, task: str) -> dict[str, torch.Tensor]:
    """The task's metrics as 0-d device tensors (no host sync)."""
    if task == "binary":
        return {"auc": roc_auc(pred, label), "logloss": log_loss(pred, label), "accuracy": accuracy(pred, label)}
    if task == "regression":
        return {"rmse": rmse(pred, label), "mae": mae(pred, label)}
    msg = f"task {task!r} has no metrics; choose 'binary' or 'regression'"
    raise ParameterError(msg)


def _non_finite_error(rows: int, p_nan: int, p_inf: int, y_nan: int, y_inf: int) -> NoReturn:
    """The DataError for scores or labels holding NaN/inf (scikit-learn refuses them too: "Input contains NaN")."""
    if p_nan or p_inf:
        what = " and ".join(t for t in (f"{p_nan} NaN" if p_nan else "", f"{p_inf} ±inf" if p_inf else "") if t)
        msg = (f"the model produced {what} scores (of {rows} rows), so no metric can be computed from them. A model "
               "gives NaN scores when its input holds NaN/inf (fill continuous columns with ops.FillMissing or "
               "ops.FillMedian, or drop those rows; gp.Loader refuses such frames) or when its weights became NaN/inf "
               "during training (lower the learning rate lr, or turn off amp)")
    else:
        what = " and ".join(t for t in (f"{y_nan} NaN" if y_nan else "", f"{y_inf} ±inf" if y_inf else "") if t)
        msg = (f"the labels hold {what} values (of {rows} rows), so no metric can be computed from them; drop or "
               "fill those rows before scoring")
    raise DataError(msg)


def _binary_input_error(rows: int, odd_labels: int, odd_scores: int) -> NoReturn:
    """The DataError for binary metrics given labels other than 0/1 or scores that are not probabilities."""
    if odd_labels:
        msg = (f"{odd_labels} of {rows} labels are neither 0 nor 1, but binary metrics need 0/1 labels (a label of 2 "
               "or -1 would give a negative or meaningless log loss); encode the label as 0/1, or score with "
               "task='regression'")
    else:
        msg = (f"{odd_scores} of {rows} scores lie outside [0, 1], but binary metrics take probabilities of the "
               "positive class; pass torch.sigmoid(logits) (gp.predict returns probabilities), not the model's logits")
    raise DataError(msg)


def compute_metrics(pred: Any, label: Any, task: str) -> dict[str, float]:
    """The task's metrics as Python floats, read back from the device in one transfer.

    Parameters
    ----------
    pred : tensor or array
        Probabilities of the positive class (``binary``) or predicted values (``regression``).
    label : tensor or array
        0/1 labels or targets, same length.
    task : {"binary", "regression"}

    Raises
    ------
    DataError
        ``pred`` or ``label`` holds NaN or ±inf (refused as scikit-learn's metrics refuse them,
        "Input contains NaN": an AUC of such scores would rank NaN arbitrarily and the log loss
        would be NaN); or they are empty or of different lengths; or, for ``binary``, a label is
        not 0 or 1 or a score lies outside ``[0, 1]`` (scikit-learn's ``log_loss`` refuses such
        scores too; a label of 2 or -1 gave a negative log loss).
    """
    tensors = metric_tensors(pred, label, task)
    p, y = _pair(pred, label)
    # NaN/inf counts of the scores and labels travel with the metrics: still one read-back
    counts = [torch.isnan(p).sum(), torch.isinf(p).sum(), torch.isnan(y).sum(), torch.isinf(y).sum()]
    if task == "binary":  # labels other than 0/1 and scores outside [0, 1]: the log loss would be meaningless
        counts += [((y != 0) & (y != 1)).sum(), ((p < 0) | (p > 1)).sum()]
    values = torch.stack([*tensors.values(), *(c.to(torch.float64) for c in counts)]).tolist()  # the one read
    found = [int(v) for v in values[len(tensors):]]
    if any(found[:4]):
        _non_finite_error(int(p.numel()), *found[:4])
    if any(found[4:]):
        _binary_input_error(int(p.numel()), *found[4:])
    out = dict(zip(tensors, (float(v) for v in values[:len(tensors)]), strict=True))
    if task == "binary" and out["auc"] != out["auc"]:
        warnings.warn("AUC is undefined (NaN): the labels hold only one class", RuntimeWarning, stacklevel=2)
    return out
