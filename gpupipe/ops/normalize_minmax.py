"""NormalizeMinMax: scale to [0, 1] by the fitted minimum and range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backend import frame as F
from .base import ColumnInfo, StatOp, register_op
from .normalize import _FAR, moments, overflow_error

__all__ = ["NormalizeMinMax"]


@register_op
class NormalizeMinMax(StatOp):
    """``(x - min) / (max - min)``, output float32; never NaN from a zero range.

    A constant column (zero range) maps to 0.0 (the range is taken as 1, scikit-learn's
    ``_handle_zeros_in_scale``); an all-missing column gets min 0 and range 1. Missing values
    stay missing (NaN). Min and max combine exactly across partitions.

    Attributes
    ----------
    mins_, ranges_ : dict of str to float

    Raises
    ------
    DataError
        At fit, if a column holds an infinite value, or values whose range overflows float64
        (``[1e308, -1e308]``).

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"a": [2.0, 4.0, 6.0]})
    >>> ops.NormalizeMinMax().fit(df, ["a"]).transform(df, ["a"])["a"].tolist()
    [0.0, 0.5, 1.0]
    """

    def __init__(self) -> None:
        pass

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("float32", "cont") for c in columns}

    def partial_fit(self, frame: Any, columns: Sequence[str]) -> Any:
        frame = self._inputs(frame, columns, "NormalizeMinMax")
        F.require_kinds(frame, columns, "NormalizeMinMax", F.NUMERIC_KINDS, "Encode text with ops.Categorify instead")
        return moments(frame, columns, "NormalizeMinMax")

    def combine(self, partials: list[Any]) -> Any:
        return F.combine_moments(partials)

    def finalize(self, combined: Any, columns: Sequence[str]) -> None:
        self.mins_, self.ranges_ = {}, {}
        for c in columns:
            n, _, _, lo, hi = combined[c]
            if n and not math.isfinite(hi - lo):
                raise overflow_error("NormalizeMinMax", c, lo, hi, "range (max - min)")
            self.mins_[c] = lo if n else 0.0
            self.ranges_[c] = (hi - lo) if n and hi > lo else 1.0

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        import numpy as np

        self.check_fitted()
        frame = self._inputs(frame, columns, "NormalizeMinMax")
        F.require_kinds(frame, columns, "NormalizeMinMax", F.NUMERIC_KINDS, "Encode text with ops.Categorify instead")
        data = {}
        for c in columns:
            x = F.float_values(frame[c])
            with np.errstate(over="ignore"):
                scaled = (x - self.mins_[c]) / self.ranges_[c]
            data[c] = F.float32_output(scaled, c, "NormalizeMinMax", _FAR, source=x)
        return F.build_frame(frame, data)

    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"mins": dict(self.mins_), "ranges": dict(self.ranges_)}, {}

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        self.mins_ = {str(k): float(v) for k, v in state["mins"].items()}
        self.ranges_ = {str(k): float(v) for k, v in state["ranges"].items()}
