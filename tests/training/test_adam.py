"""gp.train's Adam/AdamW: torch's own update functions without torch.optim.Optimizer, the same weights bit for bit."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from loader_standin import StandInLoader, learnable, make_schema

import gpupipe as gp
from gpupipe.training._adam import Adam


def _model(schema, seed=0):
    torch.manual_seed(seed)
    return gp.models.TabularMLP.from_schema(schema, hidden=(16, 8), task="binary")


def _pair_and_reference(rows, name, weight_decay):
    """(batches, our model, torch.optim's model already trained on them) from the same initial weights."""
    schema = make_schema()
    cont, cat, label = learnable(rows)
    batches = [(cont[i:i + 64], cat[i:i + 64], label[i:i + 64]) for i in range(0, rows, 64)] * 2
    ours, theirs = _model(schema), _model(schema)
    theirs.load_state_dict(copy.deepcopy(ours.state_dict()))
    torch_cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    _steps(theirs, torch_cls(theirs.parameters(), lr=3e-3, weight_decay=weight_decay), batches)
    return batches, ours, theirs


def _assert_same_weights(ours, theirs):
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def _steps(model, opt, batches):
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for cont, cat, label in batches:
        loss = loss_fn(model(cont, cat).reshape(-1), label)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


@pytest.mark.parametrize(("name", "weight_decay"), [("adam", 0.0), ("adam", 0.01), ("adamw", 0.0), ("adamw", 0.05)])
def test_weights_equal_torch_optim_bit_for_bit(name, weight_decay):
    batches, ours, theirs = _pair_and_reference(640, name, weight_decay)
    _steps(ours, Adam(ours.parameters(), lr=3e-3, weight_decay=weight_decay, decoupled_weight_decay=name == "adamw"),
           batches)
    _assert_same_weights(ours, theirs)


def test_gp_train_gives_torch_optims_weights():
    schema = make_schema()
    cont, cat, label = learnable(512)
    loader = StandInLoader(cont, cat, label, 128, schema=schema)
    model = _model(schema)
    reference = copy.deepcopy(model)
    gp.train(model, loader, epochs=2, lr=1e-2, optimizer="adamw", weight_decay=0.01, progress=False)
    opt = torch.optim.AdamW(reference.parameters(), lr=1e-2, weight_decay=0.01)
    for epoch in range(2):
        loader.set_epoch(epoch)
        _steps(reference, opt, [(b.cont, b.cat, b.label) for b in loader])
    _assert_same_weights(model, reference)


def test_training_imports_no_torch_compiler():
    code = f"""
import sys, torch, gpupipe as gp
sys.path.insert(0, {str(Path(__file__).parent)!r})
from loader_standin import StandInLoader, learnable, make_schema
schema = make_schema()
cont, cat, label = learnable(256)
loader = StandInLoader(cont, cat, label, 64, schema=schema)
model = gp.models.TabularMLP.from_schema(schema, hidden=(8,), task="binary")
gp.train(model, loader, val=loader, epochs=1, progress=False)
gp.predict(model, loader)
print(sorted(m for m in ("torch._dynamo", "sympy") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _old_layout(real, decoupled):
    """torch 2.4-2.6's update function: no decoupled_weight_decay keyword (AdamW in its own function)."""

    def fn(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, grad_scale, found_inf, *,
           amsgrad, has_complex=False, beta1, beta2, lr, weight_decay, eps, maximize, capturable, differentiable):
        real(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, grad_scale, found_inf,
             amsgrad=amsgrad, has_complex=has_complex, beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay,
             eps=eps, maximize=maximize, capturable=capturable, differentiable=differentiable,
             decoupled_weight_decay=decoupled)

    return fn


@pytest.mark.parametrize("layout", ["torch<2.7", "unknown"])
@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_other_torch_layouts_give_the_same_weights(monkeypatch, layout, name):
    from torch.optim import adam, adamw

    batches, ours, theirs = _pair_and_reference(320, name, 0.05)  # the reference before patching
    real = adam._single_tensor_adam
    if layout == "torch<2.7":
        monkeypatch.setattr(adam, "_single_tensor_adam", _old_layout(real, False))
        monkeypatch.setattr(adamw, "_single_tensor_adamw", _old_layout(real, True), raising=False)
    else:  # functions this class does not know: it steps a torch.optim optimizer instead
        monkeypatch.setattr(adam, "_single_tensor_adam", lambda *a, **k: None)
        monkeypatch.delattr(adamw, "_single_tensor_adamw", raising=False)
    opt = Adam(ours.parameters(), lr=3e-3, weight_decay=0.05, decoupled_weight_decay=name == "adamw")
    assert (opt._fallback is None) == (layout == "torch<2.7")
    if layout == "unknown":
        monkeypatch.setattr(adam, "_single_tensor_adam", real)  # the real optimizer's own step needs it
    _steps(ours, opt, batches)
    _assert_same_weights(ours, theirs)
