"""FillMissing: replace nulls (and float NaN) with a constant."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ..backend import Dispatch
from ..errors import SchemaError
from ._columns import dtype_kind, float_values, frame_like, missing_mask, plain_dtype_name
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
        v = self.fill_value
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            if not math.isfinite(float(v)):
                msg = f"FillMissing(fill_value={v!r}) would leave the column missing or infinite; give a finite number"
                raise ValueError(msg)
        elif not isinstance(v, str):
            msg = f"FillMissing(fill_value=...) takes a number or a string, got {type(v).__name__} {v!r:.40}"
            raise ValueError(msg)

    def _to_float(self, dtype: Any) -> bool:
        v = self.fill_value
        return (isinstance(v, numbers.Real) and float(v) != int(v) and str(dtype).lower().startswith(("int", "uint")))

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        cols = list(columns)
        return cols + [c + INDICATOR_SUFFIX for c in cols] if self.add_indicator else cols

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        out = {}
        for c in columns:
            src = info[c]
            dtype = "float64" if self._to_float(src.dtype) else plain_dtype_name(src.dtype)
            out[c] = ColumnInfo(dtype, src.role, src.cardinality)
        if self.add_indicator:
            out.update({c + INDICATOR_SUFFIX: ColumnInfo("float32", "cont") for c in columns})
        return out

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._check_params()
        self._require(frame, columns, "FillMissing")
        want = "string" if isinstance(self.fill_value, str) else "numeric"
        data: dict[str, Any] = {}
        indicators: dict[str, Any] = {}
        for c in columns:
            s = frame[c]
            kind = dtype_kind(s.dtype)
            if kind != want:
                msg = (f"FillMissing(fill_value={self.fill_value!r}): column {c!r} has dtype {s.dtype}; a "
                       f"{'string' if want == 'string' else 'numeric'} fill value needs {want} columns. Give a "
                       f"{'number' if kind == 'numeric' else 'string'} fill_value for it in its own node"
                       + ("" if kind != "string" else ", or encode it with ops.Categorify (which maps nulls to id 1)"))
                raise SchemaError(msg)
            if self.add_indicator:
                indicators[c + INDICATOR_SUFFIX] = missing_mask(s).astype("float32")
            if self._to_float(s.dtype):
                values = float_values(s)
                data[c] = _fill_array(values, float(self.fill_value))
            else:
                data[c] = _fill_series(s, self.fill_value)
        data.update(indicators)
        return frame_like(frame, data)


def _fill_array(values: Any, value: float) -> Any:
    values = values.copy()
    values[values != values] = value  # NaN is the only value unequal to itself
    return values


_fill_series = Dispatch("fill_series", doc="Series with nulls (and float NaN) replaced; nullable dtypes made plain.")


@_fill_series.register("pandas")
def _fill_series_pandas(series: Any, value: Any) -> Any:
    import numpy as np
    import pandas as pd

    from ._stats import masked_int_parts

    parts = masked_int_parts(series)
    if parts is not None and _holds(parts[0].dtype, value):
        # One copy of the stored values with the fill written under the mask: what fillna +
        # astype(numpy dtype) give, without their two extra full-length copies.
        values, mask = parts
        out = values.copy()
        np.putmask(out, mask, int(value))
        return pd.Series(out, index=series.index, name=series.name, copy=False)
    out = series.fillna(value)
    numpy_dtype = getattr(series.dtype, "numpy_dtype", None)
    if numpy_dtype is not None and dtype_kind(series.dtype) == "numeric":
        out = out.astype(numpy_dtype)  # no nulls remain: a plain NumPy column shares memory with torch
    return out


def _holds(dtype: Any, value: Any) -> bool:
    """True when the whole number ``value`` fits the NumPy integer ``dtype``."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or float(value) != int(value):
        return False
    info = np.iinfo(dtype)
    return info.min <= int(value) <= info.max


@_fill_series.register("cudf")
def _fill_series_cudf(series: Any, value: Any) -> Any:
    if str(series.dtype).startswith("float"):
        series = series.nans_to_nulls()
    return series.fillna(value)
