"""FillMissing: replace nulls (and float NaN) with a constant."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ..backend import frame as F
from ..errors import SchemaError
from .base import ColumnInfo, Op, register_op

__all__ = ["FillMissing"]

INDICATOR_SUFFIX = "_missing"


@register_op
class FillMissing(Op):
    """Replace missing values (nulls, and NaN in float columns) with ``fill_value``.

    Parameters
    ----------
    fill_value : int, float or str, default 0
        The replacement: a number for numeric columns, a string for string columns.
    add_indicator : bool, default False
        Also output ``<column>_missing``, 1.0 where the value was missing and 0.0 elsewhere
        (float32, continuous), like scikit-learn's ``add_indicator``.

    Notes
    -----
    Integer columns stay integer (pandas' nullable ``Int64`` becomes plain ``int64``, since no
    nulls remain) unless ``fill_value`` is not a whole number, which makes them float64.
    Categorical columns are refused with a :class:`~gpupipe.errors.SchemaError` naming the column
    (a new value would need a new category): encode them with ``ops.Categorify``, which gives
    nulls id 1.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"a": [1.0, None, 3.0]})
    >>> ops.FillMissing(fill_value=-1).transform(df, ["a"])["a"].tolist()
    [1.0, -1.0, 3.0]
    """

    def __init__(self, fill_value: Any = 0, add_indicator: bool = False) -> None:
        self.fill_value = fill_value
        self.add_indicator = add_indicator

    @property
    def columnwise(self) -> bool:  # type: ignore[override]
        return not self.add_indicator  # indicators are extra columns

    def _check_params(self) -> None:
        from .. import _validate as V

        v = self.fill_value
        if not isinstance(v, str):
            accepted = "a finite number (numeric columns) or a string (text columns)"
            if V.is_integer(v):
                v = int(v)
            elif isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v)):
                v = float(v)
            else:
                hint = "NaN/inf would leave the column missing or infinite" if isinstance(v, float) else ""
                V.fail("FillMissing", "fill_value", v, accepted, hint)
        self.fill_value = v
        self.add_indicator = V.flag(self.add_indicator, "add_indicator", "FillMissing")

    def _to_float(self, dtype: Any) -> bool:
        # _check_params has made a number an int or a float: only a float can be fractional (an int beyond
        # float64, 10**400, is whole and must not go through float())
        v = self.fill_value
        return isinstance(v, float) and v != int(v) and F.kind(dtype) == "int"

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        cols = list(columns)
        return cols + indicator_names(self, cols) if self.add_indicator else cols

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        out = {}
        for c in columns:
            src = info[c]
            dtype = "float64" if self._to_float(src.dtype) else F.plain_dtype_name(src.dtype)
            out[c] = ColumnInfo(dtype, src.role, src.cardinality, src.vocabulary)
        if self.add_indicator:
            out.update({c + INDICATOR_SUFFIX: ColumnInfo("float32", "cont") for c in columns})
        return out

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._check_params()
        self._require(frame, columns, "FillMissing")
        text = isinstance(self.fill_value, str)
        self.output_columns(columns)  # indicator names must not be selected columns
        data: dict[str, Any] = {}
        indicators: dict[str, Any] = {}
        for c in columns:
            s = frame[c]
            kind = F.kind(s)
            if (kind == "str") != text or (not text and kind not in F.NUMERIC_KINDS):
                raise _kind_error(self.fill_value, c, s.dtype, kind)
            if not text and not self._to_float(s.dtype):
                self._check_fits(s, c)
            if self.add_indicator:
                indicators[c + INDICATOR_SUFFIX] = F.missing(s).astype("float32")
            if self._to_float(s.dtype):
                data[c] = _fill_array(F.float_values(s), float(self.fill_value))
            else:  # a boolean column takes 0/1 as False/True (checked by _check_fits)
                data[c] = F.fill_missing(s, bool(self.fill_value) if kind == "bool" else self.fill_value)
        data.update(indicators)
        return F.build_frame(frame, data)


    def _check_fits(self, series: Any, column: str) -> None:
        """A whole-number fill must fit an integer column's dtype (and be 0 or 1 for a bool column); any fill must
        lie within a float column's finite range (1e40 would be inf in float32)."""
        import numpy as np

        kind = F.kind(series)
        v = self.fill_value
        if kind == "bool" and v not in (0, 1):
            msg = (f"FillMissing(fill_value={v!r}): column {column!r} is boolean; give fill_value=0 or 1 for it "
                   "in its own node, or cast it to a number first")
            raise SchemaError(msg)
        if kind == "float":
            top = float(np.finfo(np.dtype(F.plain_dtype_name(series.dtype))).max)
            if abs(v) > top:  # Python compares an int with a float exactly, however large
                wider = ", or cast the column to float64 first" if top < 1e308 else ""
                msg = (f"FillMissing(fill_value={v!r}): the value is beyond the finite range of column {column!r} "
                       f"of dtype {series.dtype} (largest {top:.7g}), where it would become infinite; choose a fill "
                       f"value in range{wider}")
                raise SchemaError(msg)
            return
        if kind != "int":
            return
        info = np.iinfo(np.dtype(getattr(series.dtype, "numpy_dtype", series.dtype)))
        if not info.min <= int(v) <= info.max:
            msg = (f"FillMissing(fill_value={v!r}): the value does not fit column {column!r} of dtype {series.dtype} "
                   f"(range {info.min}..{info.max}); cast the column to a wider type (e.g. int64) first, or choose a "
                   "fill value in range")
            raise SchemaError(msg)


def indicator_names(op: Op, columns: Sequence[str]) -> list[str]:
    """``<column>_missing`` for each column; SchemaError when one is itself among ``columns`` (its filled values
    and the other column's indicator would be one output column)."""
    names = [c + INDICATOR_SUFFIX for c in columns]
    chosen = set(columns)
    for c, name in zip(columns, names, strict=True):
        if name in chosen:
            msg = (f"{op!r} on {list(columns)}: the missing-value indicator of column {c!r} is named {name!r}, "
                   f"which is also a selected column. Rename that column in the data first (e.g. "
                   f"df.rename(columns={{{name!r}: {name + '_raw'!r}}})), or leave add_indicator off")
            raise SchemaError(msg)
    return names


def _kind_error(fill_value: Any, column: str, dtype: Any, kind: str) -> Exception:
    """The SchemaError for a column the fill value's kind does not fit, with the advice its own kind needs."""
    text = isinstance(fill_value, str)
    head = (f"FillMissing(fill_value={fill_value!r}): column {column!r} has dtype {dtype}; a "
            f"{'string' if text else 'numeric'} fill value needs {'string' if text else 'numeric'} columns. ")
    if kind in F.NUMERIC_KINDS:
        advice = "Give a number fill_value for it in its own node"
    elif kind == "str":
        advice = ("Give a string fill_value for it in its own node, or encode it with ops.Categorify (which maps "
                  "nulls to id 1)")
    elif kind == "category":
        advice = ("FillMissing does not fill categorical columns (a new value would need a new category): encode it "
                  "with ops.Categorify, which maps nulls to id 1, or cast it to its values first "
                  f"(df[{column!r}].astype(df[{column!r}].cat.categories.dtype))")
    else:
        advice = ("FillMissing fills numeric and string columns only: leave it out of this node"
                  + (" (ops.DateParts splits timestamps into numbers)" if kind == "datetime" else ""))
    return SchemaError(head + advice)


def _fill_array(values: Any, value: float) -> Any:
    values = values.copy()  # float_values may be a view of the column
    values[values != values] = value  # NaN is the only value unequal to itself
    return values
