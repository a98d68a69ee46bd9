"""cuDF readers and writers, and dask-cuDF partitions: the IO half of the cuDF backend.

Readers give the frames the pandas readers give, column for column (see
:mod:`gpupipe.backend.frame`): the same NA tokens for CSV, all-missing CSV columns as float64,
Arrow's canonical types, the same unified schema across files (:mod:`gpupipe.io._unify`) and the
same hive partition columns. libcudf refuses files whose schemas differ (``All sources must have
the same schema``) and silently drops requested columns a file lacks
(``ignore_missing_columns=True``), so schemas are read from the footers first (on the host) and
checked: files that already have the unified schema are read in one cuDF call, others one by one
and conformed on the device. URLs go through cuDF's own remote IO (``storage_options``).
Out-of-memory errors become :class:`~gpupipe.errors.OutOfMemoryError` with advice; other
failures a :class:`~gpupipe.errors.DataError` naming the file.

What each backend verifies on read: the pandas backend checks parquet page CRC checksums
(``write_parquet`` writes them on both backends' pandas path). libcudf's parquet reader computes
and checks none (rapidsai/cudf ``cpp/src/io/parquet``), and libcudf's writer writes none: on cuDF a
damaged data page can decode to other values. Both backends check the footer and the schema
(a truncated file or a missing column is a named error).

CSV text that is not UTF-8: the pandas backend raises a DataError naming the file, the column and the row.
libcudf's CSV reader does not look: a field holding other bytes counts as text when types are inferred
(``cpp/src/io/csv/csv_gpu.cu``, ``data_type_detection``), and a string field is kept as a pointer and a
length into the file's bytes (``convert_csv_to_cudf``) from which the strings column is made as it is
(``cpp/src/io/csv/reader_impl.cu``). Neither libcudf's public strings API (``cpp/include/cudf/strings``) nor
pylibcudf 26.10 has a UTF-8 validity check (the one in libcudf's source, ``is_valid_utf8`` in
``cpp/src/io/parquet/page_enc.cu``, is a device function of the parquet writer's statistics truncation), and
the readers here do not copy text columns to the host to check them there, so on cuDF such a column holds the
file's bytes as they are, without an error. Only a header name that is not UTF-8 fails, when pylibcudf
decodes the column names (``python/pylibcudf/pylibcudf/io/types.pyx``, ``column_names``): a DataError
naming the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DataError, oom_advice
from ._sources import Source, remote_errors
from ._unify import columns_to_read
from .dataset import _csv_schema, _Piece, _read_csv_piece, _read_parquet_piece, _register_dask
from .files import (
    _CSV_NULL_VALUES,
    _na_floats,
    _na_numbers,
    _read_csv,
    _read_failed,
    _read_parquet,
    _write_parquet,
    check_row_groups,
    csv_sep,
    csv_target,
    parquet_footer,
    parquet_target,
)

if TYPE_CHECKING:
    import cudf
    import pyarrow as pa


@contextlib.contextmanager
def _reading(kind: str, where: str, src: Source | None) -> Iterator[None]:
    # oom_advice outside the try: an OutOfMemoryError (a RuntimeError) must not be re-read as a damaged file
    with oom_advice(f"reading {where} with cuDF", "read"), \
            (remote_errors(src.name) if src is not None and src.remote else contextlib.nullcontext()):
        try:
            yield
        except (MemoryError, FileNotFoundError, PermissionError, ConnectionError):
            raise
        except (OSError, RuntimeError, ValueError) as exc:
            raise _read_failed(kind, where, exc) from exc


def _options(src: Source) -> dict[str, Any] | None:
    return dict(src.storage_options or {}) if src.remote else None


# ---------------------------------------------------------------------------- conforming to one schema
def _dtype(t: pa.DataType) -> Any:
    """The cuDF dtype of an Arrow type (as an empty column of it has)."""
    import cudf
    import pyarrow as pa

    empty: cudf.Series = cudf.Series.from_arrow(pa.array([], type=t))
    return empty.dtype


def _conform(frame: cudf.DataFrame, target: pa.Schema, src: Source, own: pa.Schema, reader: str) -> cudf.DataFrame:
    """``frame`` (read from ``src``, whose own schema is ``own``) with exactly ``target``'s columns and
    dtypes: a column the file lacks or holds null-typed becomes nulls, others are cast (a widening the
    unified schema allows), hive partition columns hold the directory's text."""
    import cudf
    import pyarrow as pa

    from ..backend._cudf import column

    n = len(frame)
    hive = dict(src.hive)
    out: dict[str, cudf.Series] = {}
    for f in target:
        if f.name in hive:
            value = hive[f.name]
            one: cudf.Series = cudf.Series.from_arrow(pa.array([value], type=f.type))
            repeated: cudf.Series = one.repeat(n).reset_index(drop=True)
            out[f.name] = repeated
        elif f.name in frame.columns and f.name in own.names and not pa.types.is_null(own.field(f.name).type):
            s = column(frame, f.name)
            want = _dtype(f.type)
            if s.dtype != want:
                try:
                    s = s.astype(want)
                except (TypeError, ValueError, OverflowError) as exc:
                    msg = (f"{reader}: column {f.name!r} of {src.name} ({s.dtype}) does not fit the type {f.type} the "
                           f"other files give it: {exc}")
                    raise DataError(msg) from exc
            aligned: cudf.Series = s.reset_index(drop=True)
            out[f.name] = aligned
        else:
            out[f.name] = cudf.Series.from_arrow(pa.nulls(n, f.type))
    return cudf.DataFrame(out)


