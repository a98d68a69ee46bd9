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

    def _check_params(self) -> None:
        from .. import _validate as V
        from ..errors import ParameterError

        m = self.mapping
        if m is not None and (not isinstance(m, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                                     for k, v in m.items())):
            V.fail("Rename", "mapping", m, "a dict of old name -> new name (str -> str) or None",
                   "a function is not accepted: list the names" if callable(m) else "")
        V.string(self.postfix, "postfix", "Rename", none_ok=True)
        V.string(self.prefix, "prefix", "Rename", none_ok=True)
        if not m and not self.postfix and not self.prefix:
            raise ParameterError("Rename() needs mapping= (a dict), postfix= or prefix= (strings); got none of them")

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        self._check_params()
        mapping = dict(self.mapping or {})
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
