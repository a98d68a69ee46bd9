"""Normalize: standardise to zero mean and unit (population) standard deviation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backend import array_namespace
from ..backend import frame as F
from .base import ColumnInfo, StatOp, register_op

__all__ = ["Normalize", "moments", "overflow_error"]

#: what to do about values that scale beyond float32 (values at transform far outside those fitted)
_FAR = ("the values lie far outside those the op was fitted on; bound the column to the fitted range first "
        "(ops.Clip before it) or fit on data that covers them")


def moments(frame: Any, columns: Sequence[str], op: str) -> dict[str, tuple[int, float, float, float, float]]:
    """Per column: (count, mean, sum of squared deviations, min, max) of the non-missing values.

    Infinite values raise DataError naming the column (they would turn every statistic into inf/NaN).
    """
    return {c: F.column_moments(frame[c], c, op) for c in columns}


def overflow_error(op: str, column: str, lo: float, hi: float, what: str) -> Exception:
    """The DataError for finite values whose statistics are not finite in float64 (their squares or sums pass
    1.8e308)."""
    from ..errors import DataError

    msg = (f"{op}: column {column!r} holds values too large for their {what} in float64 (from {lo:.3g} to "
           f"{hi:.3g}); scale them down first (for example divide the column by 1e300 before the workflow, or "
           f"apply ops.LogOp to positive values)")
    return DataError(msg)


@register_op
class Normalize(StatOp):
    """``(x - mean) / std`` with the population standard deviation, output float32.

    Statistics ignore missing values, and missing values stay missing (NaN). A constant column
    (min == max) gets std 1, so it maps to 0.0 (scikit-learn's ``_handle_zeros_in_scale``); an
    all-missing column gets mean 0 and std 1. Partition statistics are combined with Chan's
    parallel update, so a ``gp.Dataset`` fit equals the in-memory fit up to float rounding
    (relative difference ~1e-15).

    Attributes
    ----------
    means_, stds_ : dict of str to float

    Raises
    ------
    DataError
        At fit, if a column holds an infinite value, or values so large that their mean or standard
        deviation overflows float64 (``[1e160, -1e160]``: the squares pass 1.8e308).

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"a": [1.0, 3.0]})
    >>> ops.Normalize().fit(df, ["a"]).transform(df, ["a"])["a"].tolist()
    [-1.0, 1.0]
    """

    columnwise = True

    def __init__(self) -> None:
        pass

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("float32", "cont") for c in columns}

    def partial_fit(self, frame: Any, columns: Sequence[str]) -> Any:
        self._require(frame, columns, "Normalize")
        F.require_kinds(frame, columns, "Normalize", F.NUMERIC_KINDS, "Encode text with ops.Categorify instead")
        return moments(frame, columns, "Normalize")

    def combine(self, partials: list[Any]) -> Any:
        return F.combine_moments(partials)

    def finalize(self, combined: Any, columns: Sequence[str]) -> None:
        self.means_, self.stds_ = {}, {}
        for c in columns:
            n, mean, m2, lo, hi = combined[c]
            if n and not (math.isfinite(mean) and math.isfinite(m2)):
                raise overflow_error("Normalize", c, lo, hi, "mean or standard deviation")
            std = math.sqrt(m2 / n) if n else 1.0
            if n == 0 or lo == hi or std == 0.0:
                std = 1.0
            # A constant column's mean is its value, exactly (a float sum would be off by an ulp).
            self.means_[c] = (lo if lo == hi else mean) if n else 0.0
            self.stds_[c] = std

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self.check_fitted()
        self._require(frame, columns, "Normalize")
        F.require_kinds(frame, columns, "Normalize", F.NUMERIC_KINDS, "Encode text with ops.Categorify instead")
        return F.build_frame(frame, {c: self._standardized(frame[c], c) for c in columns})

    def _standardized(self, series: Any, column: str) -> Any:
        out = F.standardize(series, self.means_[column], self.stds_[column])
        xp = array_namespace(out)
        if bool(xp.isinf(out).any()):  # ±inf given, or finite values too far from the mean for float32: which?
            import numpy as np

            x = F.float_values(series)
            with np.errstate(over="ignore"):
                exact = (x - self.means_[column]) / self.stds_[column]
            F.float32_output(exact, column, "Normalize", _FAR, source=x)
        return out

    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"means": dict(self.means_), "stds": dict(self.stds_)}, {}

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        self.means_ = {str(k): float(v) for k, v in state["means"].items()}
        self.stds_ = {str(k): float(v) for k, v in state["stds"].items()}
