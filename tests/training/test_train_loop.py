"""gp.train / gp.evaluate / gp.predict on a learnable synthetic task (CPU), and on CUDA where there is one."""

from __future__ import annotations

import copy
import importlib.util
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from loader_standin import StandInLoader, learnable, loaders, make_schema
from sklearn import metrics as skm

import gpupipe as gp
from gpupipe.errors import DataError, SchemaError


def _model(schema, task="binary", dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return gp.models.TabularMLP.from_schema(schema, hidden=(32, 16), task=task, dropout=dropout)


def test_training_reduces_loss_and_learns_the_binary_task():
    schema, train, val = loaders()
    model = _model(schema)
    before = gp.evaluate(model, val)
    result = gp.train(model, train, val=val, epochs=4, lr=1e-2, progress=False)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.metrics["auc"] > 0.8 > before["auc"]
    assert result.metrics["logloss"] < before["logloss"]
    # the reported metrics are those of the returned model
    assert gp.evaluate(model, val) == pytest.approx(result.metrics)
    h = result.history[-1]
    assert h["rows"] == train.num_rows and h["rows_per_s"] > 0 and h["seconds"] > 0
    assert {"val_auc", "val_logloss", "val_accuracy", "val_seconds"} <= set(h)


def test_loss_curve_has_every_step_and_matches_the_epoch_means():
    schema, train, _ = loaders()
    result = gp.train(_model(schema), train, epochs=2, lr=1e-2, progress=False)
    steps = len(list(train))
    assert len(result.loss_curve) == 2 * steps
    sizes = [len(b.label) for b in train]
    for e, h in enumerate(result.history):
        curve = result.loss_curve[e * steps:(e + 1) * steps]
        assert h["train_loss"] == pytest.approx(np.average(curve, weights=sizes), rel=1e-9)
    # the curve is the loss of each step: recomputing the first step from the same start agrees
    model = _model(schema)
    train.set_epoch(0)  # gp.train starts each run at epoch 0
    first = next(iter(train))
    with torch.no_grad():
        loss0 = torch.nn.functional.binary_cross_entropy_with_logits(model(first.cont, first.cat), first.label)
    again = gp.train(_model(schema), train, epochs=1, lr=1e-2, progress=False)
    assert again.loss_curve[0] == pytest.approx(float(loss0), rel=1e-5)


def test_regression_beats_the_constant_predictor():
    schema, train, val = loaders(task="regression")
    model = _model(schema, task="regression")
    result = gp.train(model, train, val=val, epochs=4, lr=1e-2, progress=False)
    constant = float(np.std(val.label.numpy()))  # RMSE of predicting the mean
    assert result.metrics["rmse"] < 0.6 * constant
    assert set(result.metrics) == {"rmse", "mae"}


def test_evaluate_and_predict_agree_with_sklearn_on_the_same_scores():
    schema, train, val = loaders()
    model = _model(schema)
    gp.train(model, train, epochs=1, lr=1e-2, progress=False)
    scores = gp.predict(model, val)
    assert scores.shape == (val.num_rows,) and float(scores.min()) >= 0 and float(scores.max()) <= 1
    with torch.no_grad():
        direct = torch.sigmoid(model(val.cont, val.cat))
    torch.testing.assert_close(scores, direct)
    y = val.label.numpy()
    m = gp.evaluate(model, val)
    assert m["auc"] == pytest.approx(skm.roc_auc_score(y, scores.numpy()), abs=1e-9)
    assert m["logloss"] == pytest.approx(skm.log_loss(y, scores.numpy().astype(np.float64)), rel=1e-5)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, scores.numpy() > 0.5))


