"""Filter: keep the rows for which a predicate holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ..backend import frame as F
from ..errors import DataError, GpupipeError

__all__ = ["Filter", "keep_rows"]

from .base import Op


class Filter(Op):
    """Keep the rows where ``predicate(frame)`` is True; the other columns of the workflow stay aligned.

    Parameters
    ----------
    predicate : callable
        Takes the current frame (all columns, pandas or cuDF) and returns a boolean mask with
        one value per row (a Series or an array). Null mask values count as False. A Series must
        carry the frame's own index (rows in the frame's order): one of reordered or relabelled rows
        is a :class:`~gpupipe.errors.DataError`, as is a 2-D array.

    Notes
    -----
    A Python function cannot be saved without pickling, which gpupipe never does: saving a
    workflow holding a Filter raises :class:`~gpupipe.errors.WorkflowFormatError`. Filter the
    data before the workflow, or use :class:`~gpupipe.ops.Dropna`, to keep a workflow saveable.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"a": [1, -1, 2]})
    >>> ops.Filter(lambda f: f["a"] > 0).transform_frame(df, ["a"])["a"].tolist()
    [1, 2]
    """

    changes_rows: ClassVar[bool] = True
    serializable: ClassVar[bool] = False

    def __init__(self, predicate: Callable[[Any], Any]) -> None:
        self.predicate = predicate

    def _check_params(self) -> None:
        from .. import _validate as V

        V.callable_param(self.predicate, "predicate", "Filter", "frame -> boolean mask, one value per row")

    def transform_frame(self, frame: Any, columns: Sequence[str]) -> Any:
        self._check_params()
        self._require(frame, columns, "Filter")
        try:
            mask = self.predicate(frame)
        except Exception as exc:  # the user's predicate failed: say what it was given
            if isinstance(exc, GpupipeError):
                raise
            msg = (f"Filter: predicate raised {type(exc).__name__}: {exc}; it receives the whole frame (columns "
                   f"{list(frame.columns)[:30]}) and must return a boolean mask")
            raise DataError(msg) from exc
        return keep_rows(frame, mask, "Filter")

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        return self.transform_frame(frame, columns)[list(columns)]


def keep_rows(frame: Any, mask: Any, op: str) -> Any:
    """Rows of ``frame`` where ``mask`` is True, with a fresh 0..n-1 index.

    The mask is taken by position, so a series mask must carry the frame's own index: one whose rows were
    reordered or relabelled (``f.sort_values(...)["a"] > 0``) would keep the wrong rows, and is refused."""
    n = len(mask) if hasattr(mask, "__len__") else -1
    dtype = str(getattr(mask, "dtype", type(mask).__name__))
    ndim = getattr(mask, "ndim", 1)
    if n != len(frame) or dtype not in ("bool", "boolean") or ndim != 1:
        shape = f"{ndim}-dimensional " if ndim != 1 else ""
        msg = (f"{op}: the predicate must return a boolean mask with one value per row ({len(frame)}); "
               f"got {shape}{type(mask).__name__} of dtype {dtype} and length {n}")
        raise DataError(msg)
    index = getattr(mask, "index", None)
    if hasattr(index, "equals") and not index.equals(frame.index):
        msg = (f"{op}: the predicate returned a series whose index is not the frame's (rows reordered, e.g. by "
               "sort_values, or relabelled); its values would be applied to the wrong rows. Return the mask in the "
               "frame's row order (e.g. mask.reindex(frame.index), or a boolean array)")
        raise DataError(msg)
    return F.keep_rows(frame, mask)
