"""FillMedian: replace missing values with each column's median, computed exactly across partitions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backend import array_namespace
from ..backend import frame as F
from .base import ColumnInfo, StatOp, register_op
from .fill_missing import INDICATOR_SUFFIX, indicator_names

__all__ = ["FillMedian"]


@register_op
class FillMedian(StatOp):
    """Replace missing values (nulls and NaN) with the column's median.

    The median is exact on every partitioning: each partition contributes the counts of its
    distinct values, the counts are summed, and the median is read off the merged counts (the
    mean of the two middle values for an even count, as :func:`numpy.median`). Partials hold one
    entry per distinct value, so their size grows with a column's cardinality, not its length.

    An all-missing column has no median; it is filled with 0.0 (scikit-learn's
    ``SimpleImputer(strategy="median", keep_empty_features=True)`` does the same).

    Parameters
    ----------
    add_indicator : bool, default False
        Also output ``<column>_missing`` (float32, 1.0 where the value was missing).

    Attributes
    ----------
    medians_ : dict of str to float
        The fill value of each column.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"a": [1.0, None, 3.0, 10.0]})
    >>> op = ops.FillMedian().fit(df, ["a"])
    >>> op.medians_, op.transform(df, ["a"])["a"].tolist()
    ({'a': 3.0}, [1.0, 3.0, 3.0, 10.0])
    """

    def __init__(self, add_indicator: bool = False) -> None:
        self.add_indicator = add_indicator

    def _check_params(self) -> None:
        from .. import _validate as V

        self.add_indicator = V.flag(self.add_indicator, "add_indicator", "FillMedian")

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        cols = list(columns)
        return cols + indicator_names(self, cols) if self.add_indicator else cols

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        # ids (role cat) have no nulls, and a median of ids lies among them: the cardinality holds
        out = {c: ColumnInfo("float64", info[c].role, info[c].cardinality, info[c].vocabulary) for c in columns}
        if self.add_indicator:
            out.update({c + INDICATOR_SUFFIX: ColumnInfo("float32", "cont") for c in columns})
        return out

    def partial_fit(self, frame: Any, columns: Sequence[str]) -> dict[str, tuple[Any, Any]]:
        frame = self._inputs(frame, columns, "FillMedian")
        F.require_kinds(frame, columns, "FillMedian", F.NUMERIC_KINDS, "Use ops.FillMissing with a string for text columns")
        # counted where the data lives; only the distinct values and their counts come back (partials are small)
        return {c: F.float_value_counts(frame[c]) for c in columns}

    def combine(self, partials: list[dict[str, tuple[Any, Any]]]) -> dict[str, tuple[Any, Any]]:
        import numpy as np

        out = {}
        for c in partials[0]:
            values = np.concatenate([p[c][0] for p in partials])
            counts = np.concatenate([p[c][1] for p in partials])
            uniq, inverse = np.unique(values, return_inverse=True)
            out[c] = (uniq, np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64))
        return out

    def finalize(self, combined: dict[str, tuple[Any, Any]], columns: Sequence[str]) -> None:
        import numpy as np

        medians = {}
        for c in columns:
            values, counts = combined[c]
            n = int(counts.sum())
            if n == 0:
                medians[c] = 0.0
                continue
            ends = np.cumsum(counts)  # value i covers sorted positions [ends[i-1], ends[i])
            lo = float(values[np.searchsorted(ends, (n - 1) // 2, side="right")])
            hi = float(values[np.searchsorted(ends, n // 2, side="right")])
            mid = (lo + hi) / 2.0  # numpy.median's arithmetic, to the bit
            if not math.isfinite(mid):  # two middle values above 9e307 overflow their sum; their halves add exactly
                mid = lo / 2.0 + hi / 2.0
            medians[c] = mid
        self.medians_ = medians

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self.check_fitted()
        frame = self._inputs(frame, columns, "FillMedian")
        # as at fit: timestamps, timedeltas and complex numbers would otherwise be read as numbers (NaT as -2**63)
        F.require_kinds(frame, columns, "FillMedian", F.NUMERIC_KINDS, "Use ops.FillMissing with a string for text columns")
        self.output_columns(columns)  # indicator names must not be selected columns
        data: dict[str, Any] = {}
        indicators: dict[str, Any] = {}
        for c in columns:
            x = F.float_values(frame[c])
            missing = x != x
            if self.add_indicator:
                indicators[c + INDICATOR_SUFFIX] = missing.astype("float32")
            data[c] = array_namespace(x).where(missing, self.medians_[c], x)  # x may be a read-only view
        data.update(indicators)
        return F.build_frame(frame, data)

    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"medians": dict(self.medians_)}, {}

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        self.medians_ = {str(k): float(v) for k, v in state["medians"].items()}
