"""Generic functions behind gp.baselines, with per-backend implementations loaded on first use."""

from __future__ import annotations

from typing import Any

from ..backend import Dispatch

__all__ = ["build_estimator", "estimator_input", "make_estimator", "sparse_module"]

make_estimator = Dispatch("baseline_estimator", "A fresh estimator for (kind, task, params, seed).")
sparse_module = Dispatch("baseline_sparse", "scipy.sparse or cupyx.scipy.sparse.")
estimator_input = Dispatch(
    "baseline_input", "The design matrix in the form the backend's estimator of ``kind`` takes (sparse where it can).")

for _generic in (make_estimator, sparse_module, estimator_input):
    _generic.register_lazy("pandas", "gpupipe.baselines._sklearn")
    _generic.register_lazy("cudf", "gpupipe.baselines._cuml")


def build_estimator(linear_model: Any, ensemble: Any, defaults: dict[str, dict[str, Any]], kind: str, task: str,
                    params: dict[str, Any], seed: int) -> Any:
    """Instantiate ``kind`` from a library whose modules mirror scikit-learn's (scikit-learn itself, cuML)."""
    kw = {**defaults[kind], **params}
    if kind == "logistic":
        return linear_model.LogisticRegression(**kw)
    if kind == "random_forest":
        kw.setdefault("random_state", seed)
        cls = ensemble.RandomForestClassifier if task == "binary" else ensemble.RandomForestRegressor
        return cls(**kw)
    if kind == "linear":
        return linear_model.LinearRegression(**kw)
    return linear_model.Ridge(**kw)
