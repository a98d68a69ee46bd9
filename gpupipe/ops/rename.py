"""Rename: give the selected columns new names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SchemaError
from .base import ColumnInfo, Op, register_op

__all__ = ["Rename"]


@register_op
class Rename(Op):
    """Rename columns by a mapping and/or by adding a prefix or postfix.

    Parameters
    ----------
    mapping : dict of str to str, optional
        ``{old: new}``; columns not in it keep their name (before ``prefix``/``postfix``).
    postfix, prefix : str, optional
        Added to every selected column's name, after ``mapping``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> op = ops.Rename(mapping={"a": "x"}, postfix="_raw")
    >>> op.output_columns(["a", "b"])
    ['x_raw', 'b_raw']
    """

    def __init__(self, mapping: Mapping[str, str] | None = None, postfix: str | None = None,
                 prefix: str | None = None) -> None:
        self.mapping = mapping
        self.postfix = postfix
        self.prefix = prefix

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        mapping = dict(self.mapping or {})
        if not mapping and not self.postfix and not self.prefix:
            raise ValueError("Rename() needs mapping=, postfix= or prefix=")
        bad = [v for v in [*mapping.values(), self.prefix, self.postfix] if v is not None and not isinstance(v, str)]
        if bad:
            msg = f"Rename: new names, prefix and postfix must be strings, got {bad!r:.80}"
            raise ValueError(msg)
        unknown = [k for k in mapping if k not in columns]
        if unknown:
            msg = f"Rename: mapping names {unknown}, which are not in its selection {list(columns)}"
            raise SchemaError(msg)
        out = [f"{self.prefix or ''}{mapping.get(c, c)}{self.postfix or ''}" for c in columns]
        dupes = sorted({n for n in out if out.count(n) > 1})
        if dupes:
            msg = f"Rename: several columns would be named {dupes}; give each a distinct name"
            raise SchemaError(msg)
        return out

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {new: info[old] for old, new in zip(columns, self.output_columns(columns), strict=True)}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._require(frame, columns, "Rename")
        out = frame[list(columns)]
        return out.rename(columns=dict(zip(columns, self.output_columns(columns), strict=True)))
