"""LambdaOp: apply a Python function to each selected column."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ..backend import frame as F
from ..errors import DataError, GpupipeError
from .base import ColumnInfo, Op

__all__ = ["LambdaOp"]


class LambdaOp(Op):
    """Apply ``fn(series) -> series or array`` (same length) to each selected column.

    Parameters
    ----------
    fn : callable
        Receives one column (pandas or cuDF Series) and returns its replacement.
    dtype : str, optional
        The dtype ``fn`` returns, when it differs from the input's (it feeds the output schema).

    Notes
    -----
    A LambdaOp runs but cannot be saved: gpupipe never pickles, and a Python function has no
    other faithful form. Saving a workflow holding one raises
    :class:`~gpupipe.errors.WorkflowFormatError`; replace it with a built-in op, or recreate the
    workflow around it after loading.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> ops.LambdaOp(lambda s: s * 2).transform(pd.DataFrame({"a": [1, 2]}), ["a"])["a"].tolist()
    [2, 4]
    """

    serializable: ClassVar[bool] = False

    def __init__(self, fn: Callable[[Any], Any], dtype: str | None = None) -> None:
        self.fn = fn
        self.dtype = dtype

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        if self.dtype is None:
            return {c: info[c] for c in columns}
        return {c: ColumnInfo(str(self.dtype)) for c in columns}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        if not callable(self.fn):
            raise TypeError(f"LambdaOp(fn=...) needs a callable, got {type(self.fn).__name__}")
        self._require(frame, columns, "LambdaOp")
        data = {}
        for c in columns:
            try:
                out = self.fn(frame[c])
            except Exception as exc:  # the user's function failed: say which column it was given
                if isinstance(exc, GpupipeError):
                    raise
                msg = (f"LambdaOp: fn raised {type(exc).__name__}: {exc} on column {c!r} (dtype {frame[c].dtype}); "
                       "fix the function (it receives one column as a Series)")
                raise DataError(msg) from exc
            if not hasattr(out, "__len__") or len(out) != len(frame):
                msg = (f"LambdaOp: fn returned {type(out).__name__} for column {c!r}; it must return a series or "
                       f"array with one value per row ({len(frame)})")
                raise DataError(msg)
            if hasattr(out, "index"):
                out = out.values if hasattr(out, "values") else out  # align by position, not by label
            data[c] = out
        return F.build_frame(frame, data)
