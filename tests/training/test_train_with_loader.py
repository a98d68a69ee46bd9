"""End to end with the real pieces: Workflow -> gp.Loader -> model -> gp.train / gp.evaluate / baselines."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm

import gpupipe as gp
from gpupipe import ops


def _raw(n, seed):
    rng = np.random.default_rng(seed)
    city = rng.choice(["a", "b", "c", "d", "e"], n)
    dist = rng.gamma(2.0, 300.0, n)
    dist[rng.uniform(size=n) < 0.05] = np.nan
    effect = pd.Series(city).map({"a": -1.5, "b": -0.5, "c": 0.0, "d": 0.5, "e": 1.5}).to_numpy()
    signal = effect + (np.nan_to_num(dist, nan=600.0) - 600.0) / 300.0
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-signal))).astype("float32")
    return pd.DataFrame({"city": pd.array(city, dtype="str"), "dist": dist, "y": y})


@pytest.fixture(scope="module")
def prepared():
    with gp.use_backend("pandas"):
        wf = gp.Workflow(["dist"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
                         ["city"] >> ops.Categorify(), label="y")
        train = wf.fit_transform(_raw(4000, 0))
        val = wf.transform(_raw(1500, 1))
    return wf, train, val


def test_workflow_loader_model_train(prepared):
    wf, train, val = prepared
    schema = wf.output_schema
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(16,))
    tl = gp.Loader(train, batch_size=256, shuffle=True, schema=schema)
    vl = gp.Loader(val, batch_size=1024, shuffle=False, schema=schema)
    result = gp.train(model, tl, val=vl, epochs=3, lr=1e-2, progress=False)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.metrics["auc"] > 0.75
    # unshuffled predictions follow the frame's row order: score them with scikit-learn directly
    scores = gp.predict(model, vl).numpy()
    assert result.metrics["auc"] == pytest.approx(skm.roc_auc_score(val[schema.label], scores), abs=1e-9)


def test_identical_seeds_with_a_shuffling_loader(prepared):
    wf, train, _ = prepared
    schema = wf.output_schema
    torch.manual_seed(0)
    base = gp.models.TabularMLP.from_schema(schema, hidden=(16,), dropout=0.2)
    weights = []
    for loader_seed in (5, 5, 6):
        model = copy.deepcopy(base)
        gp.train(model, gp.Loader(train, batch_size=256, shuffle=True, seed=loader_seed, schema=schema),
                 epochs=2, seed=1, progress=False)
        weights.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])  # a different shuffle gives different weights


def test_baseline_on_the_workflow_output_uses_the_same_metrics(prepared):
    wf, train, val = prepared
    base = gp.baselines.fit(train, wf.output_schema, kind="logistic")
    pred = base.predict(val)
    got = base.score(val)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(val["y"], pred))
    assert got["auc"] > 0.75


def test_predict_on_gp_loaders_default_shuffle_is_refused_before_any_batch(prepared, monkeypatch):
    wf, train, val = prepared
    schema = wf.output_schema
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(8,))
    gp.train(model, gp.Loader(train, batch_size=256, schema=schema), epochs=1, lr=1e-2, progress=False)
    default = gp.Loader(val, batch_size=512, schema=schema)  # shuffle=True is gp.Loader's default
    assert default.shuffle is True
    with monkeypatch.context() as m:
        m.setattr(gp.Loader, "__iter__", lambda self: pytest.fail("a batch was read before the check"))
        with pytest.raises(gp.ParameterError) as exc:
            gp.predict(model, default)
    msg = str(exc.value)
    assert "loader.shuffle" in msg and "gp.Loader(..., shuffle=False)" in msg
    # in order, score i is row i: scikit-learn on the frame's labels gives gp.evaluate's AUC
    scores = gp.predict(model, gp.Loader(val, batch_size=512, shuffle=False, schema=schema)).numpy()
    assert gp.evaluate(model, default)["auc"] == pytest.approx(skm.roc_auc_score(val["y"], scores), abs=1e-9)


def _bn_frame(n):
    rng = np.random.default_rng(n)
    return pd.DataFrame({"x": rng.normal(size=n).astype("float32"), "c": np.arange(n) % 10,
                         "y": (np.arange(n) % 2).astype("float32")})


@pytest.mark.parametrize("kind", ["TabularMLP", "DCNv2"])
@pytest.mark.parametrize(("n", "loader_kw", "rows_per_epoch"), [
    (129, {"batch_size": 64}, 129),
    (129, {"batch_size": 32, "world_size": 2, "rank": 1}, 65),  # DistributedSampler: 65 rows on each rank
    (40, {"batch_size": 1, "drop_last": True}, 40),  # every batch is 1 row: drop_last does not help
])
def test_batchnorm_with_a_one_row_batch_is_refused_before_training(kind, n, loader_kw, rows_per_epoch):
    df = _bn_frame(n)
    schema = gp.Schema.infer(df, label="y", cat=["c"])
    loader = gp.Loader(df, schema=schema, **loader_kw)
    sizes = [len(b) for b in loader]
    sampler_kw = {k: v for k, v in loader_kw.items() if k in ("rank",)}
    ref = torch.utils.data.DataLoader(range(n), batch_size=loader_kw["batch_size"],
                                      drop_last=loader_kw.get("drop_last", False),
                                      sampler=torch.utils.data.DistributedSampler(
                                          range(n), num_replicas=loader_kw.get("world_size", 1),
                                          rank=sampler_kw.get("rank", 0), shuffle=False))
    assert sizes == [len(b) for b in ref] and sizes[-1] == 1 and sum(sizes) == rows_per_epoch
    torch.manual_seed(0)
    model = getattr(gp.models, kind).from_schema(schema, hidden=(8,), batchnorm=True)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(gp.ParameterError) as exc:
        gp.train(model, loader, epochs=2, progress=False)
    msg = str(exc.value)
    assert "BatchNorm" in msg and "1 row" in msg
    if loader_kw["batch_size"] == 1:
        assert "batch_size >= 2" in msg
    else:
        assert "drop_last=True" in msg and "batch_size" in msg and f"{rows_per_epoch} rows per epoch" in msg
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # not a step taken


def test_batchnorm_trains_when_no_batch_has_one_row():
    df = _bn_frame(129)
    schema = gp.Schema.infer(df, label="y", cat=["c"])
    model = gp.models.TabularMLP.from_schema(schema, hidden=(8,), batchnorm=True)
    dropped = gp.train(model, gp.Loader(df, batch_size=64, drop_last=True, schema=schema), epochs=2, progress=False)
    assert [h["rows"] for h in dropped.history] == [128, 128]  # DataLoader(drop_last=True): 2 batches of 64
    other = gp.train(model, gp.Loader(df, batch_size=50, schema=schema), epochs=1, progress=False)
    assert other.history[0]["rows"] == 129
    # a model without BatchNorm trains on the 1-row batch as before
    plain = gp.models.TabularMLP.from_schema(schema, hidden=(8,))
    assert gp.train(plain, gp.Loader(df, batch_size=64, schema=schema), progress=False).history[0]["rows"] == 129


def test_batchnorm_on_a_dataset_of_unknown_size_names_the_fix_at_the_one_row_batch():
    df = _bn_frame(129)
    schema = gp.Schema.infer(df, label="y", cat=["c"])

    class Streamed:  # partitions one after the other, sizes not told (no map_partials, no get_partition)
        num_partitions = 3

        def iter_partitions(self):
            for start in (0, 50, 100):
                yield df.iloc[start:start + 50].reset_index(drop=True)

    loader = gp.Loader(Streamed(), batch_size=64, shuffle=False, schema=schema)
    assert loader.num_rows is None  # nothing to compute the last batch from before reading
    model = gp.models.TabularMLP.from_schema(schema, hidden=(8,), batchnorm=True)
    with pytest.raises(gp.ParameterError, match=r"a training batch has 1 row; pass drop_last=True"):
        gp.train(model, loader, progress=False)


def test_predict_refuses_a_drop_last_loader_that_drops_rows_before_any_batch(monkeypatch):
    df = _bn_frame(10)
    schema = gp.Schema.infer(df, label="y")
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(4,))
    everything = gp.predict(model, gp.Loader(df, batch_size=4, shuffle=False, schema=schema))
    assert everything.shape == (10,)
    dropping = gp.Loader(df, batch_size=4, shuffle=False, drop_last=True, schema=schema)
    assert sum(len(b) for b in dropping) == 8  # what predict returned: 8 scores for 10 rows, nothing said
    with monkeypatch.context() as m:
        m.setattr(gp.Loader, "__iter__", lambda self: pytest.fail("a batch was read before the check"))
        with pytest.raises(gp.ParameterError, match=r"loader.drop_last must be False.*drops the last 2 of its 10 rows"):
            gp.predict(model, dropping)
    # drop_last with nothing to drop scores every row, in order
    exact = gp.Loader(df, batch_size=5, shuffle=False, drop_last=True, schema=schema)
    torch.testing.assert_close(gp.predict(model, exact), everything)


@pytest.mark.parametrize("rank", [0, 1])
def test_predict_refuses_a_ranks_share_of_the_rows_before_any_batch(rank, monkeypatch):
    # rank 0 of 2 scored rows 0, 2, 4, ... and row 0 again as padding: 6 scores for 11 rows, none said which
    df = _bn_frame(11)
    schema = gp.Schema.infer(df, label="y")
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(4,))
    share = gp.Loader(df, batch_size=4, shuffle=False, schema=schema, rank=rank, world_size=2)
    assert sum(len(b) for b in share) == 6
    monkeypatch.setattr(gp.Loader, "__iter__", lambda self: pytest.fail("a batch was read before the check"))
    with pytest.raises(gp.ParameterError, match=r"gp.predict: loader.world_size must be 1, got 2.*world_size=1"):
        gp.predict(model, share)


def test_evaluate_and_validation_refuse_a_drop_last_loader_that_drops_rows(monkeypatch):
    """Metrics over a drop_last loader left its short last batch out (8 of 10 rows scored, AUC of those rows, nothing
    said); evaluate and train's validation refuse it before any batch, as predict does. Training keeps drop_last."""
    from sklearn.metrics import roc_auc_score

    df = _bn_frame(10)
    schema = gp.Schema.infer(df, label="y")
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(4,))
    dropping = gp.Loader(df, batch_size=4, shuffle=False, drop_last=True, schema=schema)
    with monkeypatch.context() as m:
        m.setattr(gp.Loader, "__iter__", lambda self: pytest.fail("a batch was read before the check"))
        with pytest.raises(gp.ParameterError, match=r"gp.evaluate: loader.drop_last must be False.*drops the last 2 "
                                                    r"of its 10 rows.*metrics would leave them out"):
            gp.evaluate(model, dropping)
        with pytest.raises(gp.ParameterError, match=r"gp.train: val.drop_last must be False.*drops the last 2"):
            gp.train(model, gp.Loader(df, batch_size=4, drop_last=True, schema=schema), val=dropping, epochs=1,
                     progress=False)
    every = gp.Loader(df, batch_size=4, shuffle=False, schema=schema)
    scores = gp.predict(model, every).numpy()
    got = gp.evaluate(model, every)["auc"]
    assert got == pytest.approx(roc_auc_score(df["y"].to_numpy(), scores))  # all 10 rows
    exact = gp.Loader(df, batch_size=5, shuffle=False, drop_last=True, schema=schema)  # nothing to drop
    assert gp.evaluate(model, exact)["auc"] == pytest.approx(got)


