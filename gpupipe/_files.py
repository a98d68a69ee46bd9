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
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["atomic_write_dir", "atomic_write_file", "fsync", "replace_dir", "sha256_file"]

T = TypeVar("T")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def atomic_write_file(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    Parameters
    ----------
    path : path
        The file to create or replace; its parent directory is created if missing.
    write : callable
        Writes the whole content to the path it is given (a ``str``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = atomic_write_file(p, lambda tmp: open(tmp, "w").write("hello"))
    >>> open(p).read(), sorted(os.listdir(os.path.dirname(p)))
    ('hello', ['a.txt'])
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
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


def atomic_write_dir(path: str | os.PathLike[str], write: Callable[[Path], T]) -> T:
    """Call ``write(tmp)`` on an empty temporary directory beside ``path``, then swap it in for ``path``.

    Everything ``write`` left in the directory is fsynced, then :func:`replace_dir` puts it in
    place. If ``write``, an fsync or the swap fails, the temporary directory is removed and the
    previous ``path`` (if any) is left as it was. Deciding whether ``path`` may be replaced at all
    (does it hold a previous save, or someone's data?) is the caller's business, before calling.

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
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        result = write(tmp)
        _fsync_tree(tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)  # put the previous content back under its name
        raise
    try:
        fsync(target.parent)
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
