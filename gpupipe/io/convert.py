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

__all__ = ["arrow_to_pandas", "check_column_names", "from_arrow", "from_pandas", "to_arrow", "to_backend", "to_pandas"]


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
    if not plain_pandas_metadata(table.schema):
        return table.to_pandas(types_mapper=_pandas_types_mapper(), split_blocks=True, self_destruct=False)
    return frame_from_columns(columns_to_pandas(table), table.num_rows)


def plain_pandas_metadata(schema: pa.Schema) -> bool:
    """True when the schema's pandas metadata (if any) asks for nothing but a default ``0..n-1`` index
    and string column labels, so columns can be converted one by one (:func:`columns_to_pandas`)
    and give the frame ``Table.to_pandas`` would."""
    import json

    if len(set(schema.names)) != len(schema.names):
        return False
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return True
    try:
        meta = json.loads(raw)
    except ValueError:
        return False
    index = meta.get("index_columns", [])
    plain_index = not index or (len(index) == 1 and isinstance(index[0], dict) and index[0].get("kind") == "range"
                                and index[0].get("name") is None and index[0].get("start") == 0
                                and index[0].get("step") == 1)
    levels = meta.get("column_indexes", [])
    plain_labels = not levels or (len(levels) == 1 and levels[0].get("name") is None
                                  and levels[0].get("pandas_type") in ("unicode", "string", "empty"))
    return plain_index and plain_labels


def _masked_from_chunks(column: pa.ChunkedArray, dtype: Any) -> Any:
    """A pandas nullable integer array from an Arrow integer column: the values copied once into
    fresh, writable memory and the validity bitmap unpacked into the mask. (``Table.to_pandas``
    goes through ``combine_chunks`` and a second copy, and keeps both until the whole table is done.)"""
    import numpy as np

    n = len(column)
    np_dtype = dtype.numpy_dtype
    data = np.empty(n, dtype=np_dtype)
    mask = np.zeros(n, dtype=bool)
    pos = 0
    for chunk in column.chunks:
        m = len(chunk)
        if m == 0:
            continue
        validity, values = chunk.buffers()[:2]
        data[pos:pos + m] = np.frombuffer(values, dtype=np_dtype, count=m, offset=chunk.offset * np_dtype.itemsize)
        if validity is not None and chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=chunk.offset + m, bitorder="little")
            np.equal(bits[chunk.offset:], 0, out=mask[pos:pos + m])
        pos += m
    return dtype.construct_array_type()(data, mask, copy=False)


def columns_to_pandas(table: pa.Table) -> dict[str, Any]:
    """Name → pandas array/series of each column of ``table`` (whose metadata is plain, see
    :func:`plain_pandas_metadata`), in order. Integer columns become nullable pandas arrays
    directly; the other columns go through ``Table.to_pandas``. Pass a table nothing else holds to
    let it be released column by column."""
    import pyarrow as pa

    mapper = _pandas_types_mapper()
    ints = {i for i, field in enumerate(table.schema) if pa.types.is_integer(field.type)}
    others = [i for i in range(table.num_columns) if i not in ints]
    rest = None
    if others:
        rest = table.select(others).to_pandas(types_mapper=mapper, split_blocks=True, self_destruct=True)
    out: dict[str, Any] = {}
    for i, name in enumerate(table.column_names):
        out[name] = _masked_from_chunks(table.column(i), mapper(table.schema.field(i).type)) if i in ints \
            else rest[name]
    return out


def frame_from_columns(columns: dict[str, Any], rows: int) -> pd.DataFrame:
    """A frame with a ``0..rows-1`` index from :func:`columns_to_pandas` output, without copying."""
    import pandas as pd

    index = pd.RangeIndex(rows)
    return pd.DataFrame({name: (col.array if isinstance(col, pd.Series) else col) for name, col in columns.items()},
                        index=index, columns=list(columns), copy=False)


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
    check_column_names(table.column_names, "from_arrow")
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
    else:
        check_column_names(frame.columns, "to_arrow")  # Arrow would silently turn 0 into "0"
    return pa.Table.from_pandas(frame, preserve_index=False)


@to_arrow.register("cudf")
def _to_arrow_cudf(frame: Any) -> pa.Table:
    import cudf

    if isinstance(frame, cudf.Series):
        frame = frame.to_frame()
    return frame.to_arrow()


def from_pandas(df: pd.DataFrame) -> Any:
    """pandas frame → frame of the active backend (the same object on the pandas backend).

    Raises
    ------
    SchemaError
        The frame has duplicate or non-string column names (see :func:`check_column_names`).
    """
    if hasattr(df, "columns"):
        check_column_names(df.columns, "from_pandas")
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


def check_column_names(names: Any, where: str) -> None:
    """SchemaError unless every column name is a ``str`` and appears once.

    gpupipe addresses columns by name: a duplicated name makes ``frame[name]`` a frame rather
    than a column, and a non-string name (``0``, ``("a", "b")``) cannot be selected by a
    Workflow, is stringified by Arrow and parquet (``0`` comes back as ``"0"``) and does not
    survive a save. Both are refused where data enters or leaves gpupipe, naming the culprits.

    Examples
    --------
    >>> from gpupipe.io.convert import check_column_names
    >>> check_column_names(["a", "b"], "from_pandas")
    >>> check_column_names(["a", "a", 0], "from_pandas")
    Traceback (most recent call last):
    ...
    gpupipe.errors.SchemaError: from_pandas: duplicate column name(s) ['a']; ...
    """
    from ..errors import SchemaError

    names = list(names)
    seen: set[Any] = set()
    dupes: list[Any] = []
    for n in names:
        try:
            if n in seen and n not in dupes:
                dupes.append(n)
            seen.add(n)
        except TypeError:  # unhashable: reported as non-string below
            pass
    if dupes:
        msg = (f"{where}: duplicate column name(s) {dupes!r:.200}; every column needs its own name. Rename them "
               "(pandas: df.columns = [...]; when reading a CSV, pass names=[...])")
        raise SchemaError(msg)
    odd = [n for n in names if not isinstance(n, str)]
    if odd:
        msg = (f"{where}: column names must be strings, got {odd!r:.200} ({type(odd[0]).__name__}); rename them, "
               "e.g. df.columns = [str(c) for c in df.columns] (or flatten a MultiIndex: ['_'.join(map(str, c)) for c "
               "in df.columns])")
        raise SchemaError(msg)