@pytest.mark.parametrize("where", ["loader", "val"])
def test_binary_labels_other_than_0_1_are_refused_before_any_training_step(where, monkeypatch):
    df = _bn_frame(64)
    bad = df.assign(y=np.where(np.arange(64) == 63, 2.0, df["y"]).astype("float32"))
    schema = gp.Schema.infer(df, label="y")
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(schema, hidden=(4,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train = gp.Loader(bad if where == "loader" else df, batch_size=16, schema=schema)
    val = gp.Loader(bad if where == "val" else df, batch_size=16, schema=schema)
    with monkeypatch.context() as m:
        # the check read the flag at the end of the first epoch (of training, or of its validation): a whole
        # epoch of steps, which changed the model's weights, before the error
        m.setattr(gp.Loader, "__iter__", lambda self: pytest.fail("a batch was read before the check"))
        what = "training" if where == "loader" else "validation"
        with pytest.raises(gp.DataError, match=f"the {what} labels hold values other than 0 and 1"):
            gp.train(model, train, val=val, epochs=2, progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def _swapped_vocabulary(frame):
    """The frame with its two most frequent cities' names swapped: a refit gives as many ids, naming other values."""
    return frame.assign(city=frame["city"].map({"e": "a", "a": "e"}).fillna(frame["city"]))


@pytest.mark.parametrize("entry", ["train", "evaluate", "predict"])
def test_a_refit_workflow_of_the_same_cardinality_is_refused_before_any_batch(entry, monkeypatch, tmp_path):
    raw = _raw(600, 0)
    with gp.use_backend("pandas"):
        wf = gp.Workflow(["dist"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
                         ["city"] >> ops.Categorify() >> ops.FillMissing(), label="y").fit(raw)
        torch.manual_seed(0)
        model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
        gp.save_checkpoint(model, tmp_path / "model")
        before = wf.transform(raw)["city"].to_numpy()
        wf.fit(_swapped_vocabulary(raw))  # the same five cities, counted in another order
        frame = wf.transform(raw)
    assert wf.output_schema.cardinalities["city"] == model.schema.cardinalities["city"]
    assert not np.array_equal(frame["city"].to_numpy(), before)  # the same rows get other ids
    loader = gp.Loader(frame, batch_size=128, shuffle=False, schema=wf.output_schema)
    monkeypatch.setattr(type(loader), "__iter__", lambda self: pytest.fail("a batch was read"))
    call = {"train": lambda m: gp.train(m, loader, progress=False), "evaluate": lambda m: gp.evaluate(m, loader),
            "predict": lambda m: gp.predict(m, loader)}[entry]
    for m in (model, gp.load_checkpoint(tmp_path / "model")):
        with pytest.raises(gp.SchemaError, match=r"'city'.*another fit of its vocabulary.*fitted again"):
            call(m)


def test_bucketize_boundaries_changed_at_equal_count_are_refused_and_equal_ones_accepted(tmp_path):
    """Bucket ids of other boundaries (as many: the same cardinality) name other ranges: a model trained on
    [300, 600, 900] buckets scored data bucketed at [100, 200, 300] without a word. The same boundaries written as
    floats, and a Workflow saved and loaded, give the same ids and are accepted."""
    raw = _raw(600, 0)

    def workflow(bounds):
        return gp.Workflow(["dist"] >> ops.Bucketize(bounds), ["city"] >> ops.Categorify(), label="y").fit(raw)

    wf = workflow([300, 600, 900])
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    expected = gp.predict(model, gp.Loader(wf.transform(raw), shuffle=False, schema=wf.output_schema))
    wf.save(tmp_path / "wf")
    for same in (workflow([300.0, 600.0, 900.0]), gp.Workflow.load(tmp_path / "wf")):
        loader = gp.Loader(same.transform(raw), shuffle=False, schema=same.output_schema)
        assert torch.equal(gp.predict(model, loader), expected)
    other = workflow([100, 200, 300])
    assert other.output_schema.cardinalities == wf.output_schema.cardinalities
    loader = gp.Loader(other.transform(raw), shuffle=False, schema=other.output_schema)
    with pytest.raises(gp.SchemaError, match=r"'dist'.*other boundaries.*Bucketize boundaries changed"):
        gp.predict(model, loader)
    with pytest.raises(gp.SchemaError, match=r"the ids of \['dist'\] are of another fit or other boundaries"):
        gp.serving.check_model_matches(other, model)


def test_the_same_vocabulary_refit_saved_or_fitted_on_a_dataset_is_accepted(tmp_path):
    raw = _raw(600, 0)
    with gp.use_backend("pandas"):
        def workflow():
            return gp.Workflow(["dist"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
                               ["city"] >> ops.Categorify(), label="y")

        wf = workflow().fit(raw)
        torch.manual_seed(0)
        model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
        wf.save(tmp_path / "wf")
        refits = [workflow().fit(raw.sample(frac=1.0, random_state=1)), workflow().fit(gp.Dataset(raw, partition_rows=70)),
                  gp.Workflow.load(tmp_path / "wf")]
        expected = gp.predict(model, gp.Loader(wf.transform(raw), shuffle=False, schema=wf.output_schema))
        for other in refits:
            loader = gp.Loader(other.transform(raw), shuffle=False, schema=other.output_schema)
            assert torch.equal(gp.predict(model, loader), expected)
