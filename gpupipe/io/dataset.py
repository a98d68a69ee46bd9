"""``gp.Dataset``: data larger than memory as Dask partitions of pandas or cuDF frames.

A Dataset is lazy: building one reads only file footers (parquet) or the first file (CSV, for
its dtypes); partitions are read when computed. Partitions are read with gpupipe's own readers,
so a partition has exactly the dtypes :func:`gpupipe.read_parquet` gives (nullable ``Int64`` on
pandas, pandas' ``str`` for text) and a Dataset fit equals the in-memory fit.

Computation uses the active Dask client when there is one (``distributed.Client``, or
``gp.distributed.cluster()``), else Dask's default local scheduler.
"""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backend import Dispatch, backend_of, get_backend
from ..errors import DataError, ParameterError, SchemaError

__all__ = ["Dataset"]

PathLike = str | os.PathLike
_PARQUET = (".parquet", ".parq", ".pq")
_CSV = (".csv", ".tsv", ".csv.gz", ".csv.bz2", ".csv.zst")
_GLOB_CHARS = ("*", "?", "[")


@dataclass(frozen=True)
class _Piece:
    """One partition of a file: all of it, or ``length`` rows from ``start`` (row groups ``groups``)."""

    backend: str
    path: str
    fmt: str
    columns: tuple[str, ...] | None
    groups: tuple[int, ...] | None = None
    start: int = 0  # first row, counted from the first row of `groups` (or of the file)
    length: int | None = None


