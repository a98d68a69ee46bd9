"""The atomic-write helper (gpupipe/_files.py): a failure at any step leaves the previous content and no temporary."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from helpers import fail_rename

from gpupipe._files import atomic_write_dir, atomic_write_entries, atomic_write_file


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _write_new(tmp: Path) -> None:
    (tmp / "sub").mkdir()
    (tmp / "sub" / "b.bin").write_bytes(b"new")
    (tmp / "a.txt").write_text("new")


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    target = tmp_path / "save"
    atomic_write_dir(target, lambda tmp: (tmp / "a.txt").write_text("old"))
    return target


def test_directory_is_replaced_whole_and_nothing_is_left_beside_it(previous: Path) -> None:
    assert atomic_write_dir(previous, lambda tmp: _write_new(tmp) or 7) == 7
    assert _tree(previous) == {"a.txt": b"new", "sub/b.bin": b"new"}
    assert sorted(os.listdir(previous.parent)) == ["save"]


def test_a_writer_failing_midway_leaves_the_previous_directory(previous: Path) -> None:
    def half(tmp: Path) -> None:
        (tmp / "a.txt").write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write_dir(previous, half)
    assert _tree(previous) == {"a.txt": b"old"}
    assert sorted(os.listdir(previous.parent)) == ["save"]


@pytest.mark.parametrize("at", [1, 2], ids=["rename-aside", "rename-in"])
def test_a_failed_swap_restores_the_previous_directory(previous: Path, monkeypatch, at: int) -> None:
    calls = fail_rename(monkeypatch, at)
    with pytest.raises(OSError, match="injected"):
        atomic_write_dir(previous, _write_new)
    monkeypatch.undo()
    # 1: the previous save is moved aside; 2: the new one moved in; (3: the previous one put back)
    assert calls[0][0] == str(previous) and ".save.old-" in calls[0][1]
    if at == 2:
        assert ".save.tmp-" in calls[1][0] and calls[2] == (calls[0][1], str(previous))
    assert _tree(previous) == {"a.txt": b"old"}
    assert sorted(os.listdir(previous.parent)) == ["save"]


def test_a_failing_fsync_leaves_the_previous_directory(previous: Path, monkeypatch) -> None:
    import gpupipe._files as files

    def broken(path):
        raise OSError(errno.EIO, "injected fsync failure")

    monkeypatch.setattr(files, "fsync", broken)
    with pytest.raises(OSError, match="fsync"):
        atomic_write_dir(previous, _write_new)
    monkeypatch.undo()
    assert _tree(previous) == {"a.txt": b"old"}
    assert sorted(os.listdir(previous.parent)) == ["save"]


def test_a_new_directory_needs_one_rename(tmp_path: Path, monkeypatch) -> None:
    calls = fail_rename(monkeypatch, 99)
    atomic_write_dir(tmp_path / "deep" / "new", _write_new)
    assert len(calls) == 1 and _tree(tmp_path / "deep" / "new")["a.txt"] == b"new"


# ------------------------------------------------------------------------- entries of a directory
def test_entries_of_an_existing_directory_replace_theirs_and_keep_the_others(previous: Path) -> None:
    (previous / "mine.txt").write_text("kept")
    (previous / "stale.txt").write_text("from before")
    (previous / ".gpupipe-staging-left").mkdir()  # a killed process's
    atomic_write_entries(previous, _write_new, replaces=["a.txt", "sub", "stale.txt"])
    assert _tree(previous) == {"a.txt": b"new", "sub/b.bin": b"new", "mine.txt": b"kept"}
    assert sorted(os.listdir(previous.parent)) == ["save"]


def test_entries_written_by_a_failing_writer_never_reach_the_directory(previous: Path) -> None:
    (previous / "sub").mkdir()
    (previous / "sub" / "b.bin").write_bytes(b"old")

    def half(tmp: Path) -> None:
        _write_new(tmp)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_entries(previous, half, replaces=["a.txt", "sub"])
    assert _tree(previous) == {"a.txt": b"old", "sub/b.bin": b"old"}
    assert sorted(os.listdir(previous)) == ["a.txt", "sub"]


def test_entries_of_a_new_directory_appear_together(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="No space"):
        atomic_write_entries(tmp_path / "new", lambda tmp: _write_new(tmp) or (_ for _ in ()).throw(
            OSError(errno.ENOSPC, "No space left on device")))
    assert os.listdir(tmp_path) == []
    atomic_write_entries(tmp_path / "new", _write_new)
    assert _tree(tmp_path / "new") == {"a.txt": b"new", "sub/b.bin": b"new"}
    assert os.listdir(tmp_path) == ["new"]


# ----------------------------------------------------------------------------------- single files
@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    atomic_write_file(path, lambda tmp: Path(tmp).write_bytes(b"old"))
    return path


def test_a_file_writer_failing_midway_leaves_the_previous_file(old_file: Path) -> None:
    def half(tmp: str) -> None:
        Path(tmp).write_bytes(b"ne")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write_file(old_file, half)
    assert old_file.read_bytes() == b"old"
    assert os.listdir(old_file.parent) == ["data.bin"]


def test_a_failed_file_rename_leaves_the_previous_file(old_file: Path, monkeypatch) -> None:
    fail_rename(monkeypatch, 1)
    with pytest.raises(OSError, match="injected"):
        atomic_write_file(old_file, lambda tmp: Path(tmp).write_bytes(b"new"))
    monkeypatch.undo()
    assert old_file.read_bytes() == b"old"
    assert os.listdir(old_file.parent) == ["data.bin"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and umask")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_and_directories_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    """Temporaries were made by mkstemp/mkdtemp (0600/0700), and the rename kept that mode: every save, parquet
    file and result.json was unreadable to other users (a shared results directory, a container's other user)."""
    import pandas as pd

    import gpupipe as gp
    from gpupipe import ops

    old = os.umask(umask)
    try:
        f = atomic_write_file(tmp_path / "a.txt", lambda tmp: Path(tmp).write_text("x"))
        atomic_write_dir(tmp_path / "save", lambda tmp: (tmp / "b.txt").write_text("y"))
        atomic_write_entries(tmp_path / "out", lambda tmp: (tmp / "c.txt").write_text("z"))
        with gp.use_backend("pandas"):
            wf = gp.Workflow(["x"] >> ops.Normalize()).fit(pd.DataFrame({"x": [1.0, 2.0]}))
            saved = wf.save(tmp_path / "wf")
            pq = gp.write_parquet(wf.transform(pd.DataFrame({"x": [3.0]})), tmp_path / "o.parquet")
    finally:
        os.umask(old)
    assert f.stat().st_mode & 0o777 == 0o666 & ~umask
    assert Path(pq).stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "out" / "c.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    for directory in (tmp_path / "save", tmp_path / "out", Path(saved)):
        assert Path(directory).stat().st_mode & 0o777 == 0o777 & ~umask, directory
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~umask for p in Path(saved).rglob("*") if p.is_file())


def test_a_directory_filled_by_another_writer_meanwhile_is_a_named_error(previous: Path, monkeypatch) -> None:
    """Another save reached the target between this one's two renames: the rename in failed (ENOTEMPTY), putting
    the previous save back failed the same way and raised instead, naming nothing, and the previous save was left
    stranded at .NAME.old-*."""
    real = os.replace
    calls: list[str] = []

    def replace(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        calls.append(str(dst))
        if len(calls) == 1:  # the previous directory is aside: another writer puts its own in place now
            theirs = previous.parent / "theirs"
            theirs.mkdir()
            (theirs / "who.txt").write_text("the other writer")
            real(theirs, previous)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="filled by another write") as info:
        atomic_write_dir(previous, lambda tmp: (tmp / "who.txt").write_text("this writer"))
    monkeypatch.undo()
    assert info.value.errno in (errno.ENOTEMPTY, errno.EEXIST)
    assert (previous / "who.txt").read_text() == "the other writer"
    assert sorted(p.name for p in previous.parent.iterdir()) == [previous.name]  # nothing stranded beside it