def _weights(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_identical_seeds_give_identical_weights_and_different_seeds_differ():
    schema, train, _ = loaders(n=2000)
    base = _model(schema, dropout=0.3)  # dropout makes the seed matter
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        model = copy.deepcopy(base)
        gp.train(model, train, epochs=2, lr=1e-2, seed=seed, progress=False)
        runs[name] = _weights(model)
    assert torch.equal(runs["a"], runs["b"])
    assert not torch.equal(runs["a"], runs["c"])


def test_train_restores_the_global_rng_state():
    schema, train, _ = loaders(n=600)
    model = _model(schema, dropout=0.5)
    state = torch.get_rng_state()
    gp.train(model, train, epochs=1, seed=3, progress=False)
    assert torch.equal(torch.get_rng_state(), state)


def test_early_stopping_stops_and_restores_the_best_weights():
    schema = make_schema()
    cont, cat, label = learnable(3000, seed=1)
    train = StandInLoader(cont[:2000], cat[:2000], label[:2000], 128, shuffle=True, schema=schema)
    # validation labels are inverted: the better the model learns, the worse its validation AUC gets
    val = StandInLoader(cont[2000:], cat[2000:], 1 - label[2000:], 1024, schema=schema)
    model = _model(schema)
    result = gp.train(model, train, val=val, epochs=20, lr=1e-2, early_stopping=2, progress=False)
    assert result.stopped_early and len(result.history) < 20
    aucs = [h["val_auc"] for h in result.history]
    assert result.best_epoch == 1 + int(np.argmax(aucs))
    assert len(result.history) == result.best_epoch + 2  # patience 2: stops on the second epoch without gain
    assert result.metrics["auc"] == pytest.approx(max(aucs))
    assert gp.evaluate(model, val)["auc"] == pytest.approx(max(aucs))  # best weights are back


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_early_stopping_stops_after_patience_epochs_without_gain_with_torchs_weights(patience):
    """EarlyStopping(patience=k, restore_best=False) stops at the k-th epoch in a row without improvement, and the
    model holds the weights of that many epochs of torch.optim.Adam on the same batches (not one epoch more)."""
    schema = make_schema()
    cont, cat, label = learnable(600, seed=1)
    train = StandInLoader(cont[:400], cat[:400], label[:400], 64, shuffle=True, schema=schema)
    # inverted validation labels: every epoch after the first is worse, so epoch 1 is the best
    val = StandInLoader(cont[400:], cat[400:], 1 - label[400:], 200, schema=schema)
    model = _model(schema)
    reference = copy.deepcopy(model)
    result = gp.train(model, train, val=val, epochs=10, lr=1e-2, seed=0, threads=1, progress=False,
                      early_stopping=gp.EarlyStopping(patience=patience, restore_best=False))
    aucs = [h["val_auc"] for h in result.history]
    assert result.best_epoch == 1 and all(a < aucs[0] for a in aucs[1:])
    assert result.stopped_early and len(result.history) == 1 + patience
    opt = torch.optim.Adam(reference.parameters(), lr=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    with gp.training.loop.intra_op_threads(1):
        for epoch in range(1 + patience):
            train.set_epoch(epoch)
            for b in train:
                loss = loss_fn(reference(b.cont, b.cat).reshape(-1), b.label)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    for (k, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert result.metrics == pytest.approx(gp.evaluate(reference, val))


def test_early_stopping_needs_validation_and_a_known_metric():
    schema, train, _ = loaders(n=300)
    with pytest.raises(ValueError, match="val="):
        gp.train(_model(schema), train, early_stopping=1, progress=False)
    with pytest.raises(ValueError, match="rmse"):
        gp.train(_model(schema), train, val=train, early_stopping=gp.EarlyStopping(metric="rmse"), progress=False)


class _SyncCounter:
    """Counts host reads of tensors (.item(), .tolist(), .cpu(), bool/float/int) made from gpupipe's code."""

    NAMES = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__")

    def __init__(self, monkeypatch):
        self.count = 0
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(original))

    def _wrap(self, original):
        counter = self

        def wrapper(*args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if "gpupipe" in caller and "tests" not in caller:
                counter.count += 1
            return original(*args, **kwargs)

        return wrapper


def test_no_per_batch_host_reads_in_the_training_loop(monkeypatch):
    schema = make_schema()
    cont, cat, label = learnable(2560)
    counter = _SyncCounter(monkeypatch)
    counts = []
    for batch_size in (512, 64):  # 5 and 40 batches per epoch
        train = StandInLoader(cont, cat, label, batch_size, schema=schema)
        val = StandInLoader(cont[:1000], cat[:1000], label[:1000], batch_size, schema=schema)
        counter.count = 0
        gp.train(_model(schema), train, val=val, epochs=2, progress=False)
        counts.append(counter.count)
    assert counts[0] == counts[1], f"host reads grow with the number of batches: {counts}"
    assert 0 < counts[0] <= 10  # a handful per epoch: the loss and the metrics, read once each


def test_nan_loss_raises_data_error_with_advice():
    schema = make_schema()
    cont, cat, label = learnable(512)
    cont[5, 0] = float("nan")
    train = StandInLoader(cont, cat, label, 128, schema=schema)
    with pytest.raises(DataError, match=r"lower the learning rate.*NaN"):
        gp.train(_model(schema), train, progress=False)


def test_empty_loader_and_missing_label_are_clear_errors():
    schema = make_schema()
    cont, cat, label = learnable(100)
    empty = StandInLoader(cont[:0], cat[:0], label[:0], 32, schema=schema)
    with pytest.raises(DataError, match="no batches"):
        gp.train(_model(schema), empty, progress=False)
    with pytest.raises(DataError, match="no batches"):
        gp.evaluate(_model(schema), empty)
    unlabeled = StandInLoader(cont, cat, label, 32, schema=make_schema(label=False))
    with pytest.raises(SchemaError, match="label"):
        gp.train(_model(schema), unlabeled, progress=False)


def test_batches_that_do_not_fit_the_model_are_a_schema_error():
    schema = make_schema()
    cont, cat, label = learnable(100, n_cont=2)
    # a loader with a schema is matched by column name before any batch
    loader = StandInLoader(cont, cat, label, 32, schema=make_schema(n_cont=2))
    with pytest.raises(SchemaError, match=r"continuous columns \['x0', 'x1'\].*built for \['x0', 'x1', 'x2'\]"):
        gp.train(_model(schema), loader, progress=False)
    # without one, the first batch's shape is checked
    loader = StandInLoader(cont, cat, label, 32, schema=None)
    with pytest.raises(SchemaError, match=r"x0.*cont of shape \(32, 2\)"):
        gp.train(_model(schema), loader, progress=False)


def test_checkpoint_during_training_holds_the_best_epoch(tmp_path):
    schema, train, val = loaders(n=2000)
    model = _model(schema)
    result = gp.train(model, train, val=val, epochs=3, lr=1e-2, checkpoint=tmp_path / "ckpt",
                      early_stopping=gp.EarlyStopping(patience=5), progress=False)
    info = gp.training.checkpoint_info(tmp_path / "ckpt")
    assert info["extra"]["epoch"] == result.best_epoch
    restored = gp.load_checkpoint(tmp_path / "ckpt")
    assert gp.evaluate(restored, val) == pytest.approx(result.metrics)
    assert restored.schema == schema


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_log_dir_without_tensorboard_warns_and_trains(tmp_path):
    schema, train, _ = loaders(n=300)
    with pytest.warns(RuntimeWarning, match="TensorBoard is not installed"):
        result = gp.train(_model(schema), train, log_dir=tmp_path / "tb", progress=False)
    assert len(result.history) == 1


def test_progress_bar_reports_rows(capsys):
    schema, train, _ = loaders(n=600)
    gp.train(_model(schema), train, epochs=1, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "rows/s" in err


def test_progress_bar_counts_this_ranks_rows(capsys):
    # 600 rows over 2 ranks: 300 per rank; the bar's total was 512 (every rank's 600, capped at 2 batches of 256),
    # so each epoch ended at 59%
    schema = make_schema()
    cont, cat, label = learnable(600)
    frame = pd.DataFrame({**{f"x{i}": cont[:, i].numpy() for i in range(3)},
                          **{f"c{i}": cat[:, i].numpy() for i in range(2)}, "y": label.numpy()})
    shard = gp.Loader(frame, batch_size=256, schema=schema, rank=1, world_size=2)
    result = gp.train(_model(schema), shard, epochs=1, progress=True)
    err = capsys.readouterr().err
    assert result.history[0]["rows"] == 300
    assert "300/300" in err and "/512" not in err


def test_dcnv2_trains_too():
    schema, train, val = loaders()
    torch.manual_seed(0)
    model = gp.models.DCNv2.from_schema(schema, cross_layers=2, hidden=(32,))
    result = gp.train(model, train, val=val, epochs=3, lr=1e-2, progress=False)
    assert result.metrics["auc"] > 0.8


@pytest.mark.gpu
def test_cuda_training_with_bf16_autocast_and_no_per_batch_syncs():
    schema = make_schema()
    cont, cat, label = learnable(20480)
    counts, results = [], []
    for batch_size in (4096, 512):  # 5 and 40 batches per epoch
        train = StandInLoader(cont, cat, label, batch_size, schema=schema, device="cuda")
        val = StandInLoader(cont[:4096], cat[:4096], label[:4096], 1024, schema=schema, device="cuda")
        model = _model(schema)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                result = gp.train(model, train, val=val, epochs=2, lr=1e-2, progress=False)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
        results.append(result)
    assert counts[0] == counts[1], f"device syncs grow with the number of batches: {counts}"
    assert next(results[1].model.parameters()).device.type == "cuda"
    assert results[1].metrics["auc"] > 0.8
    # bf16 autocast is on by default on CUDA: the first linear layer's output is bf16 under the loop's context
    from gpupipe.training.loop import _amp_context

    with _amp_context(torch.device("cuda"), None):
        out = results[1].model.body[0](torch.randn(2, results[1].model.inputs.out_dim, device="cuda"))
    assert out.dtype == torch.bfloat16


def test_threads_sets_torchs_count_for_the_call_only():
    schema = make_schema()
    cont, cat, label = learnable(512)
    loader = StandInLoader(cont, cat, label, 128, schema=schema)
    before = torch.get_num_threads()
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = _model(schema)
            self.task = "binary"

        def forward(self, cont, cat):
            seen.append(torch.get_num_threads())
            return self.inner(cont, cat)

    spy = Spy()
    gp.train(spy, loader, epochs=1, threads=1, progress=False)
    assert set(seen) == {1} and torch.get_num_threads() == before
    seen.clear()
    gp.evaluate(spy, loader, threads=1)  # evaluate takes the same parameter
    assert seen and set(seen) == {1} and torch.get_num_threads() == before
    with pytest.raises(gp.ParameterError, match="threads"):
        gp.train(_model(schema), loader, threads=0, progress=False)
    with pytest.raises(gp.ParameterError, match="threads"):
        gp.evaluate(_model(schema), loader, threads=0)


def test_early_stopping_never_picks_an_epoch_on_nan_validation_scores():
    # a validation batch whose features hold NaN (a stand-in loader does not check them): the model scores
    # those rows NaN, and the metrics would hide it (a finite AUC beside a NaN log loss)
    schema = make_schema()
    cont, cat, label = learnable(1500, seed=2)
    train = StandInLoader(cont[:1000], cat[:1000], label[:1000], 128, shuffle=True, schema=schema)
    vcont = cont[1000:].clone()
    vcont[[3, 40, 77], 1] = float("nan")
    val = StandInLoader(vcont, cat[1000:], label[1000:], 256, schema=schema)
    for stop in (gp.EarlyStopping(metric="logloss", patience=1), gp.EarlyStopping(metric="auc", patience=1)):
        with pytest.raises(DataError) as exc:
            gp.train(_model(schema), train, val=val, epochs=4, lr=1e-2, early_stopping=stop, progress=False)
        msg = str(exc.value)
        assert msg.startswith("validation after epoch 1: the model produced 3 NaN scores (of 500 rows)"), msg
        assert "ops.FillMissing" in msg and "learning rate" in msg
    with pytest.raises(DataError, match="the model produced 3 NaN scores"):
        gp.evaluate(_model(schema), val)


def test_predict_refuses_any_shuffling_loader_before_a_batch():
    schema = make_schema()
    cont, cat, label = learnable(300)
    shuffled = StandInLoader(cont, cat, label, 64, shuffle=True, schema=schema)
    shuffled.__class__ = type("Counted", (StandInLoader,), {"__iter__": lambda self: pytest.fail("a batch was read")})
    with pytest.raises(gp.ParameterError, match=r"gp.predict: loader.shuffle must be False, got True") as exc:
        gp.predict(_model(schema), shuffled)
    assert "gp.Loader(..., shuffle=False)" in str(exc.value)
    in_order = StandInLoader(cont, cat, label, 64, schema=schema)
    model = _model(schema)
    with torch.no_grad():
        direct = torch.sigmoid(model.eval()(cont, cat)).reshape(-1)
    torch.testing.assert_close(gp.predict(model, in_order), direct)


@pytest.mark.parametrize("how", ["early_stopping", "checkpoint"])
def test_a_one_class_validation_set_cannot_pick_the_best_epoch_by_auc(how, tmp_path):
    # its AUC is NaN every epoch, which never compares as better: early stopping stopped and restored epoch 1, and
    # checkpoint= kept epoch 1 while the model went on training
    schema = make_schema()
    cont, cat, label = learnable(600, seed=3)
    train = StandInLoader(cont[:500], cat[:500], label[:500], 100, shuffle=True, schema=schema)
    val = StandInLoader(cont[500:], cat[500:], torch.ones(100), 50, schema=schema)
    kw = {"early_stopping": 1} if how == "early_stopping" else {"checkpoint": tmp_path / "ckpt"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(DataError, match=r"after epoch 1: the auc is undefined .*only one class.*metric='logloss'"):
            gp.train(_model(schema), train, val=val, epochs=4, lr=1e-2, progress=False, **kw)
        # monitoring the log loss trains and picks as it should; without either, the NaN AUC is only reported
        result = gp.train(_model(schema), train, val=val, epochs=4, lr=1e-2, progress=False,
                          early_stopping=gp.EarlyStopping(metric="logloss", patience=4))
        assert len(result.history) == 4 and result.best_epoch > 1
        result = gp.train(_model(schema), train, val=val, epochs=2, lr=1e-2, progress=False)
    assert len(result.history) == 2 and np.isnan(result.metrics["auc"])


def test_train_refuses_a_task_other_than_the_models_before_any_batch():
    # a binary model trained as regression was then scored through a sigmoid by gp.predict (values in (0, 1) for
    # targets around 5), by its checkpoint and by batch_predict, with nothing said
    schema = make_schema()
    cont, cat, _ = learnable(256)
    target = 3 * cont[:, 0] + 5
    loader = StandInLoader(cont, cat, target, 64, schema=schema)
    loader.__class__ = type("Counted", (StandInLoader,), {"__iter__": lambda self: pytest.fail("a batch was read")})
    with pytest.raises(gp.ParameterError, match=r"gp.train: task must be None or the model's own task, 'binary'.*"
                                                r"task='regression'"):
        gp.train(_model(schema), loader, task="regression", progress=False)
    loader.__class__ = StandInLoader
    model = _model(schema, task="regression")
    gp.train(model, loader, task="regression", epochs=2, lr=1e-2, progress=False)
    assert gp.predict(model, loader).max() > 1