class Dataset:
    """A lazily read, partitioned table on the active backend (Dask over pandas, dask-cuDF over cuDF).

    Parameters
    ----------
    source : path, glob, directory, list of paths, DataFrame, dask DataFrame or Dataset
        Parquet or CSV files (a directory is searched recursively for them, skipping names that
        start with ``.`` or ``_``), or an in-memory frame of either backend.
    partition_rows : int, optional
        Rows per partition. Without it: one partition per file (per frame). Partitions never span
        files. A parquet partition reads only the row groups it covers; a CSV file is parsed once
        when the Dataset is built (to count its rows) and once per partition.
    columns : list of str, optional
        Read only these columns from files.

    Examples
    --------
    >>> import pandas as pd, gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     ds = gp.Dataset(pd.DataFrame({"a": range(10)}), partition_rows=4)
    >>> ds.num_partitions, len(ds.to_frame())
    (3, 10)
    """

    def __init__(self, source: Any, partition_rows: int | None = None, *,
                 columns: Sequence[str] | None = None) -> None:
        from .. import _validate as V

        partition_rows = V.integer(partition_rows, "partition_rows", "gp.Dataset", min_value=1, none_ok=True,
                                   none_means="one partition per file or frame")
        columns = V.name_list(columns, "columns", "gp.Dataset", none_ok=True)
        self.partition_rows = partition_rows
        if isinstance(source, Dataset):
            self._ddf, self.backend = source._ddf, source.backend
        elif hasattr(source, "__dask_graph__") and hasattr(source, "npartitions"):
            self._ddf, self.backend = source, backend_of(source._meta)
        elif _is_frame(source):
            from ..backend import frame as F
            from .convert import check_column_names

            check_column_names(source.columns, "gp.Dataset")
            self.backend = backend_of(source)
            self._ddf = _from_frame(F.normalize(source), partition_rows)
        elif isinstance(source, (str, os.PathLike)) or (
                isinstance(source, (list, tuple)) and source and all(isinstance(p, (str, os.PathLike)) for p in source)):
            self.backend = get_backend().name
            self._ddf = _from_paths(source, partition_rows, None if columns is None else list(columns), self.backend)
        else:
            msg = (f"gp.Dataset takes paths (file, glob, directory or list), a pandas/cuDF DataFrame, a dask "
                   f"DataFrame or a Dataset as source; got {type(source).__module__}.{type(source).__qualname__}")
            raise ParameterError(msg)
        if columns is not None and not isinstance(source, (str, os.PathLike, list, tuple)):
            missing = [c for c in columns if c not in self.columns]
            if missing:
                raise SchemaError(f"Dataset: columns {missing} not found; it has {self.columns}")
            self._ddf = self._ddf[list(columns)]

    # ------------------------------------------------------------------ description
    @property
    def num_partitions(self) -> int:
        """Number of partitions."""
        return int(self._ddf.npartitions)

    @property
    def columns(self) -> list[str]:
        """Column names."""
        return [str(c) for c in self._ddf.columns]

    @property
    def dtypes(self) -> dict[str, Any]:
        """Column name → dtype, as each partition has them."""
        meta = self._ddf._meta
        return {str(c): meta[c].dtype for c in meta.columns}

    @property
    def num_rows(self) -> int:
        """Total rows (reads every partition unless the files' footers say it)."""
        return int(sum(self.map_partials(len)))

    def __repr__(self) -> str:
        cols = self.columns
        shown = cols if len(cols) <= 8 else [*cols[:8], "..."]
        return f"Dataset(backend={self.backend!r}, partitions={self.num_partitions}, columns={shown})"

    # ------------------------------------------------------------------ computing
    def to_dask(self) -> Any:
        """The underlying ``dask.dataframe.DataFrame`` (of pandas or cuDF partitions)."""
        return self._ddf

    def to_frame(self) -> Any:
        """Compute every partition and concatenate them into one frame (index 0..n-1)."""
        return self._ddf.compute().reset_index(drop=True)

    def head(self, n: int = 5) -> Any:
        """The first ``n`` rows of the first partition."""
        return self._ddf.get_partition(0).compute().head(n).reset_index(drop=True)

    def map_partials(self, fn: Callable[[Any], Any]) -> list[Any]:
        """``[fn(partition) for partition in self]``, computed in parallel, in partition order.

        ``fn`` should return something small (statistics): every result comes back to this
        process. This is how StatOps fit (``gpupipe.ops.base.map_partitions``).
        """
        import dask

        tasks = [dask.delayed(fn, pure=False)(part) for part in self._ddf.to_delayed()]
        return list(dask.compute(*tasks))

    def iter_partitions(self) -> Iterator[Any]:
        """Yield each partition, computed, one at a time (only one is held by this iterator)."""
        for i in range(self.num_partitions):
            yield self._ddf.get_partition(i).compute().reset_index(drop=True)

    def __iter__(self) -> Iterator[Any]:
        return self.iter_partitions()

    def map_partitions(self, fn: Callable[[Any], Any], meta: Any = None) -> Dataset:
        """A lazy Dataset of ``fn(partition)`` for each partition.

        ``meta`` is an empty frame with the output's columns and dtypes; without it ``fn`` is
        called once on an empty frame with this Dataset's columns to find them.
        """
        if meta is None:
            meta = fn(self._ddf._meta)
        ddf = self._ddf.map_partitions(fn, meta=meta, enforce_metadata=False, align_dataframes=False)
        out = Dataset.__new__(Dataset)
        out._ddf, out.backend, out.partition_rows = ddf, self.backend, self.partition_rows
        return out

    def to_parquet(self, directory: PathLike) -> Path:
        """Write each partition to ``directory/part-00000.parquet``, ``part-00001.parquet``, ...

        Each file is written atomically (temporary file, then rename). Part files left from an
        earlier, longer write to the same directory are removed after the new ones are complete.

        Returns
        -------
        pathlib.Path
            ``directory``.
        """
        import dask

        out = Path(directory)
        if out.exists() and not out.is_dir():
            msg = f"{out} exists and is not a directory; give Dataset.to_parquet a directory"
            raise FileExistsError(msg)
        out.mkdir(parents=True, exist_ok=True)
        n = self.num_partitions
        tasks = [dask.delayed(_write_part, pure=False)(part, str(out / f"part-{i:05d}.parquet"))
                 for i, part in enumerate(self._ddf.to_delayed())]
        dask.compute(*tasks)
        for old in out.glob("part-*.parquet"):
            stem = old.name[len("part-"):-len(".parquet")]
            if stem.isdigit() and int(stem) >= n:
                old.unlink()
        return out


