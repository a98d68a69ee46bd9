"""cuML baselines for the cudf backend (cuML's estimators mirror scikit-learn's parameters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._generic import build_estimator, estimator_input, make_estimator, sparse_module

if TYPE_CHECKING:
    from types import ModuleType

    import cudf
    import cupy
    import cupyx.scipy.sparse

DEFAULTS: dict[str, dict[str, Any]] = {
    "logistic": {"C": 1.0, "max_iter": 200, "tol": 1e-3},
    "random_forest": {"n_estimators": 12, "max_depth": 10, "min_samples_leaf": 20, "max_samples": 0.2,
                      "max_features": "sqrt",
                      "n_bins": 128},
    "linear": {},
    "ridge": {"alpha": 1.0},
}


@estimator_input.register("cudf")
def _baseline_input_cudf(kind: str, x: cupyx.scipy.sparse.csr_matrix | cupy.ndarray) -> Any:
    """cuML's Ridge, LinearRegression and LogisticRegression take CSR input (``linear_model/ridge.pyx``,
    ``linear_regression.pyx``: ``accept_sparse=True``; ``solvers/qn.pyx``: ``accept_sparse="csr"``), so the one-hot
    matrix is never densified on the device; only its index arrays narrow to int32, which every cuML solver takes."""
    import cupy
    import cupyx.scipy.sparse

    if not isinstance(x, cupyx.scipy.sparse.csr_matrix) or x.nnz >= 2**31 - 1:
        return x
    return cupyx.scipy.sparse.csr_matrix((x.data, x.indices.astype(cupy.int32), x.indptr.astype(cupy.int32)),
                                         shape=x.shape)


@sparse_module.register("cudf")
def _baseline_sparse_cudf(frame: cudf.DataFrame) -> ModuleType:
    import cupyx.scipy.sparse

    return cupyx.scipy.sparse


@make_estimator.register("cudf")
def _baseline_estimator_cudf(kind: str, task: str, params: dict[str, Any], seed: int) -> Any:
    from cuml import ensemble, linear_model

    return build_estimator(linear_model, ensemble, DEFAULTS, kind, task, params, seed)
