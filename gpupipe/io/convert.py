"""Conversions between Arrow, pandas and the active backend's frames.

Nulls and dtypes survive every round trip: an integer column with nulls is a nullable integer
column in pandas (``Int64``), an ``int64`` column with nulls in Arrow and in cuDF, never a float.
Conversions return their input unchanged when it is already of the target type (no copy).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..backend import Dispatch, backend_of, get_backend

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["arrow_to_pandas", "from_arrow", "from_pandas", "to_arrow", "to_backend", "to_pandas"]


def _pandas_types_mapper() -> Any:
    """Map Arrow integer/bool types to pandas' nullable dtypes, so nulls never turn ints into floats."""
    import pandas as pd
    import pyarrow as pa

    table = {
        pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
    }
    return table.get


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow table → pandas frame with nullable ints/bools; integer columns without nulls are still nullable
    so that every file (and every partition of a dataset) reads to the same dtypes."""
    return table.to_pandas(types_mapper=_pandas_types_mapper(), split_blocks=True, self_destruct=False)


def _as_arrow_table(obj: Any) -> pa.Table:
    import pyarrow as pa

    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, pa.RecordBatchReader):
        return obj.read_all()
    if hasattr(obj, "__arrow_c_stream__"):
        return pa.table(obj)
    if hasattr(obj, "__arrow_c_array__"):
        return pa.Table.from_batches([pa.record_batch(obj)])
    msg = (f"from_arrow expects a pyarrow Table/RecordBatch or an object with __arrow_c_stream__ "
           f"(polars, DuckDB, pandas), got {type(obj).__module__}.{type(obj).__qualname__}")
    raise TypeError(msg)


def from_arrow(obj: Any) -> Any:
    """Build a frame of the active backend from Arrow data.

    Parameters
    ----------
    obj : pyarrow.Table, pyarrow.RecordBatch or any ``__arrow_c_stream__`` exporter
        polars and DuckDB results, pandas frames and others export this protocol.

    Examples
    --------
    >>> import pyarrow as pa, gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     df = gp.from_arrow(pa.table({"a": [1, None]}))
    >>> str(df["a"].dtype)
    'Int64'
    """
    table = _as_arrow_table(obj)
    return _from_arrow.impl(get_backend().name)(table)


_from_arrow = Dispatch("from_arrow")


@_from_arrow.register("pandas")
def _from_arrow_pandas(table: pa.Table) -> pd.DataFrame:
    return arrow_to_pandas(table)


@_from_arrow.register("cudf")
def _from_arrow_cudf(table: pa.Table) -> Any:
    import cudf

    return cudf.DataFrame.from_arrow(table)


to_arrow = Dispatch("to_arrow", doc="Frame of either backend → ``pyarrow.Table`` (nulls kept as Arrow nulls).")


@to_arrow.register("pandas")
def _to_arrow_pandas(frame: Any) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    return pa.Table.from_pandas(frame, preserve_index=False)


@to_arrow.register("cudf")
def _to_arrow_cudf(frame: Any) -> pa.Table:
    import cudf

    if isinstance(frame, cudf.Series):
        frame = frame.to_frame()
    return frame.to_arrow()


def from_pandas(df: pd.DataFrame) -> Any:
    """pandas frame → frame of the active backend (the same object on the pandas backend)."""
    return to_backend(df, get_backend().name)


def to_pandas(frame: Any) -> pd.DataFrame:
    """Frame of either backend → pandas (the same object when it already is one)."""
    if backend_of(frame) == "pandas":
        return frame
    return frame.to_pandas()


def to_backend(frame: Any, backend: str) -> Any:
    """Move a frame to ``backend`` (``"pandas"`` or ``"cudf"``); returns it unchanged if already there."""
    src = backend_of(frame)
    if src == backend:
        return frame
    if backend == "pandas":
        return frame.to_pandas()
    if backend == "cudf":
        cudf = sys.modules.get("cudf") or __import__("cudf")
        return cudf.from_pandas(frame)
    msg = f"unknown backend {backend!r}; choose 'pandas' or 'cudf'"
    raise ValueError(msg)
