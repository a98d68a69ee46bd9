"""Dropna: drop the rows where any selected column is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..backend import frame as F
from .base import Op, register_op
from .filter import keep_rows

__all__ = ["Dropna"]


@register_op
class Dropna(Op):
    """Drop the rows where any of the selected columns is null (or NaN); all columns stay aligned.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"a": [1.0, None, 3.0], "b": ["x", "y", None]})
    >>> ops.Dropna().transform_frame(df, ["a", "b"])["a"].tolist()
    [1.0]
    """

    changes_rows: ClassVar[bool] = True

    def __init__(self) -> None:
        pass

    def transform_frame(self, frame: Any, columns: Sequence[str]) -> Any:
        self._require(frame, columns, "Dropna")
        if not len(columns):  # no column to look at drops no row (pandas: dropna(subset=[]))
            return frame.reset_index(drop=True)
        missing = None
        for c in columns:
            m = F.missing(frame[c])
            missing = m if missing is None else (missing | m)
        return keep_rows(frame, ~missing, "Dropna")

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        return self.transform_frame(frame, columns)[list(columns)]
