"""``gp.Dataset``: data larger than memory as Dask partitions of pandas or cuDF frames.

A Dataset is lazy: building one reads only file footers (parquet) or parses each CSV file once
(for its column types and row count); partitions are read when computed. Paths are expanded
exactly as :func:`gpupipe.read_parquet` expands them (files, directories, globs, lists, URLs,
hive partition directories as string columns), the files' schemas are unified once (the
union of their columns, types widened: :mod:`gpupipe.io._unify`), and every partition is read
with gpupipe's own readers and conformed to that schema, so a partition has exactly the dtypes
:func:`gpupipe.read_parquet` of all the files gives (nullable ``Int64`` on pandas, pandas' ``str``
for text) and a Dataset fit equals the in-memory fit.

Computation uses the active Dask client when there is one (``distributed.Client``, or
``gp.distributed.cluster()``), else Dask's default local scheduler. On a client, a task that killed every
worker it ran on (Dask's ``KilledWorker``) is a :class:`~gpupipe.errors.WorkerDiedError` naming its partition.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_write_entries
from ..backend import Dispatch, backend_of, get_backend
from ..errors import DataError, GpupipeError, ParameterError, SchemaError, WorkerDiedError
from ._sources import Source, check_storage_options, expand, fmt_of, is_url

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Dataset"]

PathLike = str | os.PathLike


@dataclass(frozen=True)
class _Piece:
    """One partition of a file: all of it, or ``length`` rows from ``start`` (row groups ``groups``),
    read as the Dataset's unified schema ``target``; ``own`` is the file's own schema, as found when the
    Dataset was built (for a CSV file: the one parse that counted its rows)."""

    backend: str
    source: Source
    fmt: str
    target: pa.Schema
    own: pa.Schema | None = None
    groups: tuple[int, ...] | None = None
    start: int = 0  # first row, counted from the first row of `groups` (or of the file)
    length: int | None = None
    sizes: tuple[int, ...] | None = None  # rows of each of the file's row groups, as its footer said (with `groups`)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (self.backend, self.source.path, self.source.hive, self.fmt, str(self.target), self.groups,
                self.start, self.length)

    def where(self) -> str:
        """What the piece holds, for messages: its file, and which of its rows (from 0) when it holds some of them."""
        if not self.length:  # the whole file
            return self.source.name
        first = self.start + (sum(self.sizes[:self.groups[0]]) if self.groups and self.sizes else 0)
        return f"rows {first} to {first + self.length - 1} of {self.source.name}"


class Dataset:
    """A lazily read, partitioned table on the active backend (Dask over pandas, dask-cuDF over cuDF).

    Parameters
    ----------
    source : path, glob, directory, URL, list of them, DataFrame, dask DataFrame or Dataset
        Parquet or CSV files (a directory is searched recursively for them, skipping names that
        start with ``.`` or ``_``; hive directories ``key=value`` give string columns; the files'
        schemas are unified as :func:`gpupipe.read_parquet` does), or an in-memory frame of
        either backend.
    partition_rows : int, optional
        Rows per partition. Without it: one partition per file (per frame). Partitions never span
        files. A parquet partition reads only the row groups it covers; a CSV file is parsed once
        when the Dataset is built (for its column types and rows), and each partition of it again,
        with those types, up to its last row (on cuDF: the whole file).
    columns : list of str, optional
        Read only these columns from files.
    storage_options : dict, optional
        fsspec options for URLs (``s3://``, ``gs://``, ``http(s)://``, ``memory://``), as for
        :func:`gpupipe.read_parquet`.

    Examples
    --------
    >>> import pandas as pd, gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     ds = gp.Dataset(pd.DataFrame({"a": range(10)}), partition_rows=4)
    >>> ds.num_partitions, len(ds.to_frame())
    (3, 10)
    """

    #: columns with no value in any file (null-typed in each file's own schema, or absent from it): their dtype is
    #: the unified schema's default and says nothing of their kind (Workflow.transform accepts any for them)
    _valueless: frozenset[str] = frozenset()
    #: where the files this Dataset reads lie (:func:`_location` of each), so that ``to_parquet`` never writes over them
    _reads: frozenset[tuple[str, str]] = frozenset()
    #: what each partition holds, for messages (its file, or which rows of a file or frame); empty when unknown
    _parts: tuple[str, ...] = ()

    def __init__(self, source: Any, partition_rows: int | None = None, *,
                 columns: Sequence[str] | None = None, storage_options: Mapping[str, Any] | None = None) -> None:
        from .. import _validate as V

        partition_rows = V.integer(partition_rows, "partition_rows", "gp.Dataset", min_value=1, none_ok=True,
                                   none_means="one partition per file or frame")
        columns = V.name_list(columns, "columns", "gp.Dataset", none_ok=True)
        self.partition_rows = partition_rows
        from .convert import as_frame

        source = as_frame(source, "gp.Dataset")  # a Polars frame, converted once
        if isinstance(source, Dataset):
            self._ddf, self.backend, self._valueless = source._ddf, source.backend, source._valueless
            self._reads, self._parts = source._reads, source._parts
        elif hasattr(source, "__dask_graph__") and hasattr(source, "npartitions"):
            self._ddf, self.backend = source, backend_of(source._meta)
        elif _is_frame(source):
            from ..backend import frame as F
            from .convert import check_column_names

            check_column_names(source.columns, "gp.Dataset")
            self.backend = backend_of(source)
            self._ddf, self._parts = _from_frame(F.normalize(source), partition_rows)
        elif isinstance(source, (str, os.PathLike)) or (
                isinstance(source, (list, tuple)) and source and all(isinstance(p, (str, os.PathLike)) for p in source)):
            check_storage_options(source, storage_options, "gp.Dataset")
            self.backend = get_backend().name
            self._ddf, self._valueless, self._reads, self._parts = _from_paths(
                source, partition_rows, None if columns is None else list(columns), self.backend, storage_options)
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
        ddf = self._ddf.optimize()  # the graph that runs: the key of a task that failed names its partition
        (frame,) = self._compute([ddf], {key: i for i, key in enumerate(ddf.__dask_keys__())})
        return frame.reset_index(drop=True)

    def head(self, n: int = 5) -> Any:
        """The first ``n`` rows of the first partition (a gpupipe error computing it names the partition)."""
        from .. import _validate as V

        n = V.integer(n, "n", "Dataset.head", min_value=0)
        (first,) = self._compute([self._ddf.get_partition(0)], 0)
        return first.head(n).reset_index(drop=True)

    def map_partials(self, fn: Callable[[Any], Any]) -> list[Any]:
        """``[fn(partition) for partition in self]``, computed in parallel, in partition order.

        ``fn`` should return something small (statistics): every result comes back to this
        process. This is how StatOps fit (``gpupipe.ops.base.map_partitions``). A gpupipe error
        ``fn`` raises names the partition (its counts and rows are the partition's).
        """
        import dask

        from .. import _validate as V

        V.callable_param(fn, "fn", "Dataset.map_partials", "a partition, returning its partial result")
        parts = self._ddf.to_delayed()
        tasks = [dask.delayed(_partition_of, pure=False)(fn, self._partition_name(i), part)
                 for i, part in enumerate(parts)]
        return list(self._compute(tasks, _owners(parts, tasks)))

    def iter_partitions(self) -> Iterator[Any]:
        """Yield each partition, computed, one at a time (only one is held by this iterator). A gpupipe error
        computing one (reading it, or a lazy transform's check) names the partition."""
        for i in range(self.num_partitions):
            (part,) = self._compute([self._ddf.get_partition(i)], i)
            yield part.reset_index(drop=True)

    def _partition_name(self, i: int) -> str:
        """How messages name partition ``i``: its number (from 0) and, where known, its file or rows."""
        where = self._parts[i] if i < len(self._parts) else ""
        return f"partition {i} of the dataset" + (f" ({where})" if where else "")

    def __iter__(self) -> Iterator[Any]:
        return self.iter_partitions()

    def map_partitions(self, fn: Callable[[Any], Any], meta: Any = None) -> Dataset:
        """A lazy Dataset of ``fn(partition)`` for each partition.

        ``meta`` is an empty frame with the output's columns and dtypes; without it ``fn`` is
        called once on an empty frame with this Dataset's columns to find them.
        """
        from .. import _validate as V

        V.callable_param(fn, "fn", "Dataset.map_partitions", "a partition, returning a frame")
        if meta is None:
            meta = fn(self._ddf._meta)
        ddf = self._ddf.map_partitions(partial(_partition_of, fn, None), meta=meta, enforce_metadata=False,
                                       align_dataframes=False)
        out = Dataset.__new__(Dataset)
        out._ddf, out.backend, out.partition_rows, out._reads = ddf, self.backend, self.partition_rows, self._reads
        out._parts = self._parts  # partition for partition
        return out

    def to_parquet(self, directory: PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Path | str:
        """Write each partition to ``directory/part-00000.parquet``, ``part-00001.parquet``, ...

        A new local directory is written whole beside its place, then renamed into it
        (:func:`gpupipe._files.atomic_write_dir`): it appears with every part, or not at all. Into an
        existing local directory, the parts are written to a hidden temporary directory inside it
        (which readers skip), and renamed over the previous ones only once every part is complete
        (:func:`gpupipe._files.atomic_write_entries`);
        part files left from an earlier, longer write are then removed, and the directory's other
        files kept. So a write that fails (an error computing or writing any partition, a full disk,
        an interrupt) leaves the previous content as it was; only a crash of the process during the
        final renames leaves some parts new and some from before. On object storage each part is
        one upload of the complete file, published by the store when complete, but a write failing
        midway leaves some parts new and some from before (or missing).

        Refused (:class:`~gpupipe.errors.ParameterError`, before anything is computed): a directory
        holding files this Dataset reads (each part would replace a file that later partitions still
        read), and one holding data files other than ``part-NNNNN.parquet`` (reading the directory back
        would add their rows).

        Parameters
        ----------
        directory : path or URL
            Created if missing (``s3://bucket/prefix/``, ``memory://...``: the prefix).
        storage_options : dict, optional
            fsspec options for a URL.

        Returns
        -------
        pathlib.Path or str
            ``directory`` (the URL, for a URL).
        """
        import dask

        from .. import _validate as V

        V.path(directory, "directory", "Dataset.to_parquet")
        check_storage_options(directory, storage_options, "Dataset.to_parquet")
        n = self.num_partitions
        if is_url(directory):
            from ._sources import filesystem, remote_errors

            url = str(directory).rstrip("/")
            fs, root = filesystem(url, storage_options)
            with remote_errors(url, "write"):
                if fs.isfile(root):
                    raise FileExistsError(17, "exists and is not a directory; give Dataset.to_parquet a prefix", url)
                base = root.rstrip("/")
                held = [p[len(base) + 1:] for p in fs.find(base) if p.startswith(base + "/")] if fs.exists(base) else []
            self._check_output(directory, url, held, _location(url, True))
            parts = self._ddf.to_delayed()
            tasks = [dask.delayed(_write_part, pure=False)(part, f"{url}/part-{i:05d}.parquet", storage_options)
                     for i, part in enumerate(parts)]
            self._compute(tasks, _owners(parts, tasks))
            with remote_errors(url, "write"):
                stale = [p for p in (fs.glob(f"{root}/part-*.parquet") if fs.exists(root) else [])
                         if (k := _part_number(p)) is not None and k >= n]
                if stale:
                    fs.rm(stale)
            return url
        out = Path(directory)
        if out.exists() and not out.is_dir():
            msg = f"{out} exists and is not a directory; give Dataset.to_parquet a directory"
            raise FileExistsError(msg)
        held = [f.relative_to(out).as_posix() for f in out.rglob("*") if f.is_file()] if out.is_dir() else []
        self._check_output(directory, str(out), held, _location(str(out), False))
        # a new directory appears whole; in an existing one the parts are renamed in once all are written
        previous = [p.name for p in out.glob("part-*.parquet") if _part_number(p.name) is not None] \
            if out.is_dir() else []
        atomic_write_entries(out, self._write_parts, replaces=previous)
        return out

    def _write_parts(self, directory: Path) -> None:
        """Compute each partition and write it to ``directory/part-NNNNN.parquet``."""
        import dask
        import dask.threaded
        from dask.base import get_scheduler

        # absolute: the parts are written by the tasks, which may run in workers started in another directory
        parts = self._ddf.to_delayed()
        tasks = [dask.delayed(_write_part, pure=False)(part, str(directory.absolute() / f"part-{i:05d}.parquet"))
                 for i, part in enumerate(parts)]
        owners = _owners(parts, tasks)
        if get_scheduler(collections=tasks) is not dask.threaded.get:
            self._compute(tasks, owners)
            return
        # Dask's local threads, in a pool of this call's own: when one part fails, the parts still being written
        # finish before the error leaves here, so none lands (or recreates its directory) after the caller's cleanup
        from concurrent.futures import ThreadPoolExecutor

        from dask.system import CPU_COUNT

        with ThreadPoolExecutor(dask.config.get("num_workers", None) or CPU_COUNT) as pool:
            self._compute(tasks, owners, pool=pool)

    def _compute(self, work: Sequence[Any], owner: Mapping[Any, int] | int, **kwargs: Any) -> tuple[Any, ...]:
        """``dask.compute(*work, **kwargs)``, naming the partition an error is of: ``owner`` maps the keys of the
        tasks that run to partition numbers, or is the one partition all of ``work`` belongs to. A task that killed
        every worker it ran on (distributed's ``KilledWorker``) is a :class:`~gpupipe.errors.WorkerDiedError` naming
        its partition; a gpupipe error computing the one partition ``owner`` names it too."""
        import dask

        try:
            return dask.compute(*work, **kwargs)
        except GpupipeError as exc:
            if isinstance(owner, int):
                raise _in_partition(exc, self._partition_name(owner)) from None
            raise
        except Exception as exc:
            # distributed is imported wherever a client could have raised it
            killed = getattr(sys.modules.get("distributed.scheduler"), "KilledWorker", None)
            if killed is None or not isinstance(exc, killed):
                raise
            raise self._worker_died(exc, owner if isinstance(owner, int) else owner.get(exc.task)) from exc

    def _worker_died(self, exc: Any, part: int | None) -> WorkerDiedError:
        """The :class:`~gpupipe.errors.WorkerDiedError` to raise from the ``KilledWorker`` ``exc`` of a task of
        partition ``part`` (None: of a task belonging to no single partition)."""
        allowed = int(exc.allowed_failures)
        tried = allowed + 1
        address = getattr(getattr(exc, "last_worker", None), "address", None)
        last = f", the last at {address}" if address else ""
        text = (f"every Dask worker that ran it died while running it ({tried} worker{'s' * (tried > 1)}"
                f"{last}; Dask task {exc.task!r}), so Dask gave up on it. A worker dies when it outgrows its memory "
                "(its nanny ends it near its memory_limit; the system may end it sooner) or crashes in native code; "
                "its log says which. Try: more memory per worker (gp.distributed.cluster(memory_limit=...), fewer "
                "workers with more each), smaller partitions (gp.Dataset(..., partition_rows=...)), or, for workers "
                "lost to other causes, more tries per task (the scheduler's distributed.scheduler.allowed-failures, "
                f"now {allowed}: dask.config.set({{'distributed.scheduler.allowed-failures': N}}) before "
                "gp.distributed.cluster() starts it). A worker's death counts against every task it was running, so "
                "the partition that ended it may be another one running beside this one")
        if part is None:
            return WorkerDiedError(f"a task of the dataset's computation that belongs to no single partition: {text}")
        died = WorkerDiedError(text)
        _in_partition(died, self._partition_name(part))  # named as a gpupipe error computing it is
        return died

    def _check_output(self, directory: Any, where: str, held: list[str], target: tuple[str, str]) -> None:
        """ParameterError unless ``directory`` (named ``where``, holding the files ``held``, relative paths) may
        take this Dataset's part files: it holds none of the files the Dataset reads, and no data file a reader of
        the directory would pick up besides ``part-NNNNN.parquet`` ones."""
        from .. import _validate as V

        proto, root = target
        inside = sorted(path if p == "file" else f"{p}://{path}" for p, path in self._reads
                        if p == proto and path.startswith(root.rstrip("/") + "/"))
        if inside:
            V.fail("Dataset.to_parquet", "directory", directory, "a directory this Dataset does not read from",
                   f"it reads {len(inside)} file(s) under {where} ({inside[0]}...), and each part written would "
                   "replace a file that later partitions still read (rows lost); write to another directory, then "
                   "move it")
        data = sorted(h for h in held if fmt_of(h) is not None and not any(x.startswith((".", "_")) for x in h.split("/"))
                      and not ("/" not in h and _part_number(h) is not None))
        if data:
            V.fail("Dataset.to_parquet", "directory", directory, "an empty directory, a new one, or one an earlier "
                   "to_parquet wrote", f"{where} holds {data[:5]}{'...' if len(data) > 5 else ''}, which readers of "
                   "the directory would read with the new part files; choose another directory, or remove them")


def _owners(parts: Sequence[Any], tasks: Sequence[Any]) -> dict[Any, int]:
    """The keys of each partition's delayed ``parts[i]`` and of the task ``tasks[i]`` computed from it → ``i``."""
    return {d.key: i for batch in (parts, tasks) for i, d in enumerate(batch)}


def _location(path: str, remote: bool) -> tuple[str, str]:
    """Where a file or directory lies, comparable between a Dataset's sources and a to_parquet target:
    ``("file", real path)`` for a local one, ``(protocol, path without protocol)`` for a URL."""
    import re

    if not remote:
        return "file", os.path.realpath(path)
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", path)
    proto = m.group(1).lower() if m else "file"
    return proto, path[m.end() if m else 0:].split("?", 1)[0].strip("/")


def _part_number(name: str) -> int | None:
    """``7`` for ``.../part-00007.parquet``, None for other names."""
    stem = name.rsplit("/", 1)[-1]
    if not (stem.startswith("part-") and stem.endswith(".parquet")):
        return None
    digits = stem[len("part-"):-len(".parquet")]
    return int(digits) if digits.isdigit() else None


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


def _partition_of(fn: Callable[[Any], Any], name: str | None, part: Any) -> Any:
    """``fn(part)``; a gpupipe error it raises names the partition (``name``), or, None (a lazy step of
    :meth:`Dataset.map_partitions`, which cannot tell which), says it is of one partition: its number is added
    where it is known."""
    try:
        return fn(part)
    except GpupipeError as exc:
        raise _in_partition(exc, name) from None


_A_PARTITION = "a partition of the dataset"


def _in_partition(exc: GpupipeError, name: str | None = None) -> GpupipeError:
    """``exc`` with its message prefixed by the partition's ``name`` (or, not known, by "a partition of the dataset"):
    what it counts, and its row numbers, are that partition's. A message names its partition once."""
    prefix = getattr(exc, "_gp_partition", None)
    if prefix is not None and (name is None or prefix != _A_PARTITION):
        return exc
    text = str(exc)[len(prefix) + 2:] if prefix is not None else str(exc)
    exc._gp_partition = name or _A_PARTITION  # type: ignore[attr-defined]
    exc.args = (f"{exc._gp_partition}: {text}", *exc.args[1:])  # type: ignore[attr-defined]
    return exc


def _from_frame(frame: Any, partition_rows: int | None) -> tuple[Any, tuple[str, ...]]:
    """The frame's partitions as a dask frame, and which of its rows each holds (nothing when one holds them all)."""
    import dask.dataframe as dd

    _register_backend(backend_of(frame))
    n = len(frame)
    step = partition_rows or max(n, 1)
    starts = range(0, max(n, 1), step)
    parts = [_FramePart(frame.iloc[a:a + step]) for a in starts]
    where = tuple(f"rows {a} to {min(a + step, n) - 1} of the frame" for a in starts) if len(parts) > 1 else ()
    with _no_string_conversion():
        return dd.from_map(_slice_frame, parts, meta=frame.iloc[:0].reset_index(drop=True),
                           enforce_metadata=False), where


def _from_paths(source: Any, partition_rows: int | None, columns: list[str] | None, backend: str,
                storage_options: Mapping[str, Any] | None
                ) -> tuple[Any, frozenset[str], frozenset[tuple[str, str]], tuple[str, ...]]:
    """The files' partitions as a dask frame, the columns no file holds a value of (see ``Dataset._valueless``),
    where the files lie (``Dataset._reads``) and what each partition holds (``Dataset._parts``)."""
    import dask.dataframe as dd

    sources = expand(source, formats=("parquet", "csv"), reader="gp.Dataset", storage_options=storage_options)
    # local files by absolute path: partitions are read by tasks, which may run in workers started elsewhere
    sources = [s if s.remote else replace(s, path=os.path.abspath(s.path),
                                       base=None if s.base is None else os.path.abspath(s.base))
               for s in sources]
    fmts = {s.path: fmt_of(s.path.rsplit("/", 1)[-1]) for s in sources}
    unknown = [p for p, k in fmts.items() if k is None]
    if unknown:
        msg = f"gp.Dataset: cannot tell the format of {unknown[:5]}; name files *.parquet or *.csv"
        raise DataError(msg)
    if len(set(fmts.values())) > 1:
        msg = (f"gp.Dataset: the files mix parquet and CSV ({[s.name for s in sources[:5]]}...); give one format per "
               "Dataset")
        raise DataError(msg)
    if next(iter(fmts.values())) == "parquet":
        pieces, meta = _parquet_pieces(sources, partition_rows, columns, backend)
    else:
        pieces, meta = _csv_pieces(sources, partition_rows, columns, backend)
    _register_backend(backend)
    with _no_string_conversion():
        ddf = dd.from_map(_read_piece, pieces, meta=meta, enforce_metadata=False)
    return (ddf, _valueless_columns(pieces), frozenset(_location(s.path, s.remote) for s in sources),
            tuple(p.where() for p in pieces))


def _valueless_columns(pieces: list[_Piece]) -> frozenset[str]:
    """Columns of the pieces' unified schema that no file holds a value of: null-typed in each file's own schema
    (an empty CSV column, a parquet column of Arrow's null type) or absent from it; never a hive column."""
    import pyarrow as pa

    if not pieces or any(p.own is None for p in pieces):
        return frozenset()
    names = set(pieces[0].target.names)
    for p in pieces:
        assert p.own is not None
        own, hive = p.own, dict(p.source.hive)
        names = {n for n in names if n not in hive and (n not in own.names or pa.types.is_null(own.field(n).type))}
    return frozenset(names)


def _parquet_pieces(sources: list[Source], partition_rows: int | None, columns: list[str] | None,
                    backend: str) -> tuple[list[_Piece], Any]:
    from ._unify import unify
    from .files import check_category_orders, parquet_footer

    footers = [parquet_footer(s, int96=True, columns=columns) for s in sources]
    target = unify([(s, schema) for s, (schema, _) in zip(sources, footers, strict=True)], columns=columns,
                   reader="gp.Dataset")
    check_category_orders(sources, [schema for schema, _ in footers], columns, "gp.Dataset")
    pieces: list[_Piece] = []
    for src, (own, sizes) in zip(sources, footers, strict=True):
        if partition_rows is None or sum(sizes) <= partition_rows:
            pieces.append(_Piece(backend, src, "parquet", target, own))
            continue
        starts = [sum(sizes[:g]) for g in range(len(sizes))]
        total = sum(sizes)
        for a in range(0, total, partition_rows):
            b = min(a + partition_rows, total)
            groups = [g for g in range(len(sizes)) if starts[g] < b and starts[g] + sizes[g] > a]
            pieces.append(_Piece(backend, src, "parquet", target, own, tuple(groups), a - starts[groups[0]], b - a,
                                 tuple(sizes)))
    return pieces, _meta_from_arrow(target.empty_table(), backend)


def _csv_pieces(sources: list[Source], partition_rows: int | None, columns: list[str] | None,
                backend: str) -> tuple[list[_Piece], Any]:
    from .files import csv_options, csv_target

    opts = csv_options()
    shapes = [_csv_schema.impl(backend)(s, opts) for s in sources]
    target = csv_target(sources, [schema for schema, _ in shapes], csv_options(columns=columns))
    pieces: list[_Piece] = []
    for src, (own, rows) in zip(sources, shapes, strict=True):
        if partition_rows is None:
            pieces.append(_Piece(backend, src, "csv", target, own))
            continue
        for a in range(0, max(rows, 1), partition_rows):
            pieces.append(_Piece(backend, src, "csv", target, own, None, a, min(partition_rows, rows - a)))
    return pieces, _meta_from_arrow(target.empty_table(), backend)


def _meta_from_arrow(table: Any, backend: str) -> Any:
    from ..backend import frame as F

    return F.from_arrow.impl(backend)(table)


# ---------------------------------------------------------------------- reading (runs in tasks)
def _read_piece(piece: _Piece) -> Any:
    if piece.fmt == "csv":
        from .files import csv_options

        return _read_csv_piece.impl(piece.backend)(piece, csv_options())
    return _read_parquet_piece.impl(piece.backend)(piece)


_csv_schema = Dispatch("csv_schema", "(Source, csv options) -> (the file's Arrow schema, all-empty columns null-typed; "
                                     "its row count): one parse of a CSV file on the named backend.")
_csv_schema.register_lazy("cudf", "gpupipe.io._cudf")
_read_csv_piece = Dispatch("read_csv_piece", "Read one partition (a _Piece) of a CSV file, as the Dataset's schema.")
_read_csv_piece.register_lazy("cudf", "gpupipe.io._cudf")
_read_parquet_piece = Dispatch("read_parquet_piece", "Read one partition (a _Piece) of a parquet file, as the "
                                                     "Dataset's schema.")
_read_parquet_piece.register_lazy("cudf", "gpupipe.io._cudf")


@_csv_schema.register("pandas")
def _csv_schema_pandas(src: Source, opts: dict[str, Any]) -> tuple[pa.Schema, int]:
    from .files import read_csv_arrow

    table = read_csv_arrow(src, opts, select=False)
    return table.schema, table.num_rows


@_read_csv_piece.register("pandas")
def _read_csv_piece_pandas(piece: _Piece, opts: dict[str, Any]) -> Any:
    from ._unify import conform_table
    from .convert import arrow_to_pandas
    from .files import read_csv_arrow, read_csv_rows

    if piece.length is None or piece.own is None:
        table = read_csv_arrow(piece.source, opts, select=False)
        if piece.length is not None:
            table = table.slice(piece.start, piece.length)
    else:  # parsed only up to the partition's last row, with the types found when the Dataset was built
        table = read_csv_rows(piece.source, opts, piece.own, piece.start, piece.length)
    return arrow_to_pandas(conform_table(table, piece.target, piece.source, "gp.Dataset"))


@_read_parquet_piece.register("pandas")
def _read_parquet_piece_pandas(piece: _Piece) -> Any:
    from .convert import arrow_to_pandas
    from .files import read_parquet_conformed

    assert piece.own is not None
    # Partitions get a plain 0..n-1 index: the target schema carries no pandas metadata.
    table = read_parquet_conformed(piece.source, piece.target, piece.own, piece.groups, piece.sizes)
    if piece.length is not None:
        table = table.slice(piece.start, piece.length)
    return arrow_to_pandas(table)


def _write_part(part: Any, path: str, storage_options: Mapping[str, Any] | None = None) -> str:
    from .files import write_parquet

    write_parquet(part.reset_index(drop=True), path, storage_options=storage_options)
    return path
