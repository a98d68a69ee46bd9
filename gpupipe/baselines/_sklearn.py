"""scikit-learn baselines for the pandas backend."""

from __future__ import annotations

from typing import Any

from ._generic import build_estimator, estimator_input, make_estimator, sparse_module

# Defaults chosen to fit ~250k rows in seconds on 2 cores; any of them can be overridden by params.
DEFAULTS: dict[str, dict[str, Any]] = {
    "logistic": {"C": 1.0, "max_iter": 200, "tol": 1e-3, "solver": "lbfgs"},
    "random_forest": {"n_estimators": 12, "max_depth": 10, "min_samples_leaf": 20, "max_samples": 0.2,
                      "max_features": "sqrt",
                      "n_jobs": -1},
    "linear": {},
    "ridge": {"alpha": 1.0},
}


@estimator_input.register("pandas")
def _baseline_input_pandas(kind: str, x: Any) -> Any:
    return x  # scikit-learn's estimators take the sparse one-hot matrix as it is


@sparse_module.register("pandas")
def _baseline_sparse_pandas(frame: Any) -> Any:
    import scipy.sparse

    return scipy.sparse


@make_estimator.register("pandas")
def _baseline_estimator_pandas(kind: str, task: str, params: dict[str, Any], seed: int) -> Any:
    import importlib

    from sklearn import linear_model

    # sklearn.ensemble only for the forests: the linear baselines need not import it
    ensemble = importlib.import_module("sklearn.ensemble") if kind == "random_forest" else None
    return build_estimator(linear_model, ensemble, DEFAULTS, kind, task, params, seed)
