"""Clip: bound numeric values to [lower, upper]."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ..backend import Dispatch
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

    columnwise = True

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
                data[c] = _clip_series(s, self.lower, self.upper)
        return frame_like(frame, data)


_clip_series = Dispatch("clip_series", doc="The series clipped to [lower, upper] (None: unbounded), dtype and nulls kept.")


@_clip_series.register("pandas")
def _clip_series_pandas(series: Any, lower: Any, upper: Any) -> Any:
    import numpy as np
    import pandas as pd

    from ._stats import masked_int_parts

    parts = masked_int_parts(series)
    dtype = parts[0].dtype if parts is not None else series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        lo, hi = _as_bound(lower, dtype), _as_bound(upper, dtype)
        if lo is not _UNFIT and hi is not _UNFIT:
            # One np.clip pass; pandas' clip runs two where() passes with boolean temporaries.
            if parts is not None:
                values, mask = parts
                array = type(series.array)(np.clip(values, lo, hi), mask.copy(), copy=False)
                return pd.Series(array, index=series.index, name=series.name, copy=False)
            return pd.Series(np.clip(series.to_numpy(), lo, hi), index=series.index, name=series.name, copy=False)
    return series.clip(lower=lower, upper=upper)


_UNFIT = object()


def _as_bound(bound: Any, dtype: Any) -> Any:
    """``bound`` as a scalar of ``dtype`` when it converts exactly (else _UNFIT: pandas' clip decides)."""
    import numpy as np

    if bound is None:
        return None
    if dtype.kind in "iu":
        if float(bound) != int(bound):
            return _UNFIT
        info = np.iinfo(dtype)
        return dtype.type(int(bound)) if info.min <= int(bound) <= info.max else _UNFIT
    exact = dtype.type(bound)
    return exact if float(exact) == float(bound) else _UNFIT


@_clip_series.register("cudf")
def _clip_series_cudf(series: Any, lower: Any, upper: Any) -> Any:
    return series.clip(lower=lower, upper=upper)
