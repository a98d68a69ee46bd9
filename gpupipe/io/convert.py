"""Conversions between Arrow, pandas and the active backend's frames.

Nulls and dtypes survive every round trip: an integer column with nulls is a nullable integer
column in pandas (``Int64``), an ``int64`` column with nulls in Arrow and in cuDF, never a float.
Conversions return their input unchanged when it is already of the target type (no copy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..backend import frame as F
from ..backend import get_backend

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["arrow_to_pandas", "check_column_names", "from_arrow", "from_pandas", "to_arrow", "to_backend", "to_pandas"]


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow table → pandas frame in the canonical dtypes (nullable ints/bools, NumPy floats, ``str`` text)."""
    from ..backend._pandas import arrow_to_pandas as convert

    return convert(table)


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
    return F.from_arrow.impl(get_backend().name)(table)


def to_arrow(frame: Any) -> pa.Table:
    """Frame (or series) of either backend → ``pyarrow.Table``: nulls kept as Arrow nulls, no index column.

    Raises
    ------
    SchemaError
        The frame has duplicate or non-string column names (Arrow would silently turn ``0`` into ``"0"``).
    """
    if hasattr(frame, "columns"):
        check_column_names(frame.columns, "to_arrow")
    return F.to_arrow(frame)


def from_pandas(df: pd.DataFrame) -> Any:
    """pandas frame → frame of the active backend, in the canonical dtypes (see :mod:`gpupipe.backend.frame`).

    On the pandas backend this is the frame itself when every column already has its canonical dtype.

    Raises
    ------
    SchemaError
        The frame has duplicate or non-string column names (see :func:`check_column_names`), or a
        column whose values have no single dtype (an object column mixing ``1`` and ``"1"``).
    """
    if hasattr(df, "columns"):
        check_column_names(df.columns, "from_pandas")
    return F.to_backend(F.normalize(df), get_backend().name)


def to_pandas(frame: Any) -> pd.DataFrame:
    """Frame of either backend → pandas in the canonical dtypes (the same object when it already is one)."""
    return F.to_pandas(frame)


def to_backend(frame: Any, backend: str) -> Any:
    """Move a frame to ``backend`` (``"pandas"`` or ``"cudf"``) through Arrow; unchanged if already there."""
    from ..backend import BACKENDS

    if backend not in BACKENDS:
        msg = f"unknown backend {backend!r}; choose one of {list(BACKENDS)}"
        raise ValueError(msg)
    return F.to_backend(frame, backend)


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