# ---------------------------------------------------------------------- building
def _is_frame(obj: Any) -> bool:
    try:
        backend_of(obj)
    except TypeError:
        return False
    return hasattr(obj, "columns")


def _no_string_conversion() -> Any:
    import dask

    # Dask would turn pandas 3's `str` columns into `string[pyarrow]`; partitions must keep
    # exactly the dtypes gpupipe's readers give, so fits match in-memory fits.
    return dask.config.set({"dataframe.convert-string": False})


_register_dask = Dispatch("register_dask", "Prepare Dask for partitions of the named backend (``impl(backend)()``).")
_register_dask.register_lazy("cudf", "gpupipe.io._cudf")


@_register_dask.register("pandas")
def _register_dask_pandas() -> None:
    return None  # dask.dataframe knows pandas partitions


def _register_backend(backend: str) -> None:
    _register_dask.impl(backend)()


class _FramePart:
    """A slice of an in-memory frame, named by a random token: Dask would otherwise hash its data."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self.token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self.token


def _slice_frame(part: _FramePart) -> Any:
    return part.frame.reset_index(drop=True)


def _from_frame(frame: Any, partition_rows: int | None) -> Any:
    import dask.dataframe as dd

    _register_backend(backend_of(frame))
    n = len(frame)
    step = partition_rows or max(n, 1)
    parts = [_FramePart(frame.iloc[a:a + step]) for a in range(0, max(n, 1), step)]
    with _no_string_conversion():
        return dd.from_map(_slice_frame, parts, meta=frame.iloc[:0].reset_index(drop=True), enforce_metadata=False)


def _expand(source: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in _GLOB_CHARS):
            matched = sorted(glob.glob(text, recursive=True))
            if not matched:
                raise FileNotFoundError(2, "no file matches the pattern; check the path", text)
            files.extend(Path(m) for m in matched if Path(m).is_file())
        else:
            p = Path(text)
            if p.is_dir():
                found = sorted(f for f in p.rglob("*") if f.is_file() and _fmt(f)
                               and not any(part.startswith((".", "_")) for part in f.relative_to(p).parts))
                if not found:
                    msg = f"directory {p} holds no parquet or CSV files ({', '.join(_PARQUET + _CSV)})"
                    raise DataError(msg)
                files.extend(found)
            elif p.is_file():
                files.append(p)
            else:
                raise FileNotFoundError(2, "no such file or directory; check the path", text)
    if not files:
        raise FileNotFoundError(2, "no files found", str(source))
    return files


def _fmt(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_PARQUET):
        return "parquet"
    if name.endswith(_CSV):
        return "csv"
    return None


def _from_paths(source: Any, partition_rows: int | None, columns: list[str] | None, backend: str) -> Any:
    import dask.dataframe as dd

    files = _expand(source)
    fmts = {f: _fmt(f) for f in files}
    unknown = [str(f) for f, k in fmts.items() if k is None]
    if unknown:
        msg = f"cannot tell the format of {unknown[:5]}; name files *.parquet or *.csv"
        raise DataError(msg)
    if len(set(fmts.values())) > 1:
        msg = f"the files mix parquet and CSV ({[str(f) for f in files[:5]]}...); give one format per Dataset"
        raise DataError(msg)
    fmt = next(iter(fmts.values()))
    cols = tuple(columns) if columns is not None else None
    if fmt == "parquet":
        pieces, meta = _parquet_pieces(files, partition_rows, cols, backend)
    else:
        pieces, meta = _csv_pieces(files, partition_rows, cols, backend)
    _register_backend(backend)
    with _no_string_conversion():
        return dd.from_map(_read_piece, pieces, meta=meta, enforce_metadata=False)


def _parquet_pieces(files: list[Path], partition_rows: int | None, columns: tuple[str, ...] | None,
                    backend: str) -> tuple[list[_Piece], Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .files import _read_failed

    pieces: list[_Piece] = []
    first_schema = None
    for f in files:
        try:
            md = pq.ParquetFile(f).metadata
            schema = md.schema.to_arrow_schema()
        except (pa.ArrowException, OSError) as exc:
            raise _read_failed("parquet", f, exc) from exc
        if columns is not None:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise SchemaError(f"{f} has no column(s) {missing}; it has {schema.names}")
            schema = pa.schema([schema.field(c) for c in columns])
        if first_schema is None:
            first_schema = schema
        elif schema.names != first_schema.names:
            msg = (f"{f} has columns {schema.names} but {files[0]} has {first_schema.names}; a Dataset needs the "
                   "same columns in every file (pass columns= to read the common ones)")
            raise DataError(msg)
        sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
        if partition_rows is None or sum(sizes) <= partition_rows:
            pieces.append(_Piece(backend, str(f), "parquet", columns))
            continue
        starts = [sum(sizes[:g]) for g in range(len(sizes))]
        total = sum(sizes)
        for a in range(0, total, partition_rows):
            b = min(a + partition_rows, total)
            groups = [g for g in range(len(sizes)) if starts[g] < b and starts[g] + sizes[g] > a]
            pieces.append(_Piece(backend, str(f), "parquet", columns, tuple(groups), a - starts[groups[0]], b - a))
    assert first_schema is not None
    return pieces, _meta_from_arrow(first_schema.remove_metadata().empty_table(), backend)


def _csv_pieces(files: list[Path], partition_rows: int | None, columns: tuple[str, ...] | None,
                backend: str) -> tuple[list[_Piece], Any]:
    from .files import _read_csv

    first = _read_csv.impl(backend)([files[0]], _csv_opts(columns))
    meta = first.iloc[:0]
    pieces: list[_Piece] = []
    for f in files:
        if partition_rows is None:
            pieces.append(_Piece(backend, str(f), "csv", columns))
            continue
        rows = len(first) if f == files[0] else len(_read_csv.impl(backend)([f], _csv_opts(columns)))
        for a in range(0, max(rows, 1), partition_rows):
            pieces.append(_Piece(backend, str(f), "csv", columns, None, a, min(partition_rows, rows - a)))
    return pieces, meta


def _csv_opts(columns: tuple[str, ...] | None) -> dict[str, Any]:
    # the defaults of gpupipe.read_csv
    return {"columns": None if columns is None else list(columns), "dtype": {}, "sep": ",", "na_values": None,
            "header": True, "names": None, "skip_rows": 0}


def _meta_from_arrow(table: Any, backend: str) -> Any:
    from ..backend import frame as F

    return F.from_arrow.impl(backend)(table)


# ---------------------------------------------------------------------- reading (runs in tasks)
def _read_piece(piece: _Piece) -> Any:
    if piece.fmt == "csv":
        from .files import _read_csv

        frame = _read_csv.impl(piece.backend)([Path(piece.path)], _csv_opts(piece.columns))
        if piece.length is not None:
            frame = frame.iloc[piece.start:piece.start + piece.length]
        return frame.reset_index(drop=True)
    return _read_parquet_piece.impl(piece.backend)(piece)


_read_parquet_piece = Dispatch("read_parquet_piece", "Read one partition (a _Piece) of a parquet file.")
_read_parquet_piece.register_lazy("cudf", "gpupipe.io._cudf")


@_read_parquet_piece.register("pandas")
def _read_parquet_piece_pandas(piece: _Piece) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .convert import arrow_to_pandas
    from .files import _read_failed

    cols = None if piece.columns is None else list(piece.columns)
    try:
        pf = pq.ParquetFile(piece.path, page_checksum_verification=True)
        table = pf.read(columns=cols) if piece.groups is None else pf.read_row_groups(list(piece.groups), columns=cols)
    except (pa.ArrowException, OSError) as exc:
        raise _read_failed("parquet", piece.path, exc) from exc
    if piece.length is not None:
        table = table.slice(piece.start, piece.length)
    # Drop pandas index metadata: partitions get a plain 0..n-1 index.
    return arrow_to_pandas(table.replace_schema_metadata(None))


def _write_part(part: Any, path: str) -> str:
    from .files import write_parquet

    write_parquet(part.reset_index(drop=True), path)
    return path
