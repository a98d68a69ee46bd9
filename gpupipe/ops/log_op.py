"""LogOp: ``log(1 + x)`` of non-negative values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import Dispatch, array_namespace
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

    columnwise = True

    def __init__(self) -> None:
        pass

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("float32" if str(info[c].dtype).lower() == "float32" else "float64", info[c].role)
                for c in columns}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._require(frame, columns, "LogOp")
        require_kind(frame, columns, "LogOp", ["numeric"], "Select only numeric columns for LogOp")
        return frame_like(frame, {c: _log1p_column(frame[c], c) for c in columns})


def _negative_error(column: str, count: int, low: float) -> DataError:
    msg = (f"LogOp: column {column!r} has {count} negative value(s) (minimum {low}); log1p needs values "
           f">= 0. Clip them first: ['{column}'] >> ops.Clip(lower=0) >> ops.LogOp()")
    return DataError(msg)


def _log1p_generic(series: Any, column: str) -> Any:
    x = float_values(series)
    xp = array_namespace(x)
    negative = x < 0
    if bool(negative.any()):
        raise _negative_error(column, int(to_host(negative.sum())), float(to_host(xp.nanmin(x))))
    out = xp.log1p(x)
    return out.astype(xp.float32) if str(series.dtype).lower() == "float32" else out


_log1p_column = Dispatch("log1p_column", doc="log1p of a numeric series as an array (NaN where null); DataError if negative.")


@_log1p_column.register("pandas")
def _log1p_column_pandas(series: Any, column: str) -> Any:
    import numpy as np

    from ._columns import int_parts

    parts = int_parts(series)
    if parts is None:
        return _log1p_generic(series, column)
    # Integers: one float64 output and no float64 copy of the input; the sign check is a min().
    values, mask = parts
    if not len(values):
        return np.log1p(values, dtype=np.float64)
    low, high = values.min(), values.max()
    if low < 0:
        negative = values < 0
        if mask is not None:
            negative &= ~mask
        if negative.any():
            raise _negative_error(column, int(negative.sum()), float(values[negative].min()))
    if low >= 0:
        # Counts are mostly small integers: log1p of 0..65535 is computed once and gathered (4x
        # faster than log1p per row, and the same float64 values); larger ones are computed.
        table = _log1p_table()
        top = len(table) - 1
        out = np.take(table, values if high <= top else np.minimum(values, top))
        if high > top:
            big = np.flatnonzero(values > top)
            out[big] = np.log1p(values[big], dtype=np.float64)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):  # negatives only under the null mask
            out = np.log1p(values, dtype=np.float64)
    if mask is not None:
        np.putmask(out, mask, np.nan)
    return out


_TABLE: list[Any] = []


def _log1p_table() -> Any:
    """log1p(0), ..., log1p(65535) as float64 (512 KiB: stays in cache while gathering)."""
    if not _TABLE:
        import numpy as np

        table = np.log1p(np.arange(1 << 16, dtype=np.float64))
        table.flags.writeable = False
        _TABLE.append(table)
    return _TABLE[0]


@_log1p_column.register("cudf")
def _log1p_column_cudf(series: Any, column: str) -> Any:
    return _log1p_generic(series, column)
