"""Reading and writing files on the active backend.

Readers raise ``FileNotFoundError`` for a missing path and :class:`~gpupipe.errors.DataError`
naming the file for a truncated or malformed one. Writers are atomic: the file appears whole
under its name or not at all.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_write_file
from ..backend import Dispatch, get_backend
from ..errors import DataError
from .convert import arrow_to_pandas, check_column_names, to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["read_arrow", "read_csv", "read_parquet", "write_parquet"]

PathLike = str | os.PathLike


def _existing(path: PathLike | Sequence[PathLike]) -> list[Path]:
    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    if not paths:
        raise DataError("no path given: pass a file, a directory or a non-empty list of files")
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(errno.ENOENT, "no such file or directory; check the path", str(p))
        # A directory without data files would read as a frame with no rows and no columns.
        if p.is_dir() and not any(f.is_file() and not f.name.startswith((".", "_")) for f in p.rglob("*")):
            msg = f"directory {p} holds no data files (names starting with '.' or '_' are skipped); check the path"
            raise DataError(msg)
    return paths


def _named(frame: Any, paths: Sequence[Path]) -> Any:
    """``frame`` once its column names are checked unique (a file may repeat a name; a frame must not)."""

    check_column_names(frame.columns, str(paths[0]) if len(paths) == 1 else f"{len(paths)} files from {paths[0]}")
    return frame


def _read_failed(kind: str, path: Any, exc: BaseException) -> DataError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = (f"could not read {path} as {kind}: {detail}. The file may be truncated, still being written, "
           f"or not {kind}; re-export it or pass the right reader")
    return DataError(msg)


# ---------------------------------------------------------------------------- parquet
def read_parquet(path: PathLike | Sequence[PathLike], columns: Sequence[str] | None = None) -> Any:
    """Read a parquet file, directory of parquet files, or list of files into a frame.

    Parameters
    ----------
    path : path or list of paths
    columns : list of str, optional
        Read only these columns. A name not in the file raises :class:`~gpupipe.errors.SchemaError`.

    Examples
    --------
    >>> import gpupipe as gp, pandas as pd, tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "x.parquet")
    >>> with gp.use_backend("pandas"):
    ...     _ = gp.write_parquet(pd.DataFrame({"a": [1, None]}, dtype="Int64"), p)
    ...     gp.read_parquet(p)["a"].tolist()
    [1, <NA>]
    """
    from .. import _validate as V

    _check_path_arg(path, "read_parquet")
    columns = V.name_list(columns, "columns", "read_parquet", none_ok=True)
    paths = _existing(path)
    return _named(_read_parquet.impl(get_backend().name)(paths, None if columns is None else list(columns)), paths)


def _check_path_arg(path: Any, where: str) -> None:
    """ParameterError naming ``path`` unless it is a path or a list of paths (bytes are refused: pass text)."""
    from .. import _validate as V

    if isinstance(path, (list, tuple)):
        for p in path:
            if not isinstance(p, (str, os.PathLike)):
                V.fail(where, "path", path, "a path (str or pathlib.Path) or a list of paths",
                       f"{p!r} ({type(p).__name__}) is not a path")
        return
    V.path(path, "path", where)


def _check_columns(available: Sequence[str], wanted: Sequence[str] | None, path: Any) -> None:
    if wanted is None:
        return
    missing = [c for c in wanted if c not in set(available)]
    if missing:
        from ..errors import SchemaError

        msg = f"{path} has no column(s) {missing}; it has {list(available)}"
        raise SchemaError(msg)


def _read_parquet_arrow(paths: list[Path], columns: list[str] | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for p in paths:
        try:
            if p.is_file():
                names = pq.read_schema(p).names
                check_column_names(names, str(p))  # else Arrow fails later with "Multiple matches for FieldRef"
                _check_columns(names, columns, p)
            tables.append(pq.read_table(p, columns=columns, page_checksum_verification=True))
        except (pa.ArrowException, OSError) as exc:
            raise _read_failed("parquet", p, exc) from exc
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


_read_parquet = Dispatch("read_parquet", "Read parquet files into a frame of the named backend.")
_read_parquet.register_lazy("cudf", "gpupipe.io._cudf")


# Columns decoded per read in the one-file pandas path: one per core for the reader's threads,
# few enough that the Arrow copy of the data never exists whole beside the pandas one.
_COLUMN_GROUP = max(2, os.cpu_count() or 1)


@_read_parquet.register("pandas")
def _read_parquet_pandas(paths: list[Path], columns: list[str] | None) -> Any:
    if len(paths) == 1 and paths[0].is_file():
        frame = _read_parquet_file_pandas(paths[0], columns)
        if frame is not None:
            return frame
    return arrow_to_pandas(_read_parquet_arrow(paths, columns))


def _read_parquet_file_pandas(path: Path, columns: list[str] | None) -> Any:
    """One file, read a few columns at a time and converted as it goes: the peak is the pandas frame
    plus one group of Arrow columns, not both copies of the table (2.0 → 1.4 GB and half the CPU
    time on 5M Criteo rows). None when the file's pandas metadata needs ``Table.to_pandas``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..backend._pandas import columns_to_pandas, frame_from_columns, plain_pandas_metadata

    try:
        file = pq.ParquetFile(path, page_checksum_verification=True)
        schema = file.schema_arrow
        _check_columns(schema.names, columns, path)
        names = list(schema.names) if columns is None else list(columns)
        if not names or len(set(names)) != len(names) or not plain_pandas_metadata(schema):
            return None
        out: dict[str, Any] = {}
        for start in range(0, len(names), _COLUMN_GROUP):
            group = file.read(columns=names[start:start + _COLUMN_GROUP], use_threads=True)
            out.update(columns_to_pandas(group))
            del group
        rows = file.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise _read_failed("parquet", path, exc) from exc
    # Arrow's allocator keeps the freed decode buffers (~0.3 GB for 5M Criteo rows) for reuse that
    # will not come: hand them back, or they stay in the process's peak for the rest of the run.
    pa.default_memory_pool().release_unused()
    return frame_from_columns(out, rows)


