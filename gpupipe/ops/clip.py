"""Clip: bound numeric values to [lower, upper]."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ._columns import float_values, frame_like, require_kind
from .base import ColumnInfo, Op, register_op

__all__ = ["Clip"]


def _fractional(v: Any) -> bool:
    return v is not None and float(v) != int(v)


@register_op
class Clip(Op):
    """Bound values to ``[lower, upper]``; nulls stay null.

    Parameters
    ----------
    lower, upper : float, optional
        The bounds; at least one is required. Integer columns stay integer unless a bound is
        not a whole number (then they become float64).

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> ops.Clip(lower=0).transform(pd.DataFrame({"a": [-2, 5]}), ["a"])["a"].tolist()
    [0, 5]
    """

    def __init__(self, lower: float | None = None, upper: float | None = None) -> None:
        self.lower = lower
        self.upper = upper

    def _check_params(self) -> None:
        for name in ("lower", "upper"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, numbers.Real) or isinstance(v, bool) or math.isnan(float(v))):
                msg = f"Clip({name}={v!r}): the bound must be a number or None"
                raise ValueError(msg)
        if self.lower is None and self.upper is None:
            raise ValueError("Clip() needs lower=, upper= or both")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            msg = f"Clip(lower={self.lower!r}, upper={self.upper!r}): lower is above upper"
            raise ValueError(msg)

    def _to_float(self, dtype: Any) -> bool:
        return str(dtype).lower().startswith(("int", "uint")) and (_fractional(self.lower) or _fractional(self.upper))

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("float64" if self._to_float(info[c].dtype) else info[c].dtype, info[c].role,
                              info[c].cardinality) for c in columns}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._check_params()
        self._require(frame, columns, "Clip")
        require_kind(frame, columns, "Clip", ["numeric"], "Select only numeric columns for Clip")
        data = {}
        for c in columns:
            s = frame[c]
            if self._to_float(s.dtype):
                x = float_values(s)
                data[c] = x.clip(-math.inf if self.lower is None else self.lower,
                                 math.inf if self.upper is None else self.upper)
            else:
                data[c] = s.clip(lower=self.lower, upper=self.upper)
        return frame_like(frame, data)