def _rows(frame: cudf.DataFrame, piece: _Piece) -> cudf.DataFrame:
    """The piece's rows of a file (all of them when it covers the whole file), indexed 0..n-1."""
    if piece.length is None:
        return frame
    part: cudf.DataFrame = frame[piece.start:piece.start + piece.length]  # a slice selects rows
    return part.reset_index(drop=True)


# ---------------------------------------------------------------------------- parquet
def _read_parquet_files(paths: list[str], columns: list[str], src: Source, where: str,
                        row_groups: list[list[int]] | None = None) -> cudf.DataFrame:
    import cudf

    with _reading("parquet", where, src):
        frame = cudf.read_parquet(paths, columns=columns, row_groups=row_groups, storage_options=_options(src))
    if isinstance(frame.index, cudf.RangeIndex):
        return frame.reset_index(drop=True)
    # A pandas index stored in the file: cuDF moves its columns into the index whatever use_pandas_metadata says
    # (python/cudf/cudf/io/parquet.py, _process_metadata: "Set the index column"), also those asked for by name,
    # each level named as pandas named it (None for an unnamed one, stored as __index_level_N__). As the pandas
    # readers give them: the levels asked for are columns again under their stored names, in the order asked
    # for; the others (an unnamed integer index: row numbers, which parquet_footer leaves out) are dropped.
    names = list(frame.index.names)
    out = frame.reset_index()
    stored = {str(produced): (str(name) if name is not None else f"__index_level_{i}__")
              for i, (produced, name) in enumerate(zip(out.columns[:len(names)], names, strict=True))}
    out = out.rename(columns=stored)
    return out[[c for c in columns if c in out.columns]]


@_read_parquet.register("cudf")
def _read_parquet_cudf(sources: list[Source], columns: list[str] | None) -> cudf.DataFrame:
    import cudf

    target, schemas = parquet_target(sources, columns)
    where = sources[0].name if len(sources) == 1 else f"{len(sources)} parquet files from {sources[0].name}"
    same = all(n in s.names and s.field(n).type == target.field(n).type for s in schemas for n in target.names)
    if same and not any(s.hive for s in sources) and len({s.remote for s in sources}) == 1:
        # every file already has the unified schema: one libcudf read over all of them
        return _read_parquet_files([s.path for s in sources], list(target.names), sources[0], where)
    frames = []
    for src, own in zip(sources, schemas, strict=True):
        frame = _read_parquet_files([src.path], columns_to_read(target, src, own)[1], src, src.name)
        frames.append(_conform(frame, target, src, own, "read_parquet"))
    return frames[0] if len(frames) == 1 else cudf.concat(frames, ignore_index=True)


@_read_parquet_piece.register("cudf")
def _read_parquet_piece_cudf(piece: _Piece) -> cudf.DataFrame:
    src, own, target = piece.source, piece.own, piece.target
    if piece.sizes is not None:  # row groups are chosen by number: those of a rewritten file hold other rows
        check_row_groups(src, parquet_footer(src)[1], piece.sizes)
    frame = _read_parquet_files([src.path], columns_to_read(target, src, own)[1], src, src.name,
                                None if piece.groups is None else [list(piece.groups)])
    return _conform(_rows(frame, piece), target, src, own, "gp.Dataset")


@_write_parquet.register("cudf")
def _write_parquet_cudf(frame: cudf.DataFrame, path: str, compression: str) -> None:
    frame.to_parquet(path, compression=compression, index=False)


# ---------------------------------------------------------------------------- csv
def _read_csv_file(src: Source, opts: dict[str, Any]) -> cudf.DataFrame:
    import cudf

    # the pyarrow path's NA tokens exactly, and no others (cuDF's defaults add more)
    na = [*_CSV_NULL_VALUES, *list(opts["na_values"] or [])]
    kw: dict[str, Any] = {"sep": csv_sep(opts, src), "skiprows": opts["skip_rows"], "na_values": na,
                          "keep_default_na": False, "na_filter": True}
    if opts["dtype"]:
        kw["dtype"] = opts["dtype"]
    if opts["names"] is not None:
        kw["names"] = opts["names"]
        kw["header"] = 0 if opts["header"] else None
    elif not opts["header"]:
        kw["header"] = None
    with _reading("CSV", src.name, src):
        return cudf.read_csv(src.path, storage_options=_options(src), **kw)


