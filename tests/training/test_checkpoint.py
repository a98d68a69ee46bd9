"""Checkpoints round-trip; anything tampered, truncated or unknown is a WorkflowFormatError naming the file."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from loader_standin import make_schema

import gpupipe as gp
from gpupipe.errors import WorkflowFormatError
from gpupipe.training.checkpoint import checkpoint_info


def _inputs(schema, n=64):
    g = torch.Generator().manual_seed(1)
    cont = torch.randn(n, len(schema.cont), generator=g)
    cat = torch.stack([torch.randint(0, c, (n,), generator=g) for c in schema.cardinalities.values()], dim=1)
    return cont, cat


def _trained(cls, **kw):
    schema = make_schema()
    torch.manual_seed(0)
    model = cls.from_schema(schema, hidden=(16, 8), batchnorm=True, dropout=0.1, **kw)
    cont, cat = _inputs(schema, 256)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):  # move the weights and BatchNorm running stats away from their initial values
        loss = model(cont, cat).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize("cls,kw", [(gp.models.TabularMLP, {}),
                                    (gp.models.DCNv2, {"cross_layers": 2, "low_rank": 4, "structure": "parallel"})])
def test_round_trip_gives_the_same_predictions(tmp_path, cls, kw):
    model = _trained(cls, **kw)
    path = gp.save_checkpoint(model, tmp_path / "ck", extra={"epoch": 3, "auc": 0.75})
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.pt"]
    loaded = gp.load_checkpoint(path)
    assert type(loaded) is cls and not loaded.training
    assert loaded.config == model.config and loaded.schema == model.schema
    cont, cat = _inputs(model.schema)
    with torch.no_grad():
        torch.testing.assert_close(loaded(cont, cat), model(cont, cat), rtol=0, atol=0)
    info = checkpoint_info(path)
    assert info["extra"] == {"epoch": 3, "auc": 0.75} and info["model_class"] == cls.__name__
    assert info["gpupipe_version"] == gp.__version__


def test_saving_again_replaces_the_checkpoint_without_leftovers(tmp_path):
    model = _trained(gp.models.TabularMLP)
    gp.save_checkpoint(model, tmp_path / "ck", extra={"epoch": 1})
    gp.save_checkpoint(model, tmp_path / "ck", extra={"epoch": 2})
    assert checkpoint_info(tmp_path / "ck")["extra"]["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temporary or old directories left


def test_refuses_to_replace_a_directory_holding_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(WorkflowFormatError, match=r"notes\.txt"):
        gp.save_checkpoint(_trained(gp.models.TabularMLP), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.fixture
def saved(tmp_path):
    return gp.save_checkpoint(_trained(gp.models.TabularMLP), tmp_path / "ck")


def test_tampered_weights_name_model_pt(saved):
    data = bytearray((saved / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (saved / "model.pt").write_bytes(bytes(data))
    with pytest.raises(WorkflowFormatError, match=r"model\.pt.*sha256"):
        gp.load_checkpoint(saved)


def test_truncated_weights_name_model_pt(saved):
    data = (saved / "model.pt").read_bytes()
    (saved / "model.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(WorkflowFormatError, match=r"model\.pt"):
        gp.load_checkpoint(saved)


def test_missing_weights_name_model_pt(saved):
    (saved / "model.pt").unlink()
    with pytest.raises(WorkflowFormatError, match=r"model\.pt is missing"):
        gp.load_checkpoint(saved)


def _edit_meta(saved, **changes):
    meta = json.loads((saved / "model.json").read_text())
    meta.update(changes)
    (saved / "model.json").write_text(json.dumps(meta))
    return meta


def test_unknown_model_class_names_model_json(saved):
    _edit_meta(saved, model_class="EvilModel")
    with pytest.raises(WorkflowFormatError, match=r"model\.json.*'EvilModel'.*register_model"):
        gp.load_checkpoint(saved)


def test_newer_format_and_broken_json_name_model_json(saved):
    _edit_meta(saved, format_version=99)
    with pytest.raises(WorkflowFormatError, match=r"model\.json.*version 99"):
        gp.load_checkpoint(saved)
    (saved / "model.json").write_text('{"format": "gpupipe.checkpoint", ')
    with pytest.raises(WorkflowFormatError, match=r"model\.json.*not valid JSON"):
        gp.load_checkpoint(saved)


def test_config_that_does_not_fit_the_weights_is_an_error(saved):
    meta = json.loads((saved / "model.json").read_text())
    _edit_meta(saved, config={**meta["config"], "hidden": [4]})
    with pytest.raises(WorkflowFormatError, match=r"model\.pt does not fit"):
        gp.load_checkpoint(saved)


class _Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_pickle_with_code_is_refused_even_with_a_matching_hash(saved):
    # a forged checkpoint: arbitrary pickle, hash updated; weights_only=True must refuse to run it
    import hashlib

    (saved / "model.pt").write_bytes(pickle.dumps({"x": _Payload()}, protocol=2))
    meta = json.loads((saved / "model.json").read_text())
    meta["files"]["model.pt"]["sha256"] = hashlib.sha256((saved / "model.pt").read_bytes()).hexdigest()
    (saved / "model.json").write_text(json.dumps(meta))
    with pytest.raises(WorkflowFormatError, match=r"model\.pt could not be read"):
        gp.load_checkpoint(saved)


def test_not_a_checkpoint_and_unregistered_models(tmp_path):
    with pytest.raises(FileNotFoundError):
        gp.load_checkpoint(tmp_path / "nope")
    with pytest.raises(WorkflowFormatError, match=r"model\.json is missing"):
        gp.load_checkpoint(tmp_path)
    with pytest.raises(WorkflowFormatError, match="register_model"):
        gp.save_checkpoint(torch.nn.Linear(2, 1), tmp_path / "lin")


@pytest.mark.gpu
def test_a_model_saved_on_the_gpu_loads_on_the_cpu(tmp_path):
    model = _trained(gp.models.TabularMLP).to("cuda")
    gp.save_checkpoint(model, tmp_path / "ck")
    loaded = gp.load_checkpoint(tmp_path / "ck")
    assert next(loaded.parameters()).device.type == "cpu"
    cont, cat = _inputs(model.schema)
    with torch.no_grad():
        torch.testing.assert_close(loaded(cont, cat), model(cont.cuda(), cat.cuda()).cpu(), rtol=1e-5, atol=1e-5)


class _Unregistered(torch.nn.Module):
    task = "binary"

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(1, 1)

    def forward(self, cont, cat):
        return self.lin(cont[:, :1]).squeeze(-1)


@pytest.mark.parametrize("case", ["other files", "unregistered model"])
def test_train_refuses_a_checkpoint_it_cannot_write_before_the_first_epoch(tmp_path, case):
    """gp.train(checkpoint=...) found out at its first save, after a whole epoch (and validation), that the
    directory held other files or that the model could not be checkpointed: the epoch's work was lost."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=256).astype("float32"), "y": rng.integers(0, 2, 256).astype("float32")})
    schema = gp.Schema.infer(frame, label="y")
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(4,)) if case == "other files" else _Unregistered()
    where = tmp_path / "ckpt"
    if case == "other files":
        where.mkdir()
        (where / "notes.txt").write_text("mine")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pattern = r"gp\.train: .*notes\.txt" if case == "other files" else r"gp\.train: cannot checkpoint .*_Unregistered"
    with pytest.raises(WorkflowFormatError, match=pattern):
        gp.train(model, gp.Loader(frame, batch_size=32, schema=schema), epochs=2, progress=False, checkpoint=where)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no step was taken
    assert case != "other files" or sorted(p.name for p in where.iterdir()) == ["notes.txt"]
