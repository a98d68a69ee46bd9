"""Where data comes from: one path expansion for every reader, hive keys, and remote storage.

Every reader (``read_parquet``, ``read_csv``, ``gp.Dataset``) turns what it was given into a list of
:class:`Source` with :func:`expand`, so they accept the same path forms and see the same files:

* a file (any name: the reader decides the format);
* a directory: the files under it, recursively, whose names end in the reader's extensions
  (``.parquet``/``.parq``/``.pq``; ``.csv``/``.tsv``/``.csv.gz``/...), skipping every path part that
  starts with ``.`` or ``_`` (``_SUCCESS``, ``.ipynb_checkpoints``), in sorted order;
* a glob (``*``, ``?``, ``[``; ``**`` crosses directories): the matching files, sorted, skipping those in
  directories below its fixed prefix whose names start with ``.`` or ``_``, and (as Python's glob does, for
  URLs too) file names starting with ``.`` unless the pattern's last part does;
* a list of any of these, in the order given.

Hive partitions: below a directory or a glob's fixed prefix, each path part ``key=value`` names a
column ``key`` whose value in every row of that file is the text ``value`` (URL-decoded;
``__HIVE_DEFAULT_PARTITION__`` is null). Partition columns are always **strings**: a directory name
is text, and reading ``zip=02134`` as the number 2134 would lose the leading zero. Cast them
afterwards if you want numbers. Files named one by one carry no partition columns.

Remote data: a path with a scheme (``s3://``, ``gs://``, ``http(s)://``, ``memory://``, any fsspec
protocol) goes through fsspec with the caller's ``storage_options``; a ``file://`` URL is a local
path. Local paths never touch fsspec (the fast path). Errors from storage are re-raised naming the
URL and what is wrong (:func:`remote_errors`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import DataError, ParameterError

__all__ = ["CSV_COMPRESSIONS", "FORMATS", "Source", "expand", "filesystem", "fmt_of", "is_url", "local_path", "remote_errors"]

PathLike = str | os.PathLike
#: the compressions a CSV file's name may end in (``x.csv.gz``), each with the Arrow codec that decompresses it
#: (``"xz"``: Arrow has none, the standard library's ``lzma`` does; :meth:`Source.open`)
CSV_COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".lz4": "lz4",
                                     ".br": "brotli", ".xz": "xz"}
FORMATS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".parq", ".pq"),
    "csv": (".csv", ".tsv", *(f"{ext}{c}" for ext in (".csv", ".tsv") for c in CSV_COMPRESSIONS)),
}
_GLOB_CHARS = ("*", "?", "[")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# what to install for a protocol fsspec knows but cannot load
_INSTALL = {"s3": "s3fs (pip install 'gpupipe[s3]')", "s3a": "s3fs (pip install 'gpupipe[s3]')",
            "gs": "gcsfs (pip install gcsfs)", "gcs": "gcsfs (pip install gcsfs)",
            "http": "aiohttp (pip install aiohttp)", "https": "aiohttp (pip install aiohttp)",
            "az": "adlfs (pip install adlfs)", "abfs": "adlfs (pip install adlfs)"}


@dataclass(frozen=True)
class Source:
    """One file to read: a local path or a URL, with the hive partition values its directories carry."""

    path: str
    remote: bool = False
    storage_options: Mapping[str, Any] | None = field(default=None, compare=False)
    hive: tuple[tuple[str, str | None], ...] = ()
    base: str | None = None  # the directory (or glob prefix) the hive keys were read below

    @property
    def name(self) -> str:
        """How messages name the file: its path or URL."""
        return self.path

    def local(self) -> Path:
        assert not self.remote, self.path
        return Path(self.path)

    @contextlib.contextmanager
    def readable(self, *, compression: str | None = None) -> Iterator[Any]:
        """What Arrow's readers take for this file: a local path as it is (Arrow opens it), a URL's file object,
        closed on exit. ``compression="infer"``: a name ending in one of :data:`CSV_COMPRESSIONS` is
        decompressed (:meth:`open`)."""
        if not self.remote and (compression != "infer" or self.compression() is None):
            yield self.path
            return
        f = self.open(compression=compression)
        try:
            yield f
        finally:
            f.close()

    def compression(self) -> str | None:
        """The suffix of :data:`CSV_COMPRESSIONS` the file's name ends in (``".gz"``), or None."""
        name = self.path.split("?", 1)[0] if self.remote else self.path
        suffix = os.path.splitext(name)[1].lower()
        return suffix if suffix in CSV_COMPRESSIONS else None

    def open(self, *, compression: str | None = None) -> Any:
        """A binary file object (fsspec's, for a URL; a local file otherwise). ``compression="infer"``: a name
        ending in one of :data:`CSV_COMPRESSIONS` is decompressed by Arrow's codec for it (``.xz``, for which
        Arrow has none, by the standard library's ``lzma``)."""
        suffix = self.compression() if compression == "infer" else None
        codec = CSV_COMPRESSIONS.get(suffix or "")
        if self.remote:
            import fsspec

            with remote_errors(self.path):
                raw = fsspec.open(self.path, "rb", **dict(self.storage_options or {})).open()
        else:
            raw = None
        if codec is None:
            return raw if raw is not None else open(self.path, "rb")
        if codec == "xz":
            import lzma

            return lzma.open(raw if raw is not None else self.path, "rb")
        import pyarrow as pa

        if raw is None:
            return pa.input_stream(self.path, compression=codec)
        return pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), codec)


