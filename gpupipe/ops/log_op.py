"""LogOp: ``log(1 + x)`` of non-negative values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import array_namespace
from ..errors import DataError
from ._columns import float_values, frame_like, require_kind, to_host
from .base import ColumnInfo, Op, register_op

__all__ = ["LogOp"]


@register_op
class LogOp(Op):
    """``log1p`` of each value (nulls stay null, as NaN); float32 columns stay float32, others become float64.

    Raises
    ------
    DataError
        If a column holds a negative value; the message names the column and its minimum.
        Clip first: ``cols >> ops.Clip(lower=0) >> ops.LogOp()``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> ops.LogOp().transform(pd.DataFrame({"a": [0, 9]}), ["a"])["a"].round(4).tolist()
    [0.0, 2.3026]
    """

    def __init__(self) -> None:
        pass

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("float32" if str(info[c].dtype).lower() == "float32" else "float64", info[c].role)
                for c in columns}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._require(frame, columns, "LogOp")
        require_kind(frame, columns, "LogOp", ["numeric"], "Select only numeric columns for LogOp")
        data = {}
        for c in columns:
            x = float_values(frame[c])
            xp = array_namespace(x)
            negative = x < 0
            if bool(negative.any()):
                low = float(to_host(xp.nanmin(x)))
                count = int(to_host(negative.sum()))
                msg = (f"LogOp: column {c!r} has {count} negative value(s) (minimum {low}); log1p needs values "
                       f">= 0. Clip them first: ['{c}'] >> ops.Clip(lower=0) >> ops.LogOp()")
                raise DataError(msg)
            out = xp.log1p(x)
            data[c] = out.astype(xp.float32) if str(frame[c].dtype).lower() == "float32" else out
        return frame_like(frame, data)
