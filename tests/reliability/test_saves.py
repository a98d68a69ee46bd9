"""Saves survive interruption; tampered or unknown content is refused without running anything."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from corpus_helpers import expect_error

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import WorkflowFormatError

ROOT = Path(__file__).resolve().parents[2]


def _data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=200), "s": pd.array(rng.choice(list("abcdef"), 200), dtype="str"),
                         "y": rng.integers(0, 2, 200).astype("float32")})


def _wf() -> gp.Workflow:
    return gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify(), label="y")


@pytest.fixture
def saved(tmp_path):
    with gp.use_backend("pandas"):
        wf = _wf().fit(_data(0))
        wf.save(tmp_path / "wf")
        expected = wf.transform(_data(9))
    return tmp_path / "wf", expected


# ----------------------------------------------------------------------------------- interrupted saves
def test_a_save_failing_midway_leaves_the_previous_save_loadable(saved, monkeypatch):
    path, expected = saved
    before = {p.name: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    calls = {"n": 0}
    real = pq.write_table

    def failing(table, where, *a, **kw):  # the second artifact write dies, as a full disk would
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(table, where, *a, **kw)

    with gp.use_backend("pandas"):
        other = gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify(), ["s"] >> ops.Rename(postfix="_2")
                            >> ops.Categorify(), label="y").fit(_data(1))
        monkeypatch.setattr(pq, "write_table", failing)
        with pytest.raises(OSError, match="No space"):
            other.save(path)
        monkeypatch.undo()
        assert calls["n"] == 2
        after = {p.name: p.read_bytes() for p in path.rglob("*") if p.is_file()}
        assert after == before
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".wf.")]  # temporary files removed
        pd.testing.assert_frame_equal(gp.Workflow.load(path).transform(_data(9)), expected)


def test_a_process_killed_mid_save_leaves_the_previous_save_loadable(saved):
    path, expected = saved
    # The child saves another workflow over `path` and dies (os._exit: no cleanup, no finally blocks)
    # right after the first file of the new save is fsynced (every file is written by then, none renamed in).
    child = textwrap.dedent(f"""
        import os, numpy as np, pandas as pd, gpupipe as gp
        from gpupipe import ops
        import gpupipe._files as files
        real = files.fsync
        def die(p):
            real(p)
            os._exit(9)
        files.fsync = die
        gp.set_backend("pandas")
        rng = np.random.default_rng(1)
        df = pd.DataFrame({{"x": rng.normal(size=50), "s": pd.array(rng.choice(list("pq"), 50), dtype="str"),
                           "y": rng.integers(0, 2, 50).astype("float32")}})
        wf = gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify(), label="y").fit(df)
        wf.save({str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    leftovers = [p for p in path.parent.iterdir() if p.name.startswith(".wf.tmp-")]
    assert leftovers, "the child should have died mid-save, leaving its temporary directory"
    with gp.use_backend("pandas"):
        pd.testing.assert_frame_equal(gp.Workflow.load(path).transform(_data(9)), expected)


# ----------------------------------------------------------------------------------- tampered workflows
def _edit(path: Path, fn) -> None:
    doc = json.loads((path / "workflow.json").read_text())
    fn(doc)
    (path / "workflow.json").write_text(json.dumps(doc))


def test_an_op_type_naming_a_python_callable_is_refused_and_not_run(saved, tmp_path, monkeypatch):
    path, _ = saved
    ran = []
    monkeypatch.setattr(os, "system", lambda *a: ran.append(a) or 0)
    marker = tmp_path / "pwned"

    def inject(doc):
        doc["nodes"][0]["ops"][0]["type"] = "os.system"
        doc["nodes"][0]["ops"][0]["params"] = {"command": f"touch {marker}"}

    _edit(path, inject)
    expect_error(WorkflowFormatError, lambda: gp.Workflow.load(path), "os.system", "not a known gpupipe op")
    assert not ran and not marker.exists()


@pytest.mark.parametrize("key", ["__class__", "__init__", "fn"])
def test_parameters_an_op_does_not_take_are_refused(saved, key):
    path, _ = saved
    _edit(path, lambda doc: doc["nodes"][0]["ops"][0].__setitem__("params", {key: "os.system"}))
    expect_error(WorkflowFormatError, lambda: gp.Workflow.load(path), "Normalize", key)


def test_a_replaced_parquet_artifact_is_refused(saved):
    path, _ = saved
    (art,) = (path / "artifacts").glob("*Categorify*.parquet")
    vocab = pq.read_table(art).to_pandas()
    evil = vocab.iloc[::-1].reset_index(drop=True)  # same values, other ids: a silent re-coding if accepted
    pq.write_table(pa.Table.from_pandas(evil, preserve_index=False), art)
    expect_error(WorkflowFormatError, lambda: gp.Workflow.load(path), art.name, "sha256")


def test_an_artifact_path_outside_the_save_is_refused(saved, tmp_path):
    path, _ = saved
    outside = tmp_path / "outside.parquet"
    pq.write_table(pa.table({"value": ["a"], "count": [1]}), outside)

    def point_outside(doc):
        rel = next(iter(doc["artifacts"]))
        doc["artifacts"]["artifacts/../../outside.parquet"] = doc["artifacts"].pop(rel)

    _edit(path, point_outside)
    expect_error(WorkflowFormatError, lambda: gp.Workflow.load(path), "outside.parquet", "not a parquet file inside")


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"\xff\xfe", b'{"format": "gpupipe-workflow"}'])
def test_truncated_or_foreign_workflow_json_is_refused(saved, content):
    path, _ = saved
    (path / "workflow.json").write_bytes(content)
    expect_error(WorkflowFormatError, lambda: gp.Workflow.load(path), "workflow.json")