# ---------------------------------------------------------------------------------- URLs
def is_url(path: Any) -> bool:
    """Whether ``path`` is a URL that goes through fsspec (``file://`` is a local path, not a URL)."""
    if not isinstance(path, str):
        return False
    m = _SCHEME.match(path)
    return m is not None and m.group(1).lower() != "file"


def local_path(path: PathLike) -> str:
    """A local path as a string (``file://`` stripped)."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = text.decode()
    if text.lower().startswith("file://"):
        text = unquote(text[len("file://"):])
    return text


def check_storage_options(path: Any, storage_options: Mapping[str, Any] | None, where: str) -> None:
    """``storage_options`` are for URLs; with local paths only, they would be silently ignored."""
    if storage_options is None:
        return
    if not isinstance(storage_options, Mapping):
        msg = (f"{where}: storage_options must be a dict of fsspec options (e.g. {{'anon': True}}), got "
               f"{type(storage_options).__name__}")
        raise ParameterError(msg)
    items = [path] if isinstance(path, (str, os.PathLike)) else list(path or [])
    if items and not any(is_url(p) for p in items):
        msg = (f"{where}: storage_options={dict(storage_options)!r:.100} given, but {os.fspath(items[0])!r} is a local "
               "path; storage_options apply to URLs (s3://, gs://, http(s)://, memory://) only")
        raise ParameterError(msg)


def filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """``(fsspec filesystem, path within it)`` for a URL, with errors that name the URL."""
    import fsspec.core

    with remote_errors(url):
        return fsspec.core.url_to_fs(url, **dict(storage_options or {}))


def _protocol(url: str) -> str:
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else "file"


@contextlib.contextmanager
def remote_errors(url: str, action: str = "read") -> Iterator[None]:
    """Re-raise storage errors naming ``url`` and what is wrong: a missing bucket or object
    (``FileNotFoundError``), missing credentials or a refused request (``PermissionError``), an
    unreachable endpoint (``ConnectionError``), a protocol whose fsspec package is not installed
    (``ImportError``). gpupipe's own errors and anything else pass through unchanged."""
    from ..errors import GpupipeError

    try:
        yield
    except GpupipeError:
        raise
    except FileNotFoundError as exc:
        if isinstance(exc.filename, str) and exc.filename == url:
            raise
        text = str(exc)
        what = ("no such bucket" if "bucket" in text.lower() and ("not exist" in text.lower() or "nosuchbucket" in text.lower())
                else "no such file or object")
        raise FileNotFoundError(errno.ENOENT, f"{what} ({_first_line(exc)}); check the URL", url) from exc
    except PermissionError as exc:
        if isinstance(exc.filename, str) and exc.filename == url:
            raise
        msg = (f"access denied ({_first_line(exc)}): the credentials in use may not {action} this object. Check "
               "the bucket policy and the credentials (storage_options={'key': ..., 'secret': ...}, the AWS_* "
               "environment variables, or anon=True for public data)")
        raise PermissionError(errno.EACCES, msg, url) from exc
    except ImportError as exc:
        proto = _protocol(url)
        need = _INSTALL.get(proto, f"the fsspec implementation of {proto}://")
        raise ImportError(f"{url}: reading or writing {proto}:// URLs needs {need} ({_first_line(exc)})") from exc
    except Exception as exc:
        kind = type(exc).__name__
        if kind in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                    "DefaultCredentialsError"):
            msg = (f"no credentials to {action} {url} ({_first_line(exc)}): pass storage_options={{'key': ..., "
                   "'secret': ...}}, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile), or "
                   "storage_options={'anon': True} for public data")
            raise PermissionError(errno.EACCES, msg, url) from exc
        if kind in ("EndpointConnectionError", "ClientConnectorError", "ServerDisconnectedError",
                    "ConnectTimeoutError", "ConnectionRefusedError") or isinstance(exc, ConnectionError):
            raise ConnectionError(f"{url}: could not reach the storage endpoint ({_first_line(exc)}); check "
                                  "the URL, endpoint_url in storage_options, and the network") from exc
        if kind == "ClientResponseError" and getattr(exc, "status", None) in (401, 403):
            msg = f"access denied (HTTP {exc.status}): the server refuses to {action} it; check credentials"
            raise PermissionError(errno.EACCES, msg, url) from exc
        if kind == "ClientResponseError" and getattr(exc, "status", None) == 404:
            raise FileNotFoundError(errno.ENOENT, "no such file or object (HTTP 404); check the URL", url) from exc
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# ---------------------------------------------------------------------------------- expansion
def fmt_of(name: str) -> str | None:
    """``"parquet"``, ``"csv"`` or None, from a file name's extension."""
    low = name.lower()
    for fmt, exts in FORMATS.items():
        if low.endswith(exts):
            return fmt
    return None


