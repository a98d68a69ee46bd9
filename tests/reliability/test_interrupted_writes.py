"""Workflow saves, model checkpoints, parquet writes and ``Dataset.to_parquet`` interrupted midway.

All go through gpupipe/_files.py; whichever step fails (the writer midway, renaming the
previous save aside, renaming the new one in), the previous save, checkpoint or file is still
there under its name, loadable, and no temporary or ``.old-*`` directory is left beside it.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from helpers import fail_rename

import gpupipe as gp
from gpupipe import ops

ROOT = Path(__file__).resolve().parents[2]

STEPS = ["writer", "rename-aside", "rename-in"]


def _data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=200), "s": pd.array(rng.choice(list("abcdef"), 200), dtype="str"),
                         "y": rng.integers(0, 2, 200).astype("float32")})


def _wf() -> gp.Workflow:
    return gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify(), label="y")


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def _fail(step: str, monkeypatch: pytest.MonkeyPatch, module, name: str) -> None:
    """Arrange for the save to fail at ``step``; ``module.name`` is the function the writer calls to write."""
    if step == "writer":
        real = getattr(module, name)

        def half(obj, where, *args, **kwargs):  # writes part of the file, then the disk is full
            real(obj, where, *args, **kwargs)
            with open(where, "r+b") as f:
                f.truncate(7)
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(module, name, half)
    else:
        fail_rename(monkeypatch, STEPS.index(step))


@pytest.mark.parametrize("step", STEPS)
def test_workflow_save(tmp_path, monkeypatch, step):
    path = tmp_path / "wf"
    with gp.use_backend("pandas"):
        wf = _wf().fit(_data(0))
        wf.save(path)
        expected = wf.transform(_data(9))
        other = _wf().fit(_data(1))
        _fail(step, monkeypatch, pq, "write_table")
        with pytest.raises(OSError):
            other.save(path)
        monkeypatch.undo()
        assert _leftovers(path) == []
        pd.testing.assert_frame_equal(gp.Workflow.load(path).transform(_data(9)), expected)


@pytest.fixture
def model():
    from gpupipe.schema import ColumnSchema, Schema

    schema = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("s", "cat", "int64", 5),
                     ColumnSchema("y", "label", "float32")])
    torch.manual_seed(0)
    return gp.models.TabularMLP.from_schema(schema, hidden=(4,))


@pytest.mark.parametrize("step", STEPS)
def test_checkpoint_save(tmp_path, monkeypatch, step, model):
    path = gp.save_checkpoint(model, tmp_path / "ckpt", extra={"epoch": 1})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    if step == "writer":
        real = torch.save

        def half(obj, f, *args, **kwargs):
            real(obj, f, *args, **kwargs)
            f.truncate(7)
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(torch, "save", half)
    else:
        fail_rename(monkeypatch, STEPS.index(step))
    with pytest.raises(OSError):
        gp.save_checkpoint(model, path, extra={"epoch": 2})
    monkeypatch.undo()
    assert _leftovers(path) == []  # the previous checkpoint is not stranded at .ckpt.old-*
    assert gp.training.checkpoint_info(path)["extra"] == {"epoch": 1}
    loaded = gp.load_checkpoint(path)
    for k, v in before.items():
        assert torch.equal(loaded.state_dict()[k], v)


@pytest.mark.parametrize("step", ["writer", "rename"])
def test_parquet_write(tmp_path, monkeypatch, step):
    path = tmp_path / "data.parquet"
    with gp.use_backend("pandas"):
        gp.write_parquet(_data(0), path)
        if step == "writer":
            _fail(step, monkeypatch, pq, "write_table")
        else:
            fail_rename(monkeypatch, 1)
        with pytest.raises(OSError):
            gp.write_parquet(_data(1), path)
        monkeypatch.undo()
        assert _leftovers(path) == []
        pd.testing.assert_frame_equal(gp.read_parquet(path), gp.from_pandas(_data(0)))


# ------------------------------------------------------------------------------ Dataset.to_parquet
def _parts(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _rows(path: Path) -> list[tuple[int, float]]:
    """What a reader of the directory takes for the output."""
    frame = gp.read_parquet(path)
    return list(zip(frame["a"].tolist(), frame["x"].tolist(), strict=True))


def _pairs(df: pd.DataFrame) -> list[tuple[int, float]]:
    return list(zip(df["a"].tolist(), df["x"].tolist(), strict=True))


def test_dataset_to_parquet_failing_at_a_partition_leaves_the_previous_parts(tmp_path, monkeypatch):
    """The parts were written in place: a disk full at the 2nd of 3 partitions left 2 new parts beside 1 from
    before (or 1 part in a new directory), and reading the directory gave 6 rows, 2 of them wrong (2 of 6)."""
    import gpupipe.io.dataset as dataset

    out = tmp_path / "out"
    df = pd.DataFrame({"a": np.arange(6), "x": np.arange(6.0)})
    with gp.use_backend("pandas"):
        gp.Dataset(df.assign(x=-1.0), partition_rows=2).to_parquet(out)
        (out / "notes.txt").write_text("kept")
        before = _parts(out)
        real, calls = dataset._write_part, []

        def full(part, path, *args):
            calls.append(path)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            time.sleep(0.2)  # still being written when the other one fails
            return real(part, path, *args)

        monkeypatch.setattr(dataset, "_write_part", full)
        for target in (out, tmp_path / "new"):
            calls.clear()
            with pytest.raises(OSError, match="No space"):
                gp.Dataset(df, partition_rows=2).to_parquet(target)
        monkeypatch.undo()
        assert _parts(out) == before  # no temporary left inside either
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
        assert _rows(out) == _pairs(df.assign(x=-1.0))
        gp.Dataset(df.iloc[:4], partition_rows=2).to_parquet(out)  # two parts: the third is removed
        assert sorted(_parts(out)) == ["notes.txt", "part-00000.parquet", "part-00001.parquet"]
        assert _rows(out) == _pairs(df.iloc[:4])


@pytest.mark.parametrize("exists", [True, False], ids=["existing", "new"])
def test_dataset_to_parquet_killed_at_a_partition_leaves_no_partial_output(tmp_path, exists):
    """A process killed once it had written the 1st of 3 partitions left that part under the directory, which a
    reader took for the whole output: 2 rows of 6 (new directory), or 2 new rows among 4 old ones."""
    out = tmp_path / "out"
    old = pd.DataFrame({"a": np.arange(6), "x": -1.0})
    with gp.use_backend("pandas"):
        if exists:
            gp.Dataset(old, partition_rows=2).to_parquet(out)
    child = textwrap.dedent(f"""
        import os, numpy as np, pandas as pd, gpupipe as gp
        import gpupipe.io.dataset as dataset
        real = dataset._write_part
        def die(part, path, *args):
            real(part, path, *args)
            os.kill(os.getpid(), 9)  # SIGKILL once the first part is whole
        dataset._write_part = die
        gp.set_backend("pandas")
        df = pd.DataFrame({{"a": np.arange(6), "x": np.arange(6.0)}})
        gp.Dataset(df, partition_rows=2).to_parquet({str(out)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    with gp.use_backend("pandas"):
        if exists:
            assert _rows(out) == _pairs(old)
            gp.Dataset(old.iloc[:2]).to_parquet(out)  # the next write removes what the killed one left inside
            assert sorted(_parts(out)) == ["part-00000.parquet"]
        else:
            assert not out.exists()