def write_parquet_table(table: pa.Table, path: PathLike, *, compression: str = "snappy") -> Path:
    """Write a ``pyarrow.Table`` to ``path`` atomically (temporary file in the same directory, then rename)."""
    import pyarrow.parquet as pq

    return atomic_write_file(path, lambda tmp: pq.write_table(table, tmp, compression=compression,
                                                              write_page_checksum=True))


def write_parquet(frame: Any, path: PathLike, *, compression: str = "snappy") -> Path:
    """Write a frame of either backend to one parquet file, atomically.

    The data goes to a temporary file in the same directory, which is renamed over ``path``
    once complete: a crash mid-write leaves any previous file intact. Data pages carry CRC
    checksums (pandas backend), which gpupipe's readers verify: a corrupted page is a
    :class:`~gpupipe.errors.DataError`, not different values.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    from .. import _validate as V

    if not (hasattr(frame, "columns") or getattr(frame, "ndim", None) == 1) or type(frame).__module__.startswith("pyarrow"):
        hint = "for a pyarrow Table use gp.from_arrow(table) first" if type(frame).__module__.startswith("pyarrow") else ""
        V.fail("write_parquet", "frame", frame, "a pandas or cuDF DataFrame", hint)
    V.path(path, "path", "write_parquet")
    if os.path.isdir(path):
        V.fail("write_parquet", "path", path, "a file path (write_parquet writes one file)",
               f"{os.fspath(path)} is a directory: name a file in it, or use gp.Dataset(frame).to_parquet(directory)")
    if isinstance(compression, str):
        compression = compression.lower()
    compression = V.choice(compression, _COMPRESSIONS, "compression", "write_parquet", none_ok=True,
                           none_means="no compression")
    compression = None if compression == "none" else compression
    return atomic_write_file(path, lambda tmp: _write_parquet(frame, tmp, compression))


#: the parquet codecs both backends' writers take
_COMPRESSIONS = ("snappy", "gzip", "zstd", "lz4", "brotli", "none")


_write_parquet = Dispatch("write_parquet", "Write a frame to one parquet file (the caller makes it atomic).")
_write_parquet.register_lazy("cudf", "gpupipe.io._cudf")


@_write_parquet.register("pandas")
def _write_parquet_pandas(frame: Any, path: str, compression: str) -> None:
    import pyarrow.parquet as pq

    pq.write_table(to_arrow(frame), path, compression=compression, write_page_checksum=True)


# ---------------------------------------------------------------------------- csv
#: strings read as null in CSV files on every backend (besides those given as na_values)
_CSV_NULL_VALUES = ("", "NA", "NaN", "nan", "null", "NULL", "N/A")
_CSV_KEYWORDS = ("columns", "dtype", "sep", "na_values", "header", "names", "skip_rows")


def read_csv(
    path: PathLike | Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    dtype: Mapping[str, Any] | None = None,
    sep: str = ",",
    na_values: Sequence[str] | None = None,
    header: bool = True,
    names: Sequence[str] | None = None,
    skip_rows: int = 0,
) -> Any:
    """Read one or more CSV files into a frame, with a multithreaded parser on both backends.

    Parameters
    ----------
    path : path or list of paths
    columns : list of str, optional
        Keep only these columns.
    dtype : mapping of column name to dtype, optional
        For example ``{"zip": "str", "count": "int32"}``; others are inferred.
    sep : str
        Field delimiter.
    na_values : list of str, optional
        Strings read as null (besides the empty field and ``NA``).
    header : bool
        Whether the first line names the columns.
    names : list of str, optional
        Column names, when ``header`` is False (or to override it).
    skip_rows : int
        Lines to skip before the header.
    """
    from .. import _validate as V

    where = "read_csv"
    _check_path_arg(path, where)
    columns = V.name_list(columns, "columns", where, none_ok=True)
    names = V.name_list(names, "names", where, none_ok=True)
    na_values = V.name_list(na_values, "na_values", where, none_ok=True, empty_ok=True, unique=False,
                            what="strings read as null")
    header = V.flag(header, "header", where)
    skip_rows = V.integer(skip_rows, "skip_rows", where, min_value=0)
    if not isinstance(sep, str) or len(sep) != 1 or sep in "\r\n\"":
        V.fail(where, "sep", sep, "one character (Arrow's CSV parser splits on a single character), e.g. ',', '\\t', "
               "';' or '|'", "a tab is '\\t' in Python source (one character), not a backslash and a t"
               if sep == "\\t" else "")
    dtype = _check_csv_dtype(dtype, columns)
    paths = _existing(path)
    opts = {"columns": None if columns is None else list(columns), "dtype": dict(dtype or {}), "sep": sep,
            "na_values": None if na_values is None else list(na_values), "header": header,
            "names": None if names is None else list(names), "skip_rows": int(skip_rows)}
    try:
        frame = _read_csv.impl(get_backend().name)(paths, opts)
    except DataError as exc:
        if names is not None and "Expected" in str(exc) and "columns" in str(exc):
            V.fail(where, "names", names, "one name per column of the file", str(exc).split(". The file")[0])
        raise
    lacking = [c for c in (dtype or {}) if c not in frame.columns]
    if lacking:
        from ..errors import SchemaError

        msg = (f"read_csv: dtype names column(s) {lacking} that the file does not have (it has "
               f"{list(frame.columns)[:30]}); check the spelling")
        raise SchemaError(msg)
    return _named(frame, paths)


_PYTHON_TYPES = {str: "str", int: "int64", float: "float64", bool: "bool"}


def _check_csv_dtype(dtype: Any, columns: list[str] | None) -> dict[str, Any] | None:
    """``dtype`` as a dict of column -> dtype (Python types become their names); ParameterError naming ``dtype``
    unless it is a mapping of names, SchemaError for a name outside ``columns``."""
    from .. import _validate as V

    if dtype is None:
        return None
    if not isinstance(dtype, Mapping) or not all(isinstance(k, str) for k in dtype):
        V.fail("read_csv", "dtype", dtype, "a dict of column name -> dtype, e.g. {'zip': 'str', 'n': 'int32'}",
               "one dtype for every column is not supported: name the columns" if not isinstance(dtype, Mapping)
               else "")
    if columns is not None:
        outside = [c for c in dtype if c not in columns]
        if outside:
            from ..errors import SchemaError

            raise SchemaError(f"read_csv: dtype names column(s) {outside}, which are not among columns={columns}")
    import pyarrow as pa

    # Python types by their names; "category" as a dictionary column (read as a pandas categorical)
    return {k: _PYTHON_TYPES.get(v, v) if isinstance(v, type) else
            pa.dictionary(pa.int32(), pa.string()) if v == "category" else v for k, v in dtype.items()}


def _arrow_type(dtype: Any, name: str = "") -> Any:
    import numpy as np
    import pyarrow as pa

    if isinstance(dtype, pa.DataType):
        return dtype
    if str(dtype) in ("str", "string", "object"):
        return pa.string()
    try:
        return pa.from_numpy_dtype(np.dtype(str(dtype).lower()))
    except TypeError as exc:
        from ..errors import SchemaError

        msg = (f"read_csv: dtype {dtype!r} given for column {name!r} is not a dtype; use a NumPy/Arrow name such as "
               "'int64', 'float32', 'bool' or 'str'")
        raise SchemaError(msg) from exc


def _read_csv_arrow(paths: list[Path], opts: dict[str, Any]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(
        skip_rows=opts["skip_rows"],
        column_names=opts["names"],
        autogenerate_column_names=not opts["header"] and not opts["names"],
        block_size=1 << 24,
    )
    if opts["names"] and opts["header"]:
        read.skip_rows_after_names = 1
    null_values = [*_CSV_NULL_VALUES, *list(opts["na_values"] or [])]
    convert = pcsv.ConvertOptions(
        column_types={k: _arrow_type(v, k) for k, v in opts["dtype"].items()},
        include_columns=opts["columns"],
        null_values=null_values,
        strings_can_be_null=True,
    )
    parse = pcsv.ParseOptions(delimiter=opts["sep"])
    tables = []
    for p in paths:
        try:
            table = pcsv.read_csv(p, read_options=read, parse_options=parse, convert_options=convert)
            table.schema.names  # noqa: B018  Arrow checks values are UTF-8, not header names: decode them here
            tables.append(table)
        except KeyError as exc:  # include_columns names a column the file lacks
            from ..errors import SchemaError

            raise SchemaError(f"{p}: {exc.args[0]}") from exc
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise _read_failed("CSV", p, exc) from exc
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


_read_csv = Dispatch("read_csv", "Read CSV files into a frame of the named backend.")
_read_csv.register_lazy("cudf", "gpupipe.io._cudf")


@_read_csv.register("pandas")
def _read_csv_pandas(paths: list[Path], opts: dict[str, Any]) -> Any:
    return arrow_to_pandas(_read_csv_arrow(paths, opts))


# ---------------------------------------------------------------------------- arrow ipc / feather
def read_arrow(path: PathLike) -> Any:
    """Read an Arrow IPC file (Feather v2), an IPC stream, or a Feather v1 file into a frame."""
    from .. import _validate as V

    V.path(path, "path", "read_arrow")
    (p,) = _existing(path)
    import pyarrow as pa
    import pyarrow.feather as feather

    try:
        table = feather.read_table(p, memory_map=True)
    except (pa.ArrowException, OSError):
        try:
            with pa.OSFile(str(p), "rb") as f:
                table = pa.ipc.open_stream(f).read_all()
        except (pa.ArrowException, OSError) as exc:
            raise _read_failed("Arrow IPC/Feather", p, exc) from exc
    from ..backend import frame as F

    return _named(F.from_arrow.impl(get_backend().name)(table), [p])
