"""Reading and writing files on the active backend.

Every reader takes the same path forms (a file, a directory, a glob, a list of them, local or a
URL: :mod:`gpupipe.io._sources`), adds hive partition columns (``key=value`` directories) as
strings, and gives files whose schemas differ one unified schema (:mod:`gpupipe.io._unify`).

Readers raise ``FileNotFoundError`` for a missing path and :class:`~gpupipe.errors.DataError`
naming the file for a truncated or malformed one. Writers are atomic: the file appears whole
under its name or not at all (on object storage too: one upload of the complete file).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_write_file
from ..backend import Dispatch, get_backend
from ..backend.frame import stored_row_numbers
from ..errors import DataError, SchemaError
from ._sources import Source, check_storage_options, expand, remote_errors
from ._unify import columns_to_read, conform_table, unify
from .convert import arrow_to_pandas, check_column_names, to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["read_arrow", "read_csv", "read_parquet", "write_parquet"]

PathLike = str | os.PathLike


def _named(frame: Any, sources: Sequence[Source]) -> Any:
    """``frame`` once its column names are checked unique (a file may repeat a name; a frame must not)."""
    where = sources[0].name if len(sources) == 1 else f"{len(sources)} files from {sources[0].name}"
    check_column_names(frame.columns, where)
    return frame


def _read_failed(kind: str, path: Any, exc: BaseException) -> DataError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = (f"could not read {path} as {kind}: {detail}. The file may be truncated, still being written, "
           f"or not {kind}; re-export it or pass the right reader")
    return DataError(msg)


def _reading(kind: str, src: Source) -> Any:
    """Context for reading ``src``: storage errors named by URL, then damaged content as a DataError."""
    import contextlib

    import pyarrow as pa

    @contextlib.contextmanager
    def guard() -> Any:
        with remote_errors(src.name) if src.remote else contextlib.nullcontext():
            try:
                yield
            except (FileNotFoundError, PermissionError, ConnectionError):
                raise
            except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
                raise _read_failed(kind, src.name, exc) from exc
    return guard()


# ---------------------------------------------------------------------------- parquet
def read_parquet(path: PathLike | Sequence[PathLike], columns: Sequence[str] | None = None, *,
                 storage_options: Mapping[str, Any] | None = None) -> Any:
    """Read a parquet file, a directory or glob of parquet files, or a list of them, into a frame.

    The frame's index is ``0..n-1``: a pandas index stored in a file (``df.to_parquet``) is a column
    when it has a name; an unnamed one of integers, or a range, is row numbers and left out; an unnamed
    one of other labels (text, dates) is kept as the column pandas stored it in, ``__index_level_0__``.

    Parameters
    ----------
    path : path, glob, URL or list of them
        A directory is read recursively (names starting with ``.`` or ``_`` are skipped), with
        its hive partition directories (``year=2013/``) as string columns. Files whose schemas
        differ are read with one unified schema: the union of their columns (nulls where a file
        lacks one), types widened (int32 and int64 give int64, a null-typed column takes the other
        files' type); types no single type holds are a :class:`~gpupipe.errors.DataError` naming
        the column and both files. URLs (``s3://``, ``gs://``, ``http(s)://``, ``memory://``) go
        through fsspec.
    columns : list of str, optional
        Read only these columns. A name in no file raises :class:`~gpupipe.errors.SchemaError`.
    storage_options : dict, optional
        fsspec options for URLs (``{"anon": True}``, ``{"key": ..., "secret": ...,
        "client_kwargs": {"endpoint_url": ...}}``).

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
    check_storage_options(path, storage_options, "read_parquet")
    sources = expand(path, formats=("parquet",), reader="read_parquet", storage_options=storage_options)
    cols = None if columns is None else list(columns)
    return _named(_read_parquet.impl(get_backend().name)(sources, cols), sources)


def _check_path_arg(path: Any, where: str) -> None:
    """ParameterError naming ``path`` unless it is a path (or URL) or a list of them (bytes are refused: pass text)."""
    from .. import _validate as V

    if isinstance(path, (list, tuple)):
        for p in path:
            if not isinstance(p, (str, os.PathLike)):
                V.fail(where, "path", path, "a path (str or pathlib.Path) or a list of paths",
                       f"{p!r} ({type(p).__name__}) is not a path")
        return
    V.path(path, "path", where)


def parquet_footer(src: Source, *, int96: bool = False,
                   columns: Sequence[str] | None = None) -> tuple[pa.Schema, list[int]]:
    """The Arrow schema of one parquet file and its row groups' sizes, read from its footer (pandas'
    stored unnamed integer index ``__index_level_N__``, row numbers, left out: partitions and frames get a
    0..n-1 index). ``int96``: check its INT96 columns among ``columns`` (:func:`check_int96`)."""
    import pyarrow.parquet as pq

    with _reading("parquet", src), src.readable() as f:
        md = pq.ParquetFile(f).metadata
        schema = md.schema.to_arrow_schema()
    check_column_names(schema.names, src.name)  # else Arrow fails later with "Multiple matches for FieldRef"
    if int96:
        check_int96(src, md, columns)
    # pandas' unnamed integer index (row numbers) left out; an unnamed index of other labels is data: a column
    index = [i for i, n in enumerate(schema.names) if stored_row_numbers(n, schema.field(i).type)]
    for i in reversed(index):
        schema = schema.remove(i)
    return schema.remove_metadata(), [md.row_group(g).num_rows for g in range(md.num_row_groups)]


#: whole milliseconds within the instants a nanosecond timestamp holds (1677-09-21 to 2262-04-11), both ends left out
#: (a value in their millisecond may still lie beyond)
_NS_RANGE_MS = (-(2**63) // 10**6 + 1, (2**63 - 1) // 10**6)


def check_int96(src: Source, metadata: Any, columns: Sequence[str] | None = None) -> None:
    """DataError naming the first INT96 column of ``src`` (``metadata``: its parquet footer; among ``columns`` when
    given) holding a timestamp that
    nanoseconds do not hold. Arrow, like pandas and cuDF, reads INT96 (Spark's and Hive's legacy timestamps) as
    nanoseconds, and a value outside 1677-2262 (a far-future sentinel such as 9999-12-31) wraps around to another
    date without an error; they are read once more as milliseconds, where every year fits, to check."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    names = [c.path for c in (metadata.schema.column(i) for i in range(metadata.num_columns))
             if c.physical_type == "INT96" and "." not in c.path and (columns is None or c.path in columns)]
    if not names or metadata.num_rows == 0:
        return
    with _reading("parquet", src), src.readable() as f:
        table = pq.ParquetFile(f, coerce_int96_timestamp_unit="ms").read(columns=names)
    for name in names:
        bounds = pc.min_max(table.column(name).cast("int64"))
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        if lo is None or (_NS_RANGE_MS[0] < lo and hi < _NS_RANGE_MS[1]):
            continue
        first, last = (pc.min_max(table.column(name))[k].as_py() for k in ("min", "max"))
        msg = (f"{src.name}: column {name!r} holds INT96 timestamps from {first} to {last}, outside the years 1677 to "
               "2262 that nanosecond timestamps hold (INT96 is read as nanoseconds, and such values would wrap to other "
               "dates). Read it with pyarrow.parquet.read_table(path, coerce_int96_timestamp_unit='us') and "
               "gp.from_arrow(table), or rewrite the file with microsecond timestamps (Spark: "
               "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS)")
        raise DataError(msg)


def parquet_schema(src: Source, columns: Sequence[str] | None = None) -> pa.Schema:
    """The Arrow schema of one parquet file (:func:`parquet_footer`), its INT96 columns among ``columns`` checked."""
    return parquet_footer(src, int96=True, columns=columns)[0]


def parquet_target(sources: Sequence[Source], columns: Sequence[str] | None,
                   reader: str = "read_parquet") -> tuple[pa.Schema, list[pa.Schema]]:
    """The unified schema of ``sources`` (and each file's own schema)."""
    schemas = [parquet_schema(s, columns) for s in sources]
    target = unify(list(zip(sources, schemas, strict=True)), columns=columns, reader=reader)
    check_category_orders(sources, schemas, columns, reader)
    return target, schemas


def check_category_orders(sources: Sequence[Source], schemas: Sequence[pa.Schema], columns: Sequence[str] | None,
                          reader: str) -> None:
    """SchemaError naming the column and two files when an ordered categorical column (an ordered Arrow dictionary)
    does not have the same categories in the same order in every file holding it: there is no one order to read
    them in (taking the first file's ranks the other files' values wrongly, and pandas refuses to join them).
    Each such column is read from each file for its categories; files without one are not read."""
    import pyarrow as pa

    ordered = [n for n in dict.fromkeys(f.name for sch in schemas for f in sch
                                        if pa.types.is_dictionary(f.type) and f.type.ordered)
               if columns is None or n in columns]
    holders = {n: [(s, sch) for s, sch in zip(sources, schemas, strict=True) if n in sch.names] for n in ordered}
    ordered = [n for n in ordered if len(holders[n]) > 1]
    if not ordered:
        return
    seen: dict[str, tuple[Source, bool, list[Any]]] = {}
    for src, schema in zip(sources, schemas, strict=True):
        names = [n for n in ordered if n in schema.names]
        if not names:
            continue
        table = read_parquet_arrow(src, names).unify_dictionaries()
        for name in names:
            col, typ = table.column(name), schema.field(name).type
            is_ordered = pa.types.is_dictionary(typ) and typ.ordered
            cats = (col.chunk(0).dictionary.to_pylist() if pa.types.is_dictionary(col.type) and col.num_chunks
                    else None)
            if name not in seen:
                seen[name] = (src, is_ordered, cats)
                continue
            first, first_ordered, first_cats = seen[name]
            if (is_ordered, cats) == (first_ordered, first_cats):
                continue
            msg = (f"{reader}: column {name!r} holds {_categories_text(first_ordered, first_cats)} in {first.name} "
                   f"but {_categories_text(is_ordered, cats)} in {src.name}; ordered categoricals of several files "
                   f"need the same "
                   f"categories in the same order. Read the files separately, or rewrite them with one order "
                   f"(frame[{name!r}].cat.set_categories([...], ordered=True)) or as text (.astype(str))")
            raise SchemaError(msg)


def _categories_text(ordered: bool, categories: list[Any] | None) -> str:
    return f"ordered categories {categories}" if ordered else "values that are not an ordered categorical"


def read_parquet_arrow(src: Source, columns: Sequence[str] | None, groups: Sequence[int] | None = None,
                       sizes: Sequence[int] | None = None) -> pa.Table:
    """One parquet file (or some of its row groups) as an Arrow table, page checksums verified. ``sizes``: the rows
    of each of the file's row groups when its footer was read before (a DataError if they changed since: row
    groups are chosen by number, and those of a rewritten file hold other rows)."""
    import pyarrow.parquet as pq

    cols = None if columns is None else list(columns)
    with _reading("parquet", src), src.readable() as f:
        pf = pq.ParquetFile(f, page_checksum_verification=True)
        names = pf.schema_arrow.names
        check_column_names(names, src.name)
        missing = [c for c in cols or () if c not in names]
        if missing:
            raise SchemaError(f"{src.name} has no column(s) {missing}; it has {names}")
        if sizes is not None:
            check_row_groups(src, [pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)], sizes)
        table = (pf.read(columns=cols) if groups is None
                 else pf.read_row_groups(list(groups), columns=cols))
    return table


def check_row_groups(src: Source, now: Sequence[int], sizes: Sequence[int]) -> None:
    """DataError when a parquet file's row groups (``now``: rows of each, from its footer) are not the ``sizes`` its
    footer gave when a Dataset was built: partitions choose row groups by number, and those of a rewritten file
    hold other rows."""
    if list(now) != list(sizes):
        msg = (f"{src.name} changed since the Dataset was built: its row groups now hold {sum(now)} rows "
               f"({len(now)} groups), not {sum(sizes)} ({len(sizes)}); build the Dataset again")
        raise DataError(msg)


def read_parquet_conformed(src: Source, target: pa.Schema, own: pa.Schema,
                           groups: Sequence[int] | None = None, sizes: Sequence[int] | None = None) -> pa.Table:
    """One file (whose own schema is ``own``) read as ``target``: its columns, types and partition values
    (``sizes``: :func:`read_parquet_arrow`)."""
    cols, read = columns_to_read(target, src, own)
    table = read_parquet_arrow(src, read, groups, sizes)
    return conform_table(table.replace_schema_metadata(None).select(cols), target, src)


_read_parquet = Dispatch("read_parquet", "Read parquet files (a list of Source) into a frame of the named backend.")
_read_parquet.register_lazy("cudf", "gpupipe.io._cudf")


# Columns decoded per read in the one-file pandas path: one per core for the reader's threads,
# few enough that the Arrow copy of the data never exists whole beside the pandas one.
_COLUMN_GROUP = max(2, os.cpu_count() or 1)


def _single(sources: Sequence[Source]) -> bool:
    """One file and nothing to add to it: read as it is."""
    return len(sources) == 1 and not sources[0].hive


@_read_parquet.register("pandas")
def _read_parquet_pandas(sources: list[Source], columns: list[str] | None) -> Any:
    from ..backend._pandas import numpy_small_pages

    with numpy_small_pages():
        return _read_parquet_pandas_sources(sources, columns)


def _read_parquet_pandas_sources(sources: list[Source], columns: list[str] | None) -> Any:
    import pyarrow as pa

    if _single(sources):
        if not sources[0].remote:
            frame = _read_parquet_file_pandas(sources[0], columns)  # its INT96 columns checked
            if frame is not None:
                return frame
        else:
            parquet_footer(sources[0], int96=True, columns=columns)
        return arrow_to_pandas(read_parquet_arrow(sources[0], columns))  # keeps an index pandas stored
    target, schemas = parquet_target(sources, columns)
    tables = [read_parquet_conformed(s, target, own) for s, own in zip(sources, schemas, strict=True)]
    return arrow_to_pandas(tables[0] if len(tables) == 1 else pa.concat_tables(tables))


def _read_parquet_file_pandas(src: Source, columns: list[str] | None) -> Any:
    """One local file, read a few columns at a time and converted as it goes: the peak is the pandas frame
    plus two groups of Arrow columns (the one being converted and the next, decoded ahead in a second
    thread), not both copies of the table (2.0 → 1.4 GB and half the CPU time on 5M Criteo rows). None
    when the file's pandas metadata needs ``Table.to_pandas``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..backend._pandas import columns_to_pandas, frame_from_columns, plain_pandas_metadata

    with _reading("parquet", src):
        file = pq.ParquetFile(src.path, page_checksum_verification=True)
        schema = file.schema_arrow
        check_column_names(schema.names, src.name)
        missing = [c for c in columns or () if c not in schema.names]
        if missing:
            raise SchemaError(f"{src.name} has no column(s) {missing}; it has {schema.names}")
        check_int96(src, file.metadata, columns)
        names = list(schema.names) if columns is None else list(columns)
        if not names or len(set(names)) != len(names) or not plain_pandas_metadata(schema):
            return None
        out: dict[str, Any] = {}
        groups = [names[start:start + _COLUMN_GROUP] for start in range(0, len(names), _COLUMN_GROUP)]
        if len(groups) == 1:
            out.update(columns_to_pandas(file.read(columns=groups[0], use_threads=True)))
        else:
            # Arrow decodes the next group (GIL released) while this thread converts the current one
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpupipe-read") as pool:
                ahead = pool.submit(file.read, columns=groups[0], use_threads=True)
                for k in range(len(groups)):
                    group = ahead.result()
                    if k + 1 < len(groups):
                        ahead = pool.submit(file.read, columns=groups[k + 1], use_threads=True)
                    out.update(columns_to_pandas(group))
                    del group
                del ahead  # its future holds the last group's table: release it with the pool below
        rows = file.metadata.num_rows
    # Arrow's allocator keeps the freed decode buffers (~0.3 GB for 5M Criteo rows) for reuse that
    # will not come: hand them back, or they stay in the process's peak for the rest of the run.
    pa.default_memory_pool().release_unused()
    return frame_from_columns(out, rows)


def write_parquet_table(table: pa.Table, path: PathLike, *, compression: str = "snappy") -> Path:
    """Write a ``pyarrow.Table`` to ``path`` atomically (temporary file in the same directory, then rename)."""
    import pyarrow.parquet as pq

    return atomic_write_file(path, lambda tmp: pq.write_table(table, tmp, compression=compression,
                                                              write_page_checksum=True))


def write_parquet(frame: Any, path: PathLike, *, compression: str = "snappy",
                  storage_options: Mapping[str, Any] | None = None) -> Path | str:
    """Write a frame of either backend to one parquet file, atomically.

    The data goes to a temporary file in the same directory, which is renamed over ``path``
    once complete: a crash mid-write leaves any previous file intact. To a URL (``s3://``,
    ``gs://``, ``memory://``) the file is written locally first and then uploaded as one
    object, which the store publishes only once the upload is complete: a failed write leaves
    the previous object as it was. Data pages carry CRC checksums (pandas backend), which
    gpupipe's readers verify: a corrupted page is a :class:`~gpupipe.errors.DataError`, not
    different values.

    The file holds no index: an index with a name (``groupby(...).sum()``'s keys) or with labels other than
    integers is written as columns, as ``frame.reset_index()`` gives them; an unnamed integer index (row
    numbers) is left out.

    Returns
    -------
    pathlib.Path or str
        The written path (the URL, for a URL).
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
    check_storage_options(path, storage_options, "write_parquet")
    frame = _index_as_columns(frame)
    return atomic_write_file(path, lambda tmp: _write_parquet(frame, tmp, compression),
                             storage_options=storage_options)


def _index_as_columns(frame: Any) -> Any:
    """``frame`` with an index that holds data (a named one, as ``groupby(...).sum()`` gives, or one of non-integer
    labels) turned into columns, as ``DataFrame.reset_index`` does; an unnamed integer index (row numbers, as after
    a filter) is dropped. The file has no index: every reader gives ``0..n-1``."""
    if getattr(frame, "ndim", 2) == 1:
        frame = frame.to_frame()
    index = frame.index
    names = [n for n in getattr(index, "names", [index.name]) if n is not None]
    if not names and getattr(index.dtype, "kind", None) in ("i", "u"):
        return frame
    clash = [n for n in names if n in frame.columns]
    if clash:
        msg = (f"write_parquet: the frame's index level(s) {clash} have the names of columns; the file has no index, "
               "so the index is written as columns: rename it (frame.rename_axis(...)) or drop it "
               "(frame.reset_index(drop=True))")
        raise DataError(msg)
    return frame.reset_index()


#: the parquet codecs both backends' writers take
_COMPRESSIONS = ("snappy", "gzip", "zstd", "lz4", "brotli", "none")


_write_parquet = Dispatch("write_parquet", "Write a frame to one parquet file (the caller makes it atomic).")
_write_parquet.register_lazy("cudf", "gpupipe.io._cudf")


@_write_parquet.register("pandas")
def _write_parquet_pandas(frame: Any, path: str, compression: str) -> None:
    import pyarrow.parquet as pq

    pq.write_table(to_arrow(frame), path, compression=compression, write_page_checksum=True)


# ---------------------------------------------------------------------------- csv
#: strings read as null in CSV files on every backend (besides those given as na_values): pandas' default list
#: (``pandas._libs.parsers.STR_NA_VALUES``), a superset of pyarrow's
_CSV_NULL_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
                    "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
#: bytes pyarrow parses per CSV block (a partition read stops after the block holding its last row)
_CSV_BLOCK = 1 << 24
#: the words read as booleans, as pandas reads them: Arrow's defaults also take 1 and 0, so a column holding
#: ``True`` and ``1`` read as [True, True] (pandas keeps it as text); a column of 1 and 0 is integers either way
_CSV_TRUE = ("True", "TRUE", "true")
_CSV_FALSE = ("False", "FALSE", "false")
_CSV_KEYWORDS = ("columns", "dtype", "sep", "na_values", "header", "names", "skip_rows")


def read_csv(
    path: PathLike | Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    dtype: Mapping[str, Any] | None = None,
    sep: str | None = None,
    na_values: Sequence[str] | None = None,
    header: bool = True,
    names: Sequence[str] | None = None,
    skip_rows: int = 0,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Read one or more CSV files into a frame, with a multithreaded parser on both backends.

    Parameters
    ----------
    path : path, glob, directory, URL or list of them
        As for :func:`read_parquet`: several files are read with one unified schema (a column
        empty in one file takes the type the other files give it), and hive directories give
        string columns.
    columns : list of str, optional
        Keep only these columns.
    dtype : mapping of column name to dtype, optional
        For example ``{"zip": "str", "count": "int32"}``; others are inferred.
    sep : str, optional
        Field delimiter (one character). Without it: a tab for ``.tsv`` files (compressed too), a
        comma for the others.
    na_values : list of str, optional
        Strings read as null besides pandas' defaults (the empty field, ``NA``, ``N/A``, ``n/a``, ``#N/A``,
        ``NULL``, ``null``, ``None``, ``<NA>``, ``NaN``, ``nan``, ``-nan``...), which are always null. A number
        stands for its value, as in pandas: ``"-999"`` also nulls the text ``-999.0``, and in float columns
        every spelling of -999 (``-999.00``, ``-9.99e2``).
    header : bool
        Whether the first line names the columns.
    names : list of str, optional
        Column names, when ``header`` is False (or to override it).
    skip_rows : int
        Lines to skip before the header.
    storage_options : dict, optional
        fsspec options for URLs (see :func:`read_parquet`).
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
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in "\r\n\""):
        V.fail(where, "sep", sep, "one character (Arrow's CSV parser splits on a single character), e.g. ',', '\\t', "
               "';' or '|'", "a tab is '\\t' in Python source (one character), not a backslash and a t"
               if sep == "\\t" else "")
    dtype = _check_csv_dtype(dtype, columns)
    check_storage_options(path, storage_options, where)
    sources = expand(path, formats=("csv",), reader=where, storage_options=storage_options)
    opts = csv_options(columns=columns, dtype=dtype, sep=sep, na_values=na_values, header=header, names=names,
                       skip_rows=skip_rows)
    try:
        frame = _read_csv.impl(get_backend().name)(sources, opts)
    except DataError as exc:
        if names is not None and "Expected" in str(exc) and "columns" in str(exc):
            V.fail(where, "names", names, "one name per column of the file", str(exc).split(". The file")[0])
        raise
    return _named(frame, sources)


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


def csv_options(*, columns: Sequence[str] | None = None, dtype: Mapping[str, Any] | None = None, sep: str | None = None,
                na_values: Sequence[str] | None = None, header: bool = True, names: Sequence[str] | None = None,
                skip_rows: int = 0) -> dict[str, Any]:
    """The parsing options both backends' CSV readers take (``read_csv``'s defaults; ``sep`` None: :func:`csv_sep`).
    A number in ``na_values`` also stands for its other spellings as pandas takes them (``"-999"`` and
    ``"-999.0"``); :func:`_numeric_na` nulls the values of float columns equal to it."""
    return {"columns": None if columns is None else list(columns), "dtype": dict(dtype or {}), "sep": sep,
            "na_values": None if na_values is None else _na_spellings(na_values), "header": header,
            "names": None if names is None else list(names), "skip_rows": int(skip_rows)}


def _na_numbers(na_values: Sequence[str] | None) -> list[float]:
    """The finite numbers among ``na_values`` (pandas' ``_floatify_na_values``)."""
    import math

    out = []
    for x in na_values or ():
        try:
            v = float(x)
        except (TypeError, ValueError, OverflowError):
            continue
        if math.isfinite(v) and v not in out:
            out.append(v)
    return out


def _na_floats(na_values: Sequence[str] | None, dtype: Any) -> Any:
    """The values of a float column of NumPy ``dtype`` that a number among ``na_values`` nulls, as a NumPy array of
    that dtype: each number (:func:`_na_numbers`) as the column holds it, those beyond the dtype's range left out
    (they would round to an infinity the file holds as such), and 0 with both signs (-0.0 == 0, as pandas compares
    values; Arrow's ``is_in`` matches the bits)."""
    import numpy as np

    dt = np.dtype(dtype)
    with np.errstate(over="ignore"):
        values = np.array(_na_numbers(na_values), dtype=dt)
    values = values[np.isfinite(values)]
    if (values == 0).any():
        values = np.concatenate([values[values != 0], np.array([0.0, -0.0], dtype=dt)])
    return values


def _na_spellings(na_values: Sequence[str]) -> list[str]:
    """``na_values`` with each whole number's two spellings, ``"-999"`` and ``"-999.0"``, as pandas'
    ``_stringify_na_values`` adds them (a float column written by pandas holds ``-999.0``)."""
    out = list(na_values)
    for v in _na_numbers(na_values):
        if v == int(v):
            out += [x for x in (str(int(v)), f"{int(v)}.0") if x not in out]
    return out


def _numeric_na(table: pa.Table, opts: Mapping[str, Any]) -> pa.Table:
    """``table`` with the values of its float columns equal to a number among ``na_values`` null, as pandas reads
    them (``-999.00`` and ``-9.99e2`` are ``-999`` as much as ``-999`` is)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _na_numbers(opts["na_values"]):
        return table
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            values = _na_floats(opts["na_values"], field.type.to_pandas_dtype())
            if not len(values):
                continue
            col = table.column(i)
            hit = pc.is_in(col, value_set=pa.array(values, field.type))
            if pc.any(hit).as_py():
                table = table.set_column(i, field, pc.if_else(hit, pa.scalar(None, field.type), col))
    return table


_TAB_SUFFIXES = (".tsv",)


def csv_sep(opts: Mapping[str, Any], src: Source) -> str:
    """The field delimiter of file ``src``: ``opts["sep"]`` when given, else a tab for ``.tsv`` files
    (also compressed: ``x.tsv.gz``), a comma for the others."""
    if opts["sep"] is not None:
        return str(opts["sep"])
    suffixes = [x.lower() for x in Path(src.path.split("?", 1)[0] if src.remote else src.path).suffixes]
    if src.compression() is not None:  # x.tsv.gz: the suffix before the compression's
        suffixes = suffixes[:-1]
    return "\t" if suffixes and suffixes[-1] in _TAB_SUFFIXES else ","


def csv_target(sources: Sequence[Source], schemas: Sequence[pa.Schema], opts: Mapping[str, Any]) -> pa.Schema:
    """The unified schema of CSV files (each file's schema as parsed, all-empty columns null-typed)."""
    target = unify(list(zip(sources, schemas, strict=True)), columns=opts["columns"], reader="read_csv")
    hive = sorted({k for s in sources for k, _ in s.hive} & set(opts["dtype"]))
    if hive:
        msg = (f"read_csv: dtype names {hive}, partition column(s) whose values are the directory names ({hive[0]}=...), "
               f"read as text; leave them out of dtype and cast after reading (frame[{hive[0]!r}].astype(...))")
        raise SchemaError(msg)
    unknown = [c for c in opts["dtype"] if c not in target.names]
    if unknown:
        where = sources[0].name if len(sources) == 1 else f"{len(sources)} files from {sources[0].name}"
        msg = f"read_csv: dtype names column(s) {unknown} that {where} does not have (it has {target.names}); fix the names"
        raise SchemaError(msg)
    return target


def _arrow_type(dtype: Any, name: str = "") -> Any:
    import numpy as np
    import pyarrow as pa

    if isinstance(dtype, pa.DataType):
        return dtype
    if str(dtype) in ("str", "string", "object"):
        return pa.string()
    try:
        t = pa.from_numpy_dtype(np.dtype(str(dtype).lower()))
    except TypeError as exc:
        msg = (f"read_csv: dtype {dtype!r} given for column {name!r} is not a dtype; use a NumPy/Arrow name such as "
               "'int64', 'float32', 'bool' or 'str'")
        raise SchemaError(msg) from exc
    if t == pa.float16():
        raise SchemaError(f"read_csv: dtype {dtype!r} given for column {name!r}: CSV text is not parsed to float16; "
                          "use 'float32'")
    return t


def _quoted_line_breaks_possible(src: Source) -> bool:
    """Whether ``src`` must be parsed with pyarrow's ``newlines_in_values``: a quoted value may hold a line break.

    pyarrow cuts a file into blocks at line breaks; without that option, a cut inside a quoted value splits its
    row, which is a parse error or, as often, a table with other values and no error. With it, parsing takes about
    a third longer, so a local uncompressed file that fits one block or holds no quote character at all is parsed
    without it. A remote or compressed file is parsed with it."""
    if src.remote or src.compression() is not None:
        return True
    path = src.local()
    size = path.stat().st_size
    if size <= _CSV_BLOCK:
        return False
    import mmap

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b'"') != -1


def _csv_arrow_options(opts: Mapping[str, Any], select: bool, src: Source,
                       types: pa.Schema | None = None) -> tuple[Any, Any, Any]:
    """pyarrow's (read, parse, convert) options for gpupipe's CSV options and file ``src``; ``types`` fixes every
    column's type."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(
        skip_rows=opts["skip_rows"],
        column_names=opts["names"],
        autogenerate_column_names=not opts["header"] and not opts["names"],
        block_size=_CSV_BLOCK,
    )
    if opts["names"] and opts["header"]:
        read.skip_rows_after_names = 1
    null_values = [*_CSV_NULL_VALUES, *list(opts["na_values"] or [])]
    column_types = {k: _arrow_type(v, k) for k, v in opts["dtype"].items()}
    # dtype bool: read as text, then as pandas takes it (words or 1/0, not both: _bool_columns)
    column_types = {k: pa.string() if t == pa.bool_() else t for k, t in column_types.items()}
    if types is not None:
        column_types = {f.name: f.type for f in types}
    convert = pcsv.ConvertOptions(
        column_types=column_types,
        include_columns=opts["columns"] if select else None,
        null_values=null_values,
        strings_can_be_null=True,
        true_values=list(_CSV_TRUE),
        false_values=list(_CSV_FALSE),
    )
    parse = pcsv.ParseOptions(delimiter=csv_sep(opts, src), newlines_in_values=_quoted_line_breaks_possible(src))
    return read, parse, convert


_CSV_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to ([\w\[\], ]+?): invalid value '(.*)'")
_CSV_FIELDS = re.compile(r"Expected (\d+) columns, got (\d+)")
_CSV_NOT_UTF8 = re.compile(r"In CSV column #(\d+): CSV conversion error to \w+: invalid UTF8 data")


def _not_utf8(src: Source, column: str, row: int | None = None) -> DataError:
    at = "" if row is None else f" (first in row {row}, counting data rows from 0)"
    return DataError(f"{src.name}: column {column} holds bytes that are not UTF-8 text{at}; gpupipe reads CSV files as "
                     "UTF-8: re-encode the file (e.g. iconv -f latin1 -t utf-8, or pandas.read_csv(path, "
                     "encoding=...) then gp.from_pandas)")


def _check_utf8(table: pa.Table, src: Source, opts: Mapping[str, Any]) -> None:
    """DataError naming the first column Arrow read as binary (it does when a value is not valid UTF-8, and then
    every value of the column comes out as bytes, ``b'Paris'`` for ``'Paris'``) unless ``dtype=`` asked for binary."""
    import pyarrow as pa

    for field in table.schema:
        if not (pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)) or field.name in opts["dtype"]:
            continue
        row = None
        for i, value in enumerate(table.column(field.name).to_pylist()):
            try:
                if value is not None:
                    value.decode("utf-8")
            except UnicodeDecodeError:
                row = i
                break
        raise _not_utf8(src, repr(field.name), row)


def _csv_parse_error(src: Source, exc: BaseException, read: Any, parse: Any) -> DataError | None:
    """pyarrow's CSV parse errors that are about the data, not damage, as a DataError naming the column and the fix
    (None for the others: they stay "could not read ... as CSV")."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    m = _CSV_CONVERSION.search(text)
    if m:
        k, to, value = int(m[1]), m[2], m[3]
        names: list[str] = []
        with contextlib.suppress(Exception):  # the header alone, without converting anything
            import pyarrow.csv as pcsv

            with src.readable(compression="infer") as f:
                names = pcsv.open_csv(f, read_options=read, parse_options=parse).schema.names
        col = repr(names[k]) if k < len(names) else f"#{k}"
        return DataError(f"{src.name}: column {col} holds {value!r}, which does not read as {to} (the dtype given, or "
                         f"the one its earlier rows gave it); read it as text (dtype={{{col}: 'str'}}) or fix the value")
    m = _CSV_NOT_UTF8.search(text)
    if m:
        names = []
        with contextlib.suppress(Exception):
            import pyarrow.csv as pcsv

            with src.readable(compression="infer") as f:
                names = pcsv.open_csv(f, read_options=read, parse_options=parse).schema.names
        k = int(m[1])
        return _not_utf8(src, repr(names[k]) if k < len(names) else f"#{k}")
    m = _CSV_FIELDS.search(text)
    if m:
        return DataError(f"{src.name}: {text}: a row has another number of fields than the first one. Check the "
                         f"delimiter (sep={parse.delimiter!r} was used), a delimiter at the end of lines, or a value "
                         "holding the delimiter without quotes")
    return None


def read_csv_arrow(src: Source, opts: Mapping[str, Any], *, select: bool = True) -> pa.Table:
    """One CSV file as an Arrow table, with gpupipe's NA tokens (a column with no value is null-typed).
    ``select=False`` reads every column (``opts["columns"]`` is then applied by the caller, so that a
    column some files lack is not an error)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with _reading("CSV", src):
        read, parse, convert = _csv_arrow_options(opts, select, src)
        try:
            with src.readable(compression="infer") as f:
                table = pcsv.read_csv(f, read_options=read, parse_options=parse, convert_options=convert)
        except KeyError as exc:  # include_columns names a column the file lacks
            raise SchemaError(f"{src.name}: {exc.args[0]}; check columns=") from exc
        except pa.ArrowInvalid as exc:
            named = _csv_parse_error(src, exc, read, parse)
            if named is None:
                raise
            raise named from exc
        table.schema.names  # noqa: B018  Arrow checks values are UTF-8, not header names: decode them here
        _check_utf8(table, src, opts)
        table = _bool_columns(table, src, opts)
        table = _hex_as_text(table, src, opts, read, parse, convert)
        table = _numeric_na(_exact_big_integers(table, src, opts, read, parse, convert), opts)
    check_column_names(table.column_names, src.name)
    return table


def _bool_columns(table: pa.Table, src: Source, opts: Mapping[str, Any]) -> pa.Table:
    """The columns ``dtype=`` asks to read as bool (read as text) as booleans, as pandas reads them: the words
    (:data:`_CSV_TRUE`, :data:`_CSV_FALSE`) or 1 and 0, not both in one column; anything else is a DataError naming
    the column and the value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name, dtype in opts["dtype"].items():
        if name not in table.column_names or _arrow_type(dtype, name) != pa.bool_():
            continue
        values = table.column(name)
        words = pc.is_in(values, value_set=pa.array([*_CSV_TRUE, *_CSV_FALSE]))
        digits = pc.is_in(values, value_set=pa.array(["1", "0"]))
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.or_(words, digits)))
        if pc.any(bad).as_py():
            value = values.filter(bad)[0].as_py()
            msg = (f"{src.name}: column {name!r} holds {value!r}, which does not read as bool (the dtype given); read "
                   f"it as text (dtype={{{name!r}: 'str'}}) or fix the value")
            raise DataError(msg)
        if pc.any(words).as_py() and pc.any(digits).as_py():
            msg = (f"{src.name}: column {name!r} holds both words and digits for booleans ({values.filter(words)[0]} "
                   f"and {values.filter(digits)[0]}), which pandas does not read as bool either; write one form, or "
                   f"read it as text (dtype={{{name!r}: 'str'}}) and map the values")
            raise DataError(msg)
        flags = pc.is_in(values, value_set=pa.array([*_CSV_TRUE, "1"]))
        table = table.set_column(table.schema.get_field_index(name), name, pc.if_else(pc.is_null(values), None, flags))
    return table


def _may_hold_hex(src: Source) -> bool:
    """Whether the text of ``src`` (decompressed) may hold ``0x``: a local uncompressed file is searched in place
    (mapped), others are streamed through once (a compressed file decompressed, a URL read again)."""
    import mmap

    if not src.remote and src.compression() is None:
        path = src.local()
        if path.stat().st_size == 0:
            return False
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return m.find(b"0x") >= 0 or m.find(b"0X") >= 0  # memchr speed; a regex scan took 0.5 s per 150 MB
    with src.open(compression="infer") as f:
        tail = b""
        while chunk := f.read(_CSV_BLOCK):
            block = tail + chunk
            if block.find(b"0x") >= 0 or block.find(b"0X") >= 0:
                return True
            tail = chunk[-1:]
    return False


def _columns_as_text(src: Source, names: Sequence[str], read: Any, parse: Any, convert: Any) -> pa.Table:
    """Columns ``names`` of CSV file ``src`` parsed again as text (nulls as the reader's null values give them), with
    the reader's read and parse options: what a column of inferred type held as written."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    text_convert = pcsv.ConvertOptions(column_types={c: pa.string() for c in names}, include_columns=list(names),
                                       null_values=convert.null_values, strings_can_be_null=True)
    with src.readable(compression="infer") as f:
        return pcsv.read_csv(f, read_options=read, parse_options=parse, convert_options=text_convert)


def _hex_as_text(table: pa.Table, src: Source, opts: Mapping[str, Any], read: Any, parse: Any,
                 convert: Any) -> pa.Table:
    """Integer columns (no dtype given) holding hexadecimal text read as that text, as pandas and Polars read them:
    Arrow's integer parser takes ``0x10`` as 16, so ``0x10`` and ``16`` in one column became one value, and hex
    codes lost their form. An integer column ``dtype=`` asked for holding hexadecimal text is a DataError naming
    it, as pandas refuses it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ints = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    if not ints or len(set(table.column_names)) < table.num_columns or not _may_hold_hex(src):  # repeated names: refused later
        return table
    text = _columns_as_text(src, ints, read, parse, convert)
    for name in ints:
        values = text.column(name)
        hex_text = pc.match_substring_regex(values, r"^\s*[+-]?0[xX]")
        if not pc.any(hex_text).as_py():
            continue
        if name in opts["dtype"]:
            first = values.filter(hex_text)[0].as_py()
            msg = (f"{src.name}: column {name!r} holds hexadecimal text ({first!r}), which dtype="
                   f"{opts['dtype'][name]!r} does not read as a decimal integer; read it as text (dtype={{{name!r}: "
                   f"'str'}}) and convert it (int(v, 16)), or fix the value")
            raise DataError(msg)
        table = table.set_column(table.schema.get_field_index(name), name, values)
    return table


def _exact_big_integers(table: pa.Table, src: Source, opts: Mapping[str, Any], read: Any, parse: Any,
                        convert: Any) -> pa.Table:
    """Columns of integers beyond int64 read exactly: pyarrow infers float64 for them, where distinct ids
    above 2**53 collapse. A float64 column (no dtype given) whose values are all whole with one of magnitude
    2**53 or more is parsed again as text; if every value is an integer literal it becomes int64 or uint64
    (``UInt64`` in pandas), as pandas reads it; otherwise it stays float64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    suspects = []
    for field in table.schema:
        if field.name in opts["dtype"] or not pa.types.is_float64(field.type):
            continue
        col = table.column(field.name)
        if col.null_count == len(col):
            continue
        top = pc.max(pc.abs(col)).as_py()
        if top is not None and top >= 2.0 ** 53 and pc.all(pc.equal(col, pc.floor(col))).as_py():
            suspects.append(field.name)
    if not suspects:
        return table
    text = _columns_as_text(src, suspects, read, parse, convert)
    for name in suspects:
        values = pc.utf8_trim_whitespace(text.column(name))
        if not pc.all(pc.match_substring_regex(values, r"^[+-]?[0-9]+$")).as_py():
            continue
        values = pc.replace_substring_regex(values, r"^\+", "")  # Arrow's integer parser takes no leading '+'

        for exact_type in (pa.int64(), pa.uint64()):
            try:
                exact = pc.cast(values, exact_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            table = table.set_column(table.schema.get_field_index(name), name, exact)
            break
        else:
            raise _beyond_64_bits(src, name, values)
    return table


def _beyond_64_bits(src: Source, name: str, values: pa.ChunkedArray) -> DataError:
    """DataError for a column of integer literals that neither int64 nor uint64 holds (beyond 2**64, or negatives
    beside values above 2**63): as float64 they would round, and distinct ids collapse."""
    ints = [int(v) for v in values.to_pylist() if v is not None]
    lo, hi = min(ints), max(ints)
    msg = (f"{src.name}: column {name!r} holds integers from {lo} to {hi}, which no 64-bit integer type holds (int64: "
           f"-2**63 to 2**63-1, uint64: 0 to 2**64-1); read as float64 they would be rounded and distinct values "
           f"merged. Read it as text, read_csv(path, dtype={{{name!r}: 'str'}}), for ids, or pass "
           f"dtype={{{name!r}: 'float64'}} to accept the rounding (for gp.Dataset: pass it the frame read_csv gives)")
    return DataError(msg)


def read_csv_rows(src: Source, opts: Mapping[str, Any], schema: pa.Schema, start: int, length: int) -> pa.Table:
    """Rows ``start .. start+length`` of a CSV file whose schema (every column's type, as :func:`read_csv_arrow`
    found it) is known: the file is parsed as a stream up to the last of them, with no type inference, and
    only these rows are kept (a CSV file has no index to seek to a row by)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    kept: list[pa.RecordBatch] = []
    with _reading("CSV", src):
        read, parse, convert = _csv_arrow_options(opts, False, src, schema)
        failed: Exception | None = None
        try:
            with src.readable(compression="infer") as f:
                reader = pcsv.open_csv(f, read_options=read, parse_options=parse, convert_options=convert)
                seen = 0
                for batch in reader:
                    a, b = max(start - seen, 0), min(start + length - seen, batch.num_rows)
                    if b > a:
                        kept.append(batch.slice(a, b - a))
                    seen += batch.num_rows
                    if seen >= start + length:
                        break
        except pa.ArrowInvalid as exc:
            failed = exc
    if failed is not None:
        # Values Arrow's CSV parser does not take for the type the whole read gave (integers beyond int64 written
        # with '+' or spaces: _exact_big_integers) go through that whole read; a file it now fails on has changed.
        table = read_csv_arrow(src, opts, select=False)
        if table.schema != schema:
            msg = (f"{src.name} no longer reads as it did when the Dataset was built ({failed}); the file changed: "
                   "build the Dataset again")
            raise DataError(msg) from failed
        return table.slice(start, length)
    table = _numeric_na(pa.Table.from_batches(kept, schema=reader.schema), opts)
    if table.schema != schema:  # the file changed since its schema was read
        msg = (f"{src.name}: its columns are now {table.schema.names} ({table.schema.types}), not the "
               f"{schema.names} ({schema.types}) found when the Dataset was built; build it again")
        raise SchemaError(msg)
    return table


def read_csv_tables(sources: Sequence[Source], opts: Mapping[str, Any]) -> pa.Table:
    """CSV files as one Arrow table with their unified schema."""
    import pyarrow as pa

    if _single(sources):
        table = read_csv_arrow(sources[0], opts)
        csv_target(sources, [table.schema], opts)  # names a dtype= column the file lacks
        return table
    tables = [read_csv_arrow(s, opts, select=False) for s in sources]
    target = csv_target(sources, [t.schema for t in tables], opts)
    return pa.concat_tables([conform_table(t, target, s, "read_csv") for s, t in zip(sources, tables, strict=True)])


_read_csv = Dispatch("read_csv", "Read CSV files (a list of Source) into a frame of the named backend.")
_read_csv.register_lazy("cudf", "gpupipe.io._cudf")


@_read_csv.register("pandas")
def _read_csv_pandas(sources: list[Source], opts: dict[str, Any]) -> Any:
    from ..backend._pandas import numpy_small_pages

    with numpy_small_pages():
        return arrow_to_pandas(read_csv_tables(sources, opts))


# ---------------------------------------------------------------------------- arrow ipc / feather
def read_arrow(path: PathLike) -> Any:
    """Read an Arrow IPC file (Feather v2), an IPC stream, or a Feather v1 file into a frame."""
    from .. import _validate as V

    V.path(path, "path", "read_arrow")
    p = Path(path)
    if not p.is_file():
        why = "is a directory; read_arrow reads one file" if p.is_dir() else "no such file; check the path"
        raise FileNotFoundError(errno.ENOENT, why, str(p))
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

    check_column_names(table.column_names, str(p))  # before converting: a repeated name broke it with AttributeError
    return _named(F.from_arrow.impl(get_backend().name)(table), [Source(str(p))])