def test_a_newer_format_is_refused_with_upgrade_advice(saved):
    path, _ = saved
    _edit(path, lambda doc: doc.__setitem__("format_version", 99))
    expect_error(WorkflowFormatError, lambda: gp.Workflow.load(path), "format_version 99", "Upgrade")


def test_loading_never_unpickles(saved, monkeypatch):
    path, expected = saved

    def no_pickle(*a, **kw):
        raise AssertionError("pickle used while loading a workflow")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    with gp.use_backend("pandas"):
        pd.testing.assert_frame_equal(gp.Workflow.load(path).transform(_data(9)), expected)


# ----------------------------------------------------------------------------------- checkpoints
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Payload:
    """Unpickling this runs ``touch <marker>``: what a malicious model.pt would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def checkpoint(tmp_path):
    from gpupipe.schema import ColumnSchema, Schema

    schema = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("s", "cat", "int64", 5),
                     ColumnSchema("y", "label", "float32")])
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(4,))
    return gp.save_checkpoint(model, tmp_path / "ckpt"), model


def test_checkpoints_load_with_weights_only(checkpoint, monkeypatch):
    path, model = checkpoint
    seen = []
    real = torch.load

    def spy(*a, **kw):
        seen.append(kw.get("weights_only"))
        return real(*a, **kw)

    monkeypatch.setattr(torch, "load", spy)
    loaded = gp.load_checkpoint(path)
    assert seen == [True]
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch notes the foreign pickle
def test_a_model_pt_replaced_by_a_code_running_pickle_is_refused_and_not_run(checkpoint, tmp_path):
    path, _ = checkpoint
    marker = tmp_path / "pwned"
    with open(path / "model.pt", "wb") as f:
        pickle.dump(_Payload(marker), f)
    # the hash no longer matches: refused before the file is read at all
    expect_error(WorkflowFormatError, lambda: gp.load_checkpoint(path), "model.pt", "sha256")
    assert not marker.exists()
    # an attacker who also rewrites the recorded hash still meets torch.load(weights_only=True)
    meta = json.loads((path / "model.json").read_text())
    meta["files"]["model.pt"]["sha256"] = _sha256(path / "model.pt")
    (path / "model.json").write_text(json.dumps(meta))
    expect_error(WorkflowFormatError, lambda: gp.load_checkpoint(path), "model.pt", "state_dict")
    assert not marker.exists()


def test_a_torch_saved_module_instead_of_a_state_dict_is_refused(checkpoint):
    path, model = checkpoint
    torch.save(model, path / "model.pt")  # a whole pickled module (code references), not weights
    meta = json.loads((path / "model.json").read_text())
    meta["files"]["model.pt"]["sha256"] = _sha256(path / "model.pt")
    (path / "model.json").write_text(json.dumps(meta))
    expect_error(WorkflowFormatError, lambda: gp.load_checkpoint(path), "model.pt")


def test_an_unknown_model_class_is_refused(checkpoint):
    path, _ = checkpoint
    meta = json.loads((path / "model.json").read_text())
    meta["model_class"] = "os.system"
    (path / "model.json").write_text(json.dumps(meta))
    expect_error(WorkflowFormatError, lambda: gp.load_checkpoint(path), "os.system", "not registered")


def test_a_checkpoint_save_failing_midway_keeps_the_previous_one(checkpoint, monkeypatch):
    path, model = checkpoint
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)

    def failing(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", failing)
    with pytest.raises(OSError, match="No space"):
        gp.save_checkpoint(model, path)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".ckpt.")]
    shutil.rmtree(path)
    with pytest.raises(FileNotFoundError):
        gp.load_checkpoint(path)
