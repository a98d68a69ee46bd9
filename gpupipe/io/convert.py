"""Conversions between Arrow, pandas, Polars and the active backend's frames.

Nulls and dtypes survive every round trip: an integer column with nulls is a nullable integer
column in pandas (``Int64``), an ``int64`` column with nulls in Arrow, cuDF and Polars, never a
float. Conversions return their input unchanged when it is already of the target type (no copy).

Polars is never imported by gpupipe: a Polars frame is recognised through ``sys.modules`` (if
Polars was never imported, nothing can be a Polars frame), converted once through Arrow (Polars
exports its buffers without copying), and on the pandas backend a numeric column without nulls
stays a NumPy view of Polars' own buffer; other columns (nulls, text, booleans, several chunks)
are converted once, and ``gp.audit.transfers()`` names each such copy.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..backend import frame as F
from ..backend import get_backend
from ..errors import GpupipeError, SchemaError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["arrow_to_pandas", "as_frame", "check_column_names", "from_arrow", "from_pandas", "from_polars", "is_polars",
           "to_arrow", "to_backend", "to_pandas", "to_polars"]


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow table → pandas frame in the canonical dtypes (nullable ints/bools, NumPy floats, ``str`` text)."""
    from ..backend._pandas import arrow_to_pandas as convert

    return convert(table)


def _as_arrow_table(obj: Any) -> pa.Table:
    import pyarrow as pa

    if is_polars(obj):
        return _polars_table(obj)
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, pa.RecordBatchReader):
        return obj.read_all()
    from ..errors import ParameterError

    accepted = ("from_arrow: obj must be a pyarrow Table/RecordBatch or an object exporting a table through "
                "__arrow_c_stream__ (polars, DuckDB, pandas DataFrames)")
    given = f"got {type(obj).__module__}.{type(obj).__qualname__}"
    if isinstance(obj, (pa.Array, pa.ChunkedArray)) and not pa.types.is_struct(obj.type):
        msg = f"{accepted}; {given}, one column without a name: wrap it, e.g. gp.from_arrow(pa.table({{'x': arr}}))"
        raise ParameterError(msg)
    if hasattr(obj, "to_frame") and getattr(obj, "ndim", None) == 1:
        msg = f"{accepted}; {given}, a single column: gp.from_pandas(series.to_frame()) or pa.table({{name: series}})"
        raise ParameterError(msg)
    try:
        if hasattr(obj, "__arrow_c_stream__"):
            return pa.table(obj)
        if hasattr(obj, "__arrow_c_array__"):
            return pa.Table.from_batches([pa.record_batch(obj)])
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise ParameterError(f"{accepted}; {given}, whose Arrow data is not a table ({exc})") from exc
    hint = "; build one with pa.table(...) (a dict of columns) or gp.from_pandas" if isinstance(obj, (dict, list)) else ""
    raise ParameterError(f"{accepted}; {given}{hint}")


def from_arrow(obj: Any) -> Any:
    """Build a frame of the active backend from Arrow data.

    Parameters
    ----------
    obj : pyarrow.Table, pyarrow.RecordBatch, Polars DataFrame or LazyFrame, or any ``__arrow_c_stream__`` exporter
        DuckDB results, pandas frames and others export this protocol. A Polars LazyFrame is
        collected once; a Polars frame's null-free numeric columns stay views of its buffers
        on the pandas backend (see :func:`from_polars`).

    Examples
    --------
    >>> import pyarrow as pa, gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     df = gp.from_arrow(pa.table({"a": [1, None]}))
    >>> str(df["a"].dtype)
    'Int64'
    """
    if is_polars(obj):
        return from_polars(obj, "from_arrow")
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
    if _is_frame(frame):
        check_column_names(frame.columns, "to_arrow")
    elif hasattr(frame, "to_frame") and getattr(frame, "ndim", None) == 1:  # a Series: its name is the column's
        if frame.name is None:
            raise SchemaError("to_arrow: the series has no name, and Arrow would call its column '0'; name it "
                              "(series.rename('x')) or pass series.to_frame('x')")
        check_column_names([frame.name], "to_arrow")
    else:
        from ..errors import ParameterError

        msg = (f"to_arrow: frame must be a pandas or cuDF DataFrame (or Series), got "
               f"{type(frame).__module__}.{type(frame).__qualname__}")
        raise ParameterError(msg)
    try:
        return F.to_arrow(frame)
    except Exception as exc:
        _unconvertible(frame, exc, "to_arrow")
        raise


def _is_frame(obj: Any) -> bool:
    """A pandas or cuDF DataFrame (not a Series, array, Arrow table or gp.Dataset)."""
    return (hasattr(obj, "columns") and getattr(obj, "ndim", None) == 2 and not hasattr(obj, "iter_partitions")
            and not type(obj).__module__.startswith("pyarrow"))


