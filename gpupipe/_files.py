"""Crash-safe writes: the one atomic-file and atomic-directory helper, and file hashing.

Workflow saves, model checkpoints and parquet writes all go through here, so they share one
behaviour:

* the new content is written to a temporary beside the target (same directory, so the final
  rename never crosses a file system), named ``.<name>.<random>.tmp`` for a file and
  ``.<name>.tmp-<random>`` for a directory;
* every file written (and every directory, for a directory) is fsynced before the rename, and the
  parent directory after it, so the rename that publishes the content is durable once it returns;
* a failure anywhere (an exception from the writer, a failing fsync or rename) removes the
  temporary and leaves the previous content under the target's name.

A directory cannot be renamed over a non-empty one, so replacing a directory takes two renames:
the previous directory is first renamed aside to ``.<name>.old-<random>``, then the new one is
renamed in, then the old one is removed. If the second rename fails the previous directory is
renamed back. Only a crash of the process in the instant between the two renames leaves the
previous content at ``.<name>.old-*``; loaders name it (see :func:`gpupipe.workflow.serialize.load_workflow`).

Object storage (a URL: ``s3://``, ``gs://``, ``memory://``, any fsspec protocol that can write)
has no rename, but an object appears only once its upload is complete (a single PUT, or a
multipart upload that is completed last and aborted on failure). So:

* a file is written to a local temporary and uploaded in one piece: a failed write leaves the
  previous object, whole;
* a directory is published by its *manifest* (``workflow.json``, ``model.json``), uploaded last,
  in one piece. Every other file must be named by its content (its name carries the first 16
  hex digits of its sha256; checked), so uploading them never touches a file the previous
  manifest lists. A failed save leaves the previous manifest and everything it lists, plus at
  most some unreferenced new files, which the next successful save removes. Files the new
  manifest does not list are deleted after it is published (a loader that read the previous
  manifest just before may then miss its files: retry the load).

``http(s)://`` URLs are read-only here (HTTP has no atomic publish).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["atomic_write_dir", "atomic_write_entries", "atomic_write_file", "fsync", "replace_dir", "save_target",
           "sha256_bytes", "sha256_file"]

T = TypeVar("T")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fsync(path: str | Path) -> None:
    """Flush a file's or a directory's data and metadata to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file and directory under ``root``, children before their directory, ``root`` last."""
    for here, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fsync(os.path.join(here, name))
        fsync(here)


def atomic_write_file(path: str | os.PathLike[str], write: Callable[[str], object], *,
                      storage_options: Mapping[str, Any] | None = None) -> Path | str:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    Parameters
    ----------
    path : path or URL
        The file to create or replace; its parent directory is created if missing. A URL is
        written to a local temporary file, then uploaded in one piece (module docstring).
    write : callable
        Writes the whole content to the path it is given (a ``str``).
    storage_options : dict, optional
        fsspec options for a URL.

    Returns
    -------
    pathlib.Path
        ``path`` (for a URL, the URL as a ``str``).

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = atomic_write_file(p, lambda tmp: Path(tmp).write_text("hello"))
    >>> Path(p).read_text(), sorted(os.listdir(os.path.dirname(p)))
    ('hello', ['a.txt'])
    """
    if _is_url(path):
        return _upload_file(str(path), write, storage_options)
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(_new_temp(dest.parent, f".{dest.name}.", ".tmp", directory=False))
    try:
        write(tmp)
        fsync(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync(dest.parent)
    return dest


def _new_temp(parent: Path, prefix: str, suffix: str, *, directory: bool) -> Path:
    """A new, empty file or directory of a unique name in ``parent``, made with the mode the process's umask gives
    (``0o666``/``0o777`` less the umask, as ``open``/``mkdir`` make them), not ``mkstemp``'s ``0o600`` or
    ``mkdtemp``'s ``0o700``: what is renamed into place from it keeps that mode, so a save or an output file is
    as readable by others as any file the user makes."""
    for _ in range(100):
        p = parent / f"{prefix}{uuid.uuid4().hex[:12]}{suffix}"
        try:
            if directory:
                os.mkdir(p, 0o777)
            else:
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return p
    raise FileExistsError(f"no free temporary name in {parent} after 100 tries")


def atomic_write_dir(path: str | os.PathLike[str], write: Callable[[Path], T], *, manifest: str | None = None,
                     storage_options: Mapping[str, Any] | None = None) -> T:
    """Call ``write(tmp)`` on an empty temporary directory beside ``path``, then swap it in for ``path``.

    Everything ``write`` left in the directory is fsynced, then :func:`replace_dir` puts it in
    place. If ``write``, an fsync or the swap fails, the temporary directory is removed and the
    previous ``path`` (if any) is left as it was. Deciding whether ``path`` may be replaced at all
    (does it hold a previous save, or someone's data?) is the caller's business, before calling.

    For a URL, ``write`` fills a local temporary directory, which is then published by its
    ``manifest`` file (module docstring): every other file's name must carry the first 16 hex
    digits of its sha256.

    Returns
    -------
    Whatever ``write`` returned.

    Examples
    --------
    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "save")
    >>> _ = atomic_write_dir(d, lambda tmp: (tmp / "a.txt").write_text("one"))
    >>> _ = atomic_write_dir(d, lambda tmp: (tmp / "b.txt").write_text("two"))
    >>> os.listdir(d), os.listdir(os.path.dirname(d))
    (['b.txt'], ['save'])
    """
    if _is_url(path):
        if manifest is None:
            raise ValueError("atomic_write_dir: a URL target needs the name of the manifest file, published last")
        return _publish_dir(str(path), write, manifest, storage_options)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp(target.parent, f".{target.name}.tmp-", "", directory=True)
    try:
        result = write(tmp)
        _fsync_tree(tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


#: prefix of the hidden directory :func:`atomic_write_entries` writes to inside an existing directory
STAGING = ".gpupipe-staging-"


def atomic_write_entries(path: str | os.PathLike[str], write: Callable[[Path], T], *,
                         replaces: Collection[str] = ()) -> T:
    """Call ``write(tmp)`` on an empty temporary directory, then put each entry it left there in place in the
    directory ``path``, keeping ``path``'s other entries: a multi-file output that appears once it is complete.

    * ``path`` missing: ``tmp`` is written beside it and renamed to it (:func:`atomic_write_dir`), so it
      appears with every entry or not at all; it gets the mode ``mkdir`` would give it.
    * ``path`` an existing directory (possibly a mount point or a link, with files of its own): ``tmp`` is a
      hidden ``.gpupipe-staging-*`` directory inside it, which readers of the directory skip. Once ``write``
      returns and every file is fsynced, each entry is renamed over the one of its name (a directory by
      :func:`replace_dir`), then the names in ``replaces`` that ``write`` did not write (what a previous, larger
      output left) are removed. A failure of ``write`` or an fsync leaves ``path`` as it was; only a crash
      during the renames leaves some entries new and some previous. A staging directory a killed process
      left is removed by the next call.

    Returns whatever ``write`` returned.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = (Path(d) / "notes.txt").write_text("mine")
    >>> _ = atomic_write_entries(d, lambda tmp: (tmp / "a.txt").write_text("one"))
    >>> _ = atomic_write_entries(d, lambda tmp: (tmp / "b.txt").write_text("two"), replaces=["a.txt", "b.txt"])
    >>> sorted(os.listdir(d))
    ['b.txt', 'notes.txt']
    """
    target = Path(path)
    if not target.is_dir():
        return atomic_write_dir(target, write)
    for left in target.glob(f"{STAGING}*"):  # from a process killed while writing: never read
        shutil.rmtree(left, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=target))
    try:
        result = write(staging)
        _fsync_tree(staging)
        written = sorted(p.name for p in staging.iterdir())
        for name in written:
            if (staging / name).is_dir() and not (staging / name).is_symlink():
                replace_dir(staging / name, target / name)
            else:
                os.replace(staging / name, target / name)
        for name in replaces:
            if name not in written and os.path.lexists(target / name):
                if (target / name).is_dir() and not (target / name).is_symlink():
                    shutil.rmtree(target / name)
                else:
                    os.unlink(target / name)
        fsync(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def replace_dir(new: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Rename directory ``new`` to ``target``, replacing a directory already there.

    The previous ``target`` is renamed aside (``.<name>.old-<random>``), ``new`` is renamed in,
    the parent directory is fsynced and the previous one removed. If renaming ``new`` in fails,
    the previous directory is renamed back before the error propagates.
    """
    new, target = Path(new), Path(target)
    old = None
    if os.path.lexists(target):
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        try:
            os.replace(target, old)
        except FileNotFoundError:  # another writer moved it aside first
            old = None
    try:
        os.replace(new, target)
    except BaseException as exc:
        raced = isinstance(exc, OSError) and exc.errno in (errno.ENOTEMPTY, errno.EEXIST)
        if old is not None:
            try:
                os.replace(old, target)  # put the previous content back under its name
            except OSError:
                if not raced:
                    raise
                shutil.rmtree(old, ignore_errors=True)  # superseded by the directory now at target
        if raced:
            msg = (f"{target} was filled by another write while this one was being put in place: it holds that "
                   "one, and this one was not written. Write to one directory from one process or thread at a "
                   "time")
            raise OSError(exc.errno, msg, str(target)) from exc
        raise
    try:
        fsync(target.parent)
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------- object storage
def _is_url(path: object) -> bool:
    from .io._sources import is_url

    return is_url(path)


def _writable(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    from .io._sources import filesystem

    if url.split("://", 1)[0].lower() in ("http", "https"):
        msg = (f"cannot write to {url}: http(s) URLs are read-only in gpupipe (HTTP has no atomic publish); "
               "write to a local path, s3://, gs:// or memory:// and serve that")
        from .errors import ParameterError

        raise ParameterError(msg)
    fs, root = filesystem(url, storage_options)
    return fs, root.rstrip("/")


def _upload_file(url: str, write: Callable[[str], object], storage_options: Mapping[str, Any] | None) -> str:
    """Write the whole file locally, then upload it as one object (never a partial object)."""
    from .io._sources import remote_errors

    fs, rpath = _writable(url, storage_options)
    with tempfile.TemporaryDirectory(prefix="gpupipe-upload-") as d:
        tmp = os.path.join(d, rpath.rsplit("/", 1)[-1] or "file")
        with remote_errors(url, "write"):
            if fs.isdir(rpath):
                raise IsADirectoryError(21, "is a directory (a prefix with objects under it); give a file name", url)
        write(tmp)
        with remote_errors(url, "write"):
            fs.put_file(tmp, rpath)
    return url


def _listing(fs: Any, root: str) -> list[str]:
    """Paths of the objects under ``root``, relative to it."""
    if not fs.exists(root):
        return []
    return sorted(p[len(root) + 1:] for p in fs.find(root) if p.startswith(root + "/"))


def remote_listing(url: str, storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """The objects under a writable URL prefix, relative to it (an empty list when there are none)."""
    from .io._sources import remote_errors

    fs, root = _writable(url, storage_options)
    with remote_errors(url):
        return _listing(fs, root)


def _publish_dir(url: str, write: Callable[[Path], T], manifest: str,
                 storage_options: Mapping[str, Any] | None) -> T:
    from .io._sources import remote_errors

    fs, root = _writable(url, storage_options)
    with tempfile.TemporaryDirectory(prefix="gpupipe-publish-") as d:
        tmp = Path(d)
        result = write(tmp)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        if manifest not in files:
            raise ValueError(f"atomic_write_dir: the writer left no manifest {manifest!r} to publish {url} with")
        for rel in files:
            if rel != manifest and sha256_file(tmp / rel)[:16] not in rel:
                msg = (f"atomic_write_dir: {rel!r} is not named by its content (the first 16 hex digits of its "
                       f"sha256); on object storage it could overwrite a file the previous {manifest} lists")
                raise ValueError(msg)
        with remote_errors(url, "write"):
            before = _listing(fs, root)
            for rel in files:
                if rel != manifest and rel not in before:  # a file of that name holds these very bytes already
                    fs.put_file(str(tmp / rel), f"{root}/{rel}")
            fs.put_file(str(tmp / manifest), f"{root}/{manifest}")  # the save is published here, at once
    stale = [f"{root}/{rel}" for rel in before if rel not in files]
    if stale:
        with contextlib.suppress(Exception):  # unreferenced files: harmless, removed by the next save
            fs.rm(stale)
    return result


def save_target(directory: str | os.PathLike[str], storage_options: Mapping[str, Any] | None, where: str,
                what: str, foreign: Callable[[list[str]], list[str]]) -> tuple[Path | str, bool]:
    """Where a save of ``what`` (a workflow, a checkpoint) goes, checked before anything is written:
    ``(target, remote)``, a local directory or a URL prefix.

    A save replaces the whole directory or prefix, so one that already holds entries ``foreign`` names
    (of the top-level names of a directory, of the object names under a prefix: those that are not a
    previous save of ``what``) is refused with a :class:`~gpupipe.errors.WorkflowFormatError`; a local
    path that is a file, or lies under one, or is the current directory or one above it, is a
    :class:`~gpupipe.errors.ParameterError`.
    """
    from . import _validate as V
    from .errors import WorkflowFormatError
    from .io._sources import check_storage_options, is_url

    check_storage_options(directory, storage_options, where)
    remote = is_url(directory)
    target: Path | str
    if remote:
        target = str(directory).rstrip("/")
        names, place = remote_listing(target, storage_options), "prefix"
    else:
        V.output_dir(directory, "directory", where)
        target = Path(directory)
        here = Path.cwd().resolve()
        if target.resolve() in (here, *here.parents):  # it cannot be renamed aside (EBUSY), nor should it be
            V.fail(where, "directory", directory, f"a directory of its own for the {what}",
                   f"{target.resolve()} is the current directory or one above it, and a save replaces the whole "
                   f"directory; give a new one, e.g. {os.path.join(os.fspath(directory), what)!r}")
        names, place = (sorted(p.name for p in target.iterdir()) if target.is_dir() else []), "directory"
    others = foreign(names)
    if others:
        msg = (f"{where}: {target} holds {others[:5]}{'...' if len(others) > 5 else ''}, which are not a saved "
               f"{what}'s; a save replaces the whole {place}, so choose an empty or new one")
        raise WorkflowFormatError(msg)
    return target, remote


class SavedFiles:
    """The files of a save (a workflow, a checkpoint), read back: in a local directory, or under a URL prefix
    read through fsspec with ``storage_options``. ``url`` is None for a local directory."""

    def __init__(self, directory: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = str(directory).rstrip("/") if _is_url(directory) else None
        self.root = Path(directory)
        self.storage_options = storage_options

    def where(self, name: str) -> str:
        """The file's path or URL, for reading and for messages."""
        return f"{self.url}/{name}" if self.url is not None else str(self.root / name)

    def is_file(self, name: str) -> bool:
        if self.url is None:
            return (self.root / name).is_file()
        from .io._sources import filesystem, remote_errors

        fs, path = filesystem(self.where(name), self.storage_options)
        with remote_errors(self.where(name)):
            try:
                return bool(fs.isfile(path))
            except FileNotFoundError:
                return False

    def read(self, name: str) -> bytes:
        """The file's bytes; FileNotFoundError naming it when it is missing."""
        if self.url is None:
            return (self.root / name).read_bytes()
        from .io._sources import filesystem, remote_errors

        fs, path = filesystem(self.where(name), self.storage_options)
        with remote_errors(self.where(name)):
            return bytes(fs.cat_file(path))
