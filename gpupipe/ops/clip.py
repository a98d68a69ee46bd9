"""Clip: bound numeric values to [lower, upper]."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from ..backend import frame as F
from ..errors import SchemaError
from .base import ColumnInfo, Op, register_op

__all__ = ["Clip"]


def _fractional(v: Any) -> bool:
    """Whether a bound is a float that is not a whole number (an int is whole, however large: 10**17 + 1 has no
    float64 of its own, and comparing it through float would call it fractional)."""
    return isinstance(v, float) and math.isfinite(v) and v != int(v)


@register_op
class Clip(Op):
    """Bound values to ``[lower, upper]``; nulls stay null.

    Parameters
    ----------
    lower, upper : float, optional
        The bounds; at least one is required. Integer columns stay integer unless a bound is not a
        whole number, or lies beyond the dtype's range where it takes effect (then they become float64);
        an integer bound is exact, however large (``10**17 + 1`` has no float64 of its own).
        Infinities, and integer bounds beyond the range on their own side, bound nothing. A float32
        column becomes float64 when a bound beyond float32's range takes effect (``lower=1e39``).

    Notes
    -----
    Takes integer and float columns (nullable ones included). Boolean and categorical columns are
    refused with a :class:`~gpupipe.errors.SchemaError` naming the column: they hold no numbers to bound.

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
        from .. import _validate as V
        from ..errors import ParameterError

        for name in ("lower", "upper"):
            v = getattr(self, name)
            if V.is_integer(v):
                v = int(v)  # exact, however large (2**70 clips nothing in an int64 column)
                if abs(v) > sys.float_info.max:  # beyond every dtype, float64 included (10**400)
                    if (v > 0) != (name == "upper"):
                        msg = (f"Clip: {name} must lie within float64's range (about ±1.8e308), got {V.given(v)}: "
                               "every value would become it, and no dtype holds it")
                        raise ParameterError(msg)
                    v = math.inf if v > 0 else -math.inf  # on its own side it bounds nothing, as an infinity
                setattr(self, name, v)
            else:
                setattr(self, name, V.number(v, name, "Clip", finite=False, none_ok=True))
        if self.lower is None and self.upper is None:
            raise ParameterError("Clip: give lower=, upper= or both (a number each); got neither")
        if self.lower is not None and float(self.lower) == math.inf:
            raise ParameterError(f"Clip: lower must be below infinity (nothing is above an infinite lower bound), "
                                 f"got {self.lower!r}")
        if self.upper is not None and float(self.upper) == -math.inf:
            raise ParameterError(f"Clip: upper must be above -infinity (nothing is below an infinite upper bound), "
                                 f"got {self.upper!r}")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            msg = f"Clip: lower must not be above upper, got lower={self.lower!r}, upper={self.upper!r}"
            raise ParameterError(msg)

    def _to_float(self, dtype: Any) -> bool:
        """Integer columns become float64 when a bound is fractional, or lies beyond the dtype's range on the
        side where it takes effect (every value would become a number the dtype cannot hold); so do float32
        columns for a bound beyond float32's finite range (``lower=1e39`` would make every value inf)."""
        import numpy as np

        if F.kind(dtype) == "float":
            top = float(np.finfo(np.dtype(F.plain_dtype_name(dtype))).max)
            return (self.lower is not None and self.lower > top) or (self.upper is not None and self.upper < -top)
        if F.kind(dtype) != "int":
            return False
        info = np.iinfo(np.dtype(F.plain_dtype_name(dtype)))
        # Python compares ints and floats exactly: no float() here, which would round 2**63 - 1 up to 2**63
        return (_fractional(self.lower) or _fractional(self.upper)
                or (self.lower is not None and self.lower > info.max)
                or (self.upper is not None and self.upper < info.min))

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("float64" if self._to_float(info[c].dtype) else info[c].dtype, info[c].role,
                              self._clipped_cardinality(c, info[c]), info[c].vocabulary) for c in columns}

    def _clipped_cardinality(self, column: str, info: ColumnInfo) -> int | None:
        """The cardinality of ids ``0 .. cardinality - 1`` once clipped: a lower bound above the ids raises every id
        to it (cardinality ``lower + 1``); an upper bound keeps the cardinality (the ids only shrink, and a saved
        schema stays the same). SchemaError for bounds that make ids negative or fractional, which no embedding
        can take."""
        if info.role != "cat" or info.cardinality is None:
            return info.cardinality
        self._check_params()
        top = info.cardinality - 1
        lo = 0 if self.lower is None else self.lower
        hi = math.inf if self.upper is None else self.upper
        low_id, high_id = min(max(0, lo), hi), min(max(top, lo), hi)
        if low_id < 0 or (_fractional(self.lower) and self.lower > 0) or (_fractional(self.upper) and self.upper < top):
            msg = (f"Clip(lower={self.lower!r}, upper={self.upper!r}) on column {column!r}, which holds categorical "
                   f"ids 0..{top}: the ids would become {low_id}..{high_id}, and ids must be whole numbers from 0. "
                   "Give whole bounds of at least 0 (Clip(upper=k) merges the ids above k into k)")
            raise SchemaError(msg)
        return max(info.cardinality, int(high_id) + 1)

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._check_params()
        self._require(frame, columns, "Clip")
        F.require_kinds(frame, columns, "Clip", F.NUMERIC_KINDS, "Select only numeric columns for Clip")
        for c in columns:
            _check_orderable(frame[c], c)
        data = {}
        for c in columns:
            s = frame[c]
            if self._to_float(s.dtype):
                x = F.float_values(s)
                data[c] = x.clip(-math.inf if self.lower is None else self.lower,
                                 math.inf if self.upper is None else self.upper)
            else:
                data[c] = F.clip(s, self.lower, self.upper)
        return F.build_frame(frame, data)


def _check_orderable(series: Any, column: str) -> None:
    """SchemaError for a boolean or categorical column: neither holds numbers to bound (clipping True/False
    or a category's labels would give values of no dtype the column has)."""
    kind = F.kind(series)
    if kind == "bool":
        msg = (f"Clip: column {column!r} has dtype {series.dtype} (bool values), which it cannot take: True/False "
               f"have no range to bound. Leave it out of Clip, or cast it to a number first "
               f"(df[{column!r}].astype('Int8'))")
        raise SchemaError(msg)
    if kind == "category":
        msg = (f"Clip: column {column!r} has dtype category: its values are labels, which Clip does not bound. "
               f"Cast it to its values first (df[{column!r}].astype(df[{column!r}].cat.categories.dtype)), or "
               f"encode it with ops.Categorify instead")
        raise SchemaError(msg)
