"""Workflow saves, model checkpoints and parquet writes interrupted at each step of their atomic swap.

All three go through gpupipe/_files.py; whichever step fails (the writer midway, renaming the
previous save aside, renaming the new one in), the previous save, checkpoint or file is still
there under its name, loadable, and no temporary or ``.old-*`` directory is left beside it.
"""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from helpers import fail_rename

import gpupipe as gp
from gpupipe import ops

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