def _unconvertible(frame: Any, exc: Exception, where: str) -> None:
    """SchemaError naming the first column Arrow cannot hold (and a cast that works), when ``exc`` is Arrow's
    conversion error for a pandas frame (mixed object, complex, sparse columns); returns for other errors."""
    import pyarrow as pa

    if not isinstance(exc, (pa.ArrowException, TypeError, ValueError)) or isinstance(exc, GpupipeError):
        return
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(frame, (pd.DataFrame, pd.Series)):
        return
    df = frame.to_frame() if isinstance(frame, pd.Series) else frame
    for name in df.columns:
        s = df[name]
        try:
            pa.Array.from_pandas(s)
            continue
        except (pa.ArrowException, TypeError, ValueError) as col_exc:
            reason = col_exc
        dtype = s.dtype
        if isinstance(reason, UnicodeEncodeError):
            raise SchemaError(f"{where}: {F.not_unicode_message(name, reason)}") from exc
        if getattr(dtype, "kind", "") == "c":
            advice = "keep the real part (s.real) or the magnitude (s.abs()) as a float column"
        elif isinstance(dtype, pd.SparseDtype):
            advice = "densify it first (s.sparse.to_dense())"
        elif str(dtype) == "object":
            kinds = sorted({type(v).__name__ for v in s.dropna().iloc[:1000]})
            advice = f"it holds {', '.join(kinds)} values; cast it to one type first (e.g. s.astype(str))"
        else:
            advice = "cast it to a number, a string or a timestamp first"
        msg = f"{where}: column {name!r} (dtype {dtype}) cannot be stored in Arrow ({reason}); {advice}"
        raise SchemaError(msg) from exc


def from_pandas(df: pd.DataFrame) -> Any:
    """pandas frame → frame of the active backend, in the canonical dtypes (see :mod:`gpupipe.backend.frame`).

    On the pandas backend this is the frame itself when every column already has its canonical dtype.

    Raises
    ------
    SchemaError
        The frame has duplicate or non-string column names (see :func:`check_column_names`), or a
        column whose values have no single dtype (an object column mixing ``1`` and ``"1"``).
    """
    if not _is_frame(df):
        from ..errors import ParameterError

        hint = ("; use gp.from_arrow for Arrow data" if type(df).__module__.startswith("pyarrow") else
                "; a Series is one column: series.to_frame()" if getattr(df, "ndim", None) == 1 else "")
        msg = f"from_pandas: df must be a pandas DataFrame, got {type(df).__module__}.{type(df).__qualname__}{hint}"
        raise ParameterError(msg)
    check_column_names(df.columns, "from_pandas")
    return F.to_backend(F.normalize(df), get_backend().name)


def to_pandas(frame: Any) -> pd.DataFrame:
    """Frame of either backend → pandas: a cuDF frame in the canonical pandas dtypes, a pandas frame as it is (the
    same object; :func:`from_pandas` gives the canonical dtypes)."""
    return F.to_pandas(frame)


def to_backend(frame: Any, backend: str) -> Any:
    """Move a frame to ``backend`` (``"pandas"`` or ``"cudf"``) through Arrow; unchanged if already there."""
    from ..backend import BACKENDS

    if backend not in BACKENDS:
        from ..errors import ParameterError

        msg = f"to_backend: unknown backend {backend!r}; choose one of {list(BACKENDS)}"
        raise ParameterError(msg)
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


# ---------------------------------------------------------------------------------- Polars
def is_polars(obj: Any) -> bool:
    """Whether ``obj`` is a Polars DataFrame or LazyFrame (without importing Polars)."""
    pl = sys.modules.get("polars")
    return pl is not None and isinstance(obj, (pl.DataFrame, pl.LazyFrame))


def _polars_table(obj: Any) -> pa.Table:
    """A Polars frame as an Arrow table sharing its buffers; a LazyFrame is collected here, once."""
    pl = sys.modules["polars"]
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    level = getattr(pl, "CompatLevel", None)

    def export(frame: Any) -> pa.Table:
        # the oldest Arrow layout: large_string rather than string views, which pandas and cuDF take as they are
        return frame.to_arrow(compat_level=level.oldest()) if level is not None else frame.to_arrow()

    import pyarrow as pa

    try:
        return export(obj)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        bad = {}
        for name, dtype in obj.schema.items():  # which columns Arrow cannot take (Polars' Int128: '_pli128')
            try:
                export(obj.select(name))
            except (pa.ArrowException, TypeError, ValueError):
                bad[name] = str(dtype)
        if not bad:
            raise
        first = next(iter(bad))
        msg = (f"Polars column(s) {bad} have no Arrow type pyarrow {pa.__version__} reads ({exc}); cast them first, "
               f"e.g. frame.with_columns(pl.col({first!r}).cast(pl.Int64)) (or pl.Float64, pl.String)")
        raise SchemaError(msg) from exc


