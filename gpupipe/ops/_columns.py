"""Column helpers for the element-wise ops (fill, clip, log, scaling, date parts, row filters).

Backend differences are confined here, behind :class:`~gpupipe.backend.Dispatch`: pandas masks
NaN and nulls alike while cuDF keeps float NaN apart from nulls, and arrays come out as NumPy or
CuPy. The ops themselves use only the API pandas and cuDF share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..backend import Dispatch
from ..errors import SchemaError

__all__ = [
    "CHUNK",
    "dtype_kind",
    "float_values",
    "frame_like",
    "int_parts",
    "missing_mask",
    "plain_dtype_name",
    "require_kind",
    "to_host",
]


def dtype_kind(dtype: Any) -> str:
    """``"numeric"`` (ints, floats, bools), ``"datetime"``, ``"string"`` or ``"other"`` for a dtype
    or a dtype name, on either backend (``"Int64"``, ``"int64"``, ``"boolean"``, ``"str"`` ...)."""
    name = str(dtype).lower()
    if name.startswith(("int", "uint", "float", "bool")):
        return "numeric"
    if name.startswith("datetime"):
        return "datetime"
    if name in ("str", "string", "object") or name.startswith("string"):
        return "string"
    return "other"


def plain_dtype_name(dtype: Any) -> str:
    """The NumPy name of a dtype: pandas' nullable ``Int32``/``Float64``/``boolean`` → ``int32``/``float64``/``bool``."""
    name = str(dtype)
    if name == "boolean":
        return "bool"
    if dtype_kind(name) == "numeric":
        return name.lower()
    return name


def require_kind(frame: Any, columns: Sequence[str], op: str, kinds: Sequence[str], advice: str) -> None:
    """SchemaError naming each column of ``columns`` whose dtype is not of one of ``kinds``."""
    bad = {c: str(frame[c].dtype) for c in columns if dtype_kind(frame[c].dtype) not in kinds}
    if bad:
        msg = f"{op}: column(s) {bad} have dtypes it cannot take; it needs {' or '.join(kinds)} columns. {advice}"
        raise SchemaError(msg)


# Elements per block in the pandas fast paths: a float64 block of 64K (512 KiB) stays in cache, so
# a chain of in-place ufuncs over it costs one read of the input and one write of the output,
# with no full-length temporaries (fresh memory is what costs most on small machines).
CHUNK = 1 << 16


def int_parts(series: Any) -> tuple[Any, Any] | None:
    """pandas only: ``(values, mask or None)`` of an integer series without copying: a NumPy
    ``int``/``uint`` column gives ``(values, None)``, a nullable one (``Int32``...) its stored
    values (arbitrary where masked) and its mask. None for any other series. Read-only use."""
    import numpy as np

    from ._stats import masked_int_parts

    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        return (series.to_numpy(), None) if dtype.kind in ("i", "u") else None
    return masked_int_parts(series)


float_values = Dispatch("float_values", doc="float64 array (NumPy/CuPy) of a numeric series, NaN for nulls.")


@float_values.register("pandas")
def _float_values_pandas(series: Any) -> Any:
    import numpy as np

    return series.to_numpy(dtype=np.float64, na_value=np.nan)


@float_values.register("cudf")
def _float_values_cudf(series: Any) -> Any:
    import numpy as np

    return series.to_cupy(dtype=np.float64, na_value=np.nan)


missing_mask = Dispatch("missing_mask", doc="Boolean series: True where the value is null or a float NaN.")


@missing_mask.register("pandas")
def _missing_mask_pandas(series: Any) -> Any:
    return series.isna()  # pandas treats NaN as missing already


@missing_mask.register("cudf")
def _missing_mask_cudf(series: Any) -> Any:
    if dtype_kind(series.dtype) == "numeric" and str(series.dtype).startswith("float"):
        series = series.nans_to_nulls()  # cuDF keeps NaN apart from null; both are missing here
    return series.isna()


frame_like = Dispatch("frame_like", doc="A frame of ``like``'s backend and index from a name → array/series mapping.")


@frame_like.register("pandas")
def _frame_like_pandas(like: Any, data: Mapping[str, Any]) -> Any:
    import pandas as pd

    return pd.DataFrame(dict(data), index=like.index, copy=False)


@frame_like.register("cudf")
def _frame_like_cudf(like: Any, data: Mapping[str, Any]) -> Any:
    import cudf

    return cudf.DataFrame(dict(data), index=like.index)


def to_host(value: Any) -> Any:
    """A NumPy array or Python scalar from a NumPy/CuPy array or scalar (partials stay small and host-side)."""
    get = getattr(value, "get", None)
    return get() if callable(get) and not isinstance(value, Mapping) else value
