"""cuML baselines for the cudf backend (cuML's estimators mirror scikit-learn's parameters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._generic import build_estimator, column_array, make_estimator, sparse_module

if TYPE_CHECKING:
    from types import ModuleType

    import cudf
    import cupy

DEFAULTS: dict[str, dict[str, Any]] = {
    "logistic": {"C": 1.0, "max_iter": 200, "tol": 1e-3},
    "random_forest": {"n_estimators": 12, "max_depth": 10, "min_samples_leaf": 20, "max_samples": 0.2,
                      "max_features": "sqrt",
                      "n_bins": 128},
    "linear": {},
    "ridge": {"alpha": 1.0},
}


@column_array.register("cudf")
def _baseline_column_cudf(frame: cudf.DataFrame, name: str) -> cupy.ndarray:
    import cupy as cp

    return frame[name].to_cupy(dtype="float64", na_value=cp.nan)


@sparse_module.register("cudf")
def _baseline_sparse_cudf(frame: cudf.DataFrame) -> ModuleType:
    import cupyx.scipy.sparse

    return cupyx.scipy.sparse


@make_estimator.register("cudf")
def _baseline_estimator_cudf(kind: str, task: str, params: dict[str, Any], seed: int) -> Any:
    from cuml import ensemble, linear_model

    return build_estimator(linear_model, ensemble, DEFAULTS, kind, task, params, seed)