def _null_na_numbers(frame: cudf.DataFrame, na_values: Sequence[str] | None) -> cudf.DataFrame:
    """``frame`` (a CSV file's columns as read) with the values of its float columns equal to a number among
    ``na_values`` null, as the pandas reader nulls them (:func:`gpupipe.io.files._numeric_na`).

    libcudf compares ``na_values`` with a field's text only (``cpp/src/io/csv/csv_gpu.cu``,
    ``convert_csv_to_cudf``: ``serialized_trie_contains`` over the raw field, before any number is parsed), so
    of ``-999`` it nulls the spellings ``na_values`` holds (``-999`` and ``-999.0``, added by ``_na_spellings``)
    and keeps ``-999.00`` and ``-9.99e2`` as -999. Null, not NaN: libcudf reads the file's NA tokens as nulls,
    and a float column of either reads back as NaN on pandas (``to_pandas`` goes through Arrow).

    Called after the file's schema is taken (:func:`_csv_file_schema`), as pyarrow types a column before
    ``_numeric_na``: a float column every value of which is such a number stays float64, not null-typed.
    """
    from ..backend import frame as F
    from ..backend._cudf import column

    if not _na_numbers(na_values):
        return frame
    changed: dict[str, cudf.Series] = {}
    for name in frame.columns:
        s = column(frame, name)
        if F.kind(s.dtype) != "float":
            continue
        values = _na_floats(na_values, s.dtype)
        if not len(values):
            continue
        # needles of the column's own dtype: no cast of either side (python/cudf/cudf/core/column/numerical.py,
        # _process_values_for_isin); libcudf's contains compares floats with == (NaN equal to NaN), so -0.0
        # matches 0 (cpp/src/search/contains_table.cu, cpp/include/cudf/detail/row_operator/equality.cuh
        # nan_equal_physical_equality_comparator); a null row gives False (python/cudf/cudf/core/column/column.py,
        # isin: fillna)
        hit: cudf.Series = s.isin(values)
        # mask(cond) is where(~cond, other=None) (python/cudf/cudf/core/indexed_frame.py, mask), and other=None is
        # a null scalar of the column's type (python/cudf/cudf/core/column/column.py, _cast_self_and_other_for_where):
        # nulls, the dtype unchanged
        nulled: cudf.Series = s.mask(hit)
        changed[name] = nulled
    # same index as the frame: setting them does not realign (python/cudf/cudf/core/indexed_frame.py,
    # _align_to_index returns self when the indexes are equal)
    return F.with_columns(frame, changed) if changed else frame


def _csv_file_schema(frame: cudf.DataFrame, opts: dict[str, Any]) -> pa.Schema:
    """The file's Arrow schema, a column with no value at all (which libcudf reads as int8) null-typed,
    as pyarrow's parser types it: its type comes from the other files, or is float64."""
    import pyarrow as pa

    from ..backend._cudf import column

    schema = frame.head(0).to_arrow(preserve_index=False).schema
    fields = []
    for f in schema:
        s = column(frame, f.name)
        empty = f.name not in opts["dtype"] and (len(s) == 0 or int(s.null_count) == len(s))
        fields.append(pa.field(f.name, pa.null()) if empty else f)
    return pa.schema(fields)


@_read_csv.register("cudf")
def _read_csv_cudf(sources: list[Source], opts: dict[str, Any]) -> cudf.DataFrame:
    import cudf

    frames = [_read_csv_file(s, opts) for s in sources]
    schemas = [_csv_file_schema(f, opts) for f in frames]
    target = csv_target(sources, schemas, opts)
    parts = [_conform(_null_na_numbers(f, opts["na_values"]), target, s, own, "read_csv")
             for f, s, own in zip(frames, sources, schemas, strict=True)]
    return parts[0] if len(parts) == 1 else cudf.concat(parts, ignore_index=True)


@_csv_schema.register("cudf")
def _csv_schema_cudf(src: Source, opts: dict[str, Any]) -> tuple[pa.Schema, int]:
    frame = _read_csv_file(src, opts)
    return _csv_file_schema(frame, opts), len(frame)


@_read_csv_piece.register("cudf")
def _read_csv_piece_cudf(piece: _Piece, opts: dict[str, Any]) -> cudf.DataFrame:
    frame = _read_csv_file(piece.source, opts)
    # the schema found when the Dataset was built: no per-column null counts (device syncs) per partition
    own = piece.own if piece.own is not None else _csv_file_schema(frame, opts)
    rows = _null_na_numbers(_rows(frame, piece), opts["na_values"])
    return _conform(rows, piece.target, piece.source, own, "gp.Dataset")


@_register_dask.register("cudf")
def _register_dask_cudf() -> None:
    import dask_cudf  # noqa: F401  (registers cuDF partitions with dask.dataframe)