def _numpy_column(column: Any) -> bool:
    """Whether a Polars column is a NumPy column on pandas: an integer or float32/float64 one without nulls, in one
    chunk (a view of Polars' buffer) or several (copied once, to the same dtype)."""
    import pyarrow as pa

    t = column.type
    return (pa.types.is_integer(t) or pa.types.is_float32(t) or pa.types.is_float64(t)) and column.null_count == 0


def _zero_copy(column: Any) -> bool:
    return _numpy_column(column) and column.num_chunks == 1


def _why_copied(column: Any) -> str:
    import pyarrow as pa

    t = column.type
    if column.null_count:
        into = "NaN in a NumPy float column" if pa.types.is_floating(t) else "nullable pandas column"
        return f"Polars {t} with {column.null_count} null(s) → {into}"
    if column.num_chunks > 1:
        return f"Polars {t} in {column.num_chunks} chunks → one pandas column (rechunk the Polars frame to avoid it)"
    if pa.types.is_boolean(t):
        return "Polars bits → pandas bytes (booleans)"
    return f"Polars {t} → pandas"


def _record_copies(nbytes: dict[str, int], copies: dict[str, str]) -> None:
    """Name the copies, with the bytes each wrote, in any open ``gp.audit.transfers()`` block (if the audit was never
    imported, none is open)."""
    audit = sys.modules.get("gpupipe.tensors.audit")
    if audit is None or not copies or not audit._recording():
        return
    kind = "host" if get_backend().name == "pandas" else "upload"
    for name, why in copies.items():
        audit.record_event(kind, int(nbytes[name]), name, why)


def from_polars(obj: Any, where: str = "from_polars") -> Any:
    """A Polars DataFrame (or LazyFrame, collected once) as a frame of the active backend.

    On pandas, each integer/float column without nulls, in one chunk, is a NumPy view of the Polars
    buffer (zero-copy; read-only); in several chunks, it is copied once into a NumPy column of the same
    dtype, so that a column's dtype does not depend on how Polars chunked it. Other columns are
    converted once through Arrow, to the canonical dtypes (:mod:`gpupipe.backend.frame`). Each copy is
    named in an open ``gp.audit.transfers()`` block. On cuDF the table is uploaded once.

    Examples
    --------
    >>> import polars as pl, gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     df = gp.from_arrow(pl.DataFrame({"a": [1, None], "x": [0.5, 1.5]}))
    >>> [str(t) for t in df.dtypes]
    ['Int64', 'float64']
    """
    table = _polars_table(obj)
    check_column_names(table.column_names, where)
    backend = get_backend().name
    if backend != "pandas":  # the Arrow bytes are what is uploaded
        _record_copies({n: table.column(n).nbytes for n in table.column_names},
                       {n: f"Polars (host) → {backend}" for n in table.column_names})
        return F.from_arrow.impl(backend)(table)
    from ..backend._pandas import frame_from_columns, numpy_from_chunks

    columns: dict[str, Any] = {}
    for i, f in enumerate(table.schema):
        column = table.column(i)
        if _zero_copy(column):
            columns[f.name] = column.chunk(0).to_numpy(zero_copy_only=True)
        elif _numpy_column(column):  # in several chunks: the dtype of one chunk, not the canonical nullable one
            columns[f.name] = numpy_from_chunks(column)
    rest = [i for i, f in enumerate(table.schema) if f.name not in columns]
    copies = {f.name: _why_copied(table.column(i)) for i, f in enumerate(table.schema) if not _zero_copy(table.column(i))}
    if rest:
        converted = arrow_to_pandas(table.select(rest))
        columns.update({name: converted[name].array for name in converted.columns})
    if copies:
        # the bytes of the pandas columns written (a bool is 1 bit in Arrow, 2 bytes as a pandas boolean)
        _record_copies({name: columns[name].nbytes for name in copies}, copies)
    return frame_from_columns({name: columns[name] for name in table.column_names}, table.num_rows)


def as_frame(obj: Any, where: str) -> Any:
    """``obj`` itself, or a Polars frame converted once (:func:`from_polars`): the entry of the
    functions that take frames (``Workflow.fit/transform``, ``to_tensors``, ``Loader``, ``Dataset``)."""
    return from_polars(obj, where) if is_polars(obj) else obj


def to_polars(frame: Any) -> Any:
    """A frame of either backend as a Polars DataFrame, through Arrow: nulls stay nulls, integers stay
    integers, text is ``String``, categories are ``Categorical``, NaN (missing in gpupipe) is null.

    Raises
    ------
    ImportError
        Polars is not installed (``pip install polars``).

    Examples
    --------
    >>> import pandas as pd, gpupipe as gp
    >>> gp.to_polars(pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}))["a"].to_list()
    [1, None]
    """
    if is_polars(frame):
        return frame.collect() if isinstance(frame, sys.modules["polars"].LazyFrame) else frame
    try:
        import polars as pl
    except ImportError as exc:
        raise ImportError("gp.to_polars needs Polars: pip install polars") from exc
    return pl.from_arrow(to_arrow(frame), rechunk=False)
