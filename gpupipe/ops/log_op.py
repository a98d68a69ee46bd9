"""LogOp: ``log(1 + x)`` of non-negative values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import frame as F
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

    columnwise = True

    def __init__(self) -> None:
        pass

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("float32" if str(info[c].dtype).lower() == "float32" else "float64", info[c].role)
                for c in columns}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._require(frame, columns, "LogOp")
        F.require_kinds(frame, columns, "LogOp", F.NUMERIC_KINDS, "Select only numeric columns for LogOp")
        return F.build_frame(frame, {c: F.log1p(frame[c], c) for c in columns})