def _hidden(parts: Sequence[str]) -> bool:
    return any(p.startswith((".", "_")) for p in parts if p)


def _hive(parts: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    """``key=value`` directory parts (not the file name) as (key, value) pairs; value None for the hive null."""
    out: list[tuple[str, str | None]] = []
    for part in parts[:-1]:
        key, eq, value = part.partition("=")
        if eq and key:
            text = unquote(value)
            out.append((unquote(key), None if text == HIVE_NULL else text))
    return tuple(out)


def _glob_base(pattern: str) -> str:
    """The fixed directory prefix of a glob pattern (the part before the first component with a wildcard)."""
    sep = "/" if "/" in pattern or os.sep == "/" else os.sep
    parts = pattern.split(sep)
    fixed = []
    for p in parts[:-1]:
        if any(ch in p for ch in _GLOB_CHARS):
            break
        fixed.append(p)
    return sep.join(fixed)


def _relparts(path: str, base: str) -> list[str]:
    rel = path[len(base):] if base and path.startswith(base) else path
    return [p for p in re.split(r"[/\\]", rel) if p]


def expand(source: PathLike | Sequence[PathLike], *, formats: Sequence[str], reader: str,
           storage_options: Mapping[str, Any] | None = None) -> list[Source]:
    """The files ``source`` names (module docstring), as :class:`Source`.

    Raises
    ------
    FileNotFoundError
        A path, or a glob matching nothing, naming it.
    DataError
        No path at all, or a directory holding no file of ``formats``.
    """
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not items:
        raise DataError(f"{reader}: no path given: pass a file, a directory, a glob or a non-empty list of them")
    out: list[Source] = []
    for item in items:
        text = item if isinstance(item, str) else os.fspath(item)
        if is_url(text):
            out.extend(_expand_remote(text, formats, reader, storage_options))
        else:
            out.extend(_expand_local(local_path(text), formats, reader))
    return out


def _exts(formats: Sequence[str]) -> tuple[str, ...]:
    return tuple(e for f in formats for e in FORMATS[f])


def _no_files(where: str, formats: Sequence[str], reader: str) -> DataError:
    kinds = " or ".join(formats)
    msg = (f"{reader}: {where} holds no {kinds} files ({', '.join(_exts(formats))}; names starting with '.' or '_' "
           "are skipped); check the path")
    return DataError(msg)


def _expand_local(text: str, formats: Sequence[str], reader: str) -> list[Source]:
    if any(ch in text for ch in _GLOB_CHARS) and not os.path.exists(text):
        base = _glob_base(text)
        matched = sorted(m for m in glob.glob(text, recursive=True)
                         if os.path.isfile(m) and not _hidden(_relparts(m, base)[:-1]))
        if not matched:
            raise FileNotFoundError(errno.ENOENT, "no file matches the pattern (names starting with '.' or '_' in "
                                    "directories below its fixed prefix are skipped); check the path", text)
        return [Source(m, hive=_hive(_relparts(m, base)), base=base or None) for m in matched]
    p = Path(text)
    if p.is_dir():
        exts = _exts(formats)
        found = sorted(str(f) for f in p.rglob("*")
                       if f.is_file() and f.name.lower().endswith(exts) and not _hidden(f.relative_to(p).parts))
        if not found:
            raise _no_files(f"directory {p}", formats, reader)
        return [Source(f, hive=_hive(Path(f).relative_to(p).parts), base=str(p)) for f in found]
    if p.is_file():
        return [Source(str(p))]
    raise FileNotFoundError(errno.ENOENT, "no such file or directory; check the path", text)


def _expand_remote(url: str, formats: Sequence[str], reader: str,
                   storage_options: Mapping[str, Any] | None) -> list[Source]:
    fs, path = filesystem(url, storage_options)
    proto = _protocol(url)
    opts = dict(storage_options or {})

    def full(p: str) -> str:
        return p if is_url(p) else fs.unstrip_protocol(p)

    with remote_errors(url):
        globbing = "*" in path if proto in ("http", "https") else any(ch in path for ch in _GLOB_CHARS)
        if globbing:
            base = _glob_base(path)
            # as Python's glob (local paths): a name starting with '.' only when the pattern's does
            dot = path.rstrip("/").rsplit("/", 1)[-1].startswith(".")
            matched = sorted(m for m in fs.glob(path) if fs.isfile(m) and not _hidden(_relparts(m, base)[:-1])
                             and (dot or not m.rstrip("/").rsplit("/", 1)[-1].startswith(".")))
            if not matched:
                raise FileNotFoundError(errno.ENOENT, "no object matches the pattern (names starting with '.' or "
                                        "'_' in directories below its fixed prefix are skipped); check the URL", url)
            return [Source(full(m), True, opts, _hive(_relparts(m, base)), full(base) if base else None)
                    for m in matched]
        try:
            info = fs.info(path)
        except FileNotFoundError:
            bucket = path.split("/", 1)[0]
            if proto in ("s3", "s3a", "gs", "gcs") and bucket != path and not fs.exists(bucket):
                raise FileNotFoundError(errno.ENOENT, f"no such bucket {bucket!r}; check the URL", url) from None
            raise FileNotFoundError(errno.ENOENT, "no such file or object; check the URL", url) from None
        if info.get("type") == "directory" or (proto in ("http", "https") and path.endswith("/")):
            exts = _exts(formats)
            root = info.get("name", path).rstrip("/")
            found = sorted(f for f in fs.find(root) if f.lower().endswith(exts)
                           and not _hidden(_relparts(f, root)))
            if not found:
                raise _no_files(f"{url}", formats, reader)
            return [Source(full(f), True, opts, _hive(_relparts(f, root)), url) for f in found]
    return [Source(url, True, opts)]
