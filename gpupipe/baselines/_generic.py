"""Generic functions behind gp.baselines, with per-backend implementations loaded on first use."""

from __future__ import annotations

from ..backend import Dispatch

__all__ = ["column_array", "make_estimator", "sparse_module"]

column_array = Dispatch("baseline_column", "One column as a float64 NumPy/CuPy array, nulls as NaN.")
make_estimator = Dispatch("baseline_estimator", "A fresh estimator for (kind, task, params, seed).")
sparse_module = Dispatch("baseline_sparse", "scipy.sparse or cupyx.scipy.sparse.")

for _generic in (column_array, make_estimator, sparse_module):
    _generic.register_lazy("pandas", "gpupipe.baselines._sklearn")
    _generic.register_lazy("cudf", "gpupipe.baselines._cuml")
