"""Bad input to to_tensors, Loader, train/evaluate/predict, baselines.fit and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from corpus_helpers import expect_error, says_what_to_do

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError, ParameterError, SchemaError
from gpupipe.schema import ColumnSchema, Schema

N = 64


@pytest.fixture
def prepared(backend):
    rng = np.random.default_rng(0)
    src = pd.DataFrame({"x": rng.normal(size=N), "s": pd.array(rng.choice(["a", "b", "c"], N), dtype="str"),
                        "y": rng.integers(0, 2, N).astype("float32")})
    wf = gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify(), label="y")
    out = wf.fit_transform(gp.from_pandas(src))
    return gp.to_pandas(out), wf.output_schema


def _model(schema, **kw):
    torch.manual_seed(0)
    return gp.models.TabularMLP.from_schema(schema, hidden=(8,), **kw)


# ----------------------------------------------------------------------------------- to_tensors / Loader
@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_labels_are_refused_by_to_tensors_and_the_loader(prepared, value):
    out, schema = prepared
    bad = out.assign(y=out["y"].where(out.index != 5, value))
    expect_error(DataError, lambda: gp.to_tensors(bad, schema), "'y'", "row 5")
    expect_error(DataError, lambda: gp.Loader(bad, schema=schema, batch_size=8), "'y'")


@pytest.mark.parametrize("ids", [[-1], [99]], ids=["negative", "past-cardinality"])
def test_out_of_range_ids_are_refused(prepared, ids):
    out, schema = prepared
    bad = out.copy()
    bad.loc[3, "s"] = ids[0]
    expect_error(DataError, lambda: gp.to_tensors(bad, schema), "'s'", str(ids[0]))


def test_missing_non_numeric_and_null_columns_are_named(prepared):
    out, schema = prepared
    expect_error(SchemaError, lambda: gp.to_tensors(out.drop(columns="s"), schema), "['s']")
    expect_error(SchemaError, lambda: gp.to_tensors(out.assign(x="a"), schema), "'x'", "Categorify")
    nulls = out.assign(s=pd.array([None] * N, dtype="Int64"))
    expect_error(DataError, lambda: gp.to_tensors(nulls, schema), "'s'", "nulls")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_in_a_continuous_column_are_refused_naming_it(prepared, value):
    out, schema = prepared
    src = out.assign(x=out["x"].astype("float64").where(out.index != 2, value))
    for build in (lambda: gp.to_tensors(src, schema), lambda: gp.Loader(src, schema=schema, batch_size=8)):
        exc = expect_error(DataError, build, "'x'", "row 2", "ops.FillMissing", "ops.FillMedian", "ops.Dropna")
        assert says_what_to_do(exc)
    # validate=False converts without looking: the value is kept, and the copy named
    tt = gp.to_tensors(src, schema, validate=False)
    assert not torch.isfinite(tt["x"][2]) and int((~torch.isfinite(tt["x"])).sum()) == 1
    assert "x" in tt.copies


def test_duplicate_names_and_non_frames_are_refused(prepared):
    out, schema = prepared
    dup = pd.concat([out, out[["x"]]], axis=1)
    expect_error(SchemaError, lambda: gp.to_tensors(dup, schema), "duplicate", "'x'")
    expect_error(SchemaError, lambda: gp.Loader(dup, schema=schema), "duplicate")
    expect_error(ParameterError, lambda: gp.to_tensors([1, 2], schema), "list")
    expect_error(SchemaError, lambda: gp.to_tensors(pd.DataFrame({0: [1.0]})), "strings")


def test_an_empty_frame_gives_an_empty_table_and_the_loader_refuses_it(prepared):
    out, schema = prepared
    assert gp.to_tensors(out.iloc[:0], schema).num_rows == 0
    expect_error(DataError, lambda: gp.Loader(out.iloc[:0], schema=schema), "no rows")


@pytest.mark.parametrize("kw", [{"batch_size": 0}, {"batch_size": 2.5}, {"rank": 2, "world_size": 2},
                                {"workers": -1}])
def test_bad_loader_arguments_say_what_is_accepted(prepared, kw):
    out, schema = prepared
    with pytest.raises(ValueError, match="must be"):
        gp.Loader(out, schema=schema, **kw)


# ----------------------------------------------------------------------------------- train / evaluate / predict
def test_a_model_with_smaller_embeddings_than_the_data_is_a_schema_error(prepared):
    out, schema = prepared
    small = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("s", "cat", "int64", 2),
                    ColumnSchema("y", "label", "float32")])
    loader = gp.Loader(out, schema=schema, batch_size=16, shuffle=False)
    model = _model(small)
    for call in (lambda: gp.train(model, loader, progress=False), lambda: gp.evaluate(model, loader),
                 lambda: gp.predict(model, loader)):
        exc = expect_error(SchemaError, call, "'s'", "from_schema")
        assert "data 6" in str(exc)


def test_a_model_built_for_other_columns_is_a_schema_error(prepared):
    out, schema = prepared
    other = Schema([ColumnSchema("a", "cont", "float32"), ColumnSchema("b", "cont", "float32"),
                    ColumnSchema("y", "label", "float32")])
    loader = gp.Loader(out, schema=schema, batch_size=16)
    expect_error(SchemaError, lambda: gp.train(_model(other), loader, progress=False), "built for")


def test_binary_training_and_evaluation_refuse_labels_other_than_0_and_1(prepared):
    out, schema = prepared
    loader = gp.Loader(out.assign(y=out["y"] * 5), schema=schema, batch_size=16)
    exc = expect_error(DataError, lambda: gp.train(_model(schema), loader, progress=False), "0 and 1", "regression")
    assert says_what_to_do(exc)
    expect_error(DataError, lambda: gp.evaluate(_model(schema), loader), "0 and 1")
    # the same labels are fine for a regression model
    reg = gp.train(_model(schema, task="regression"), loader, progress=False)
    assert np.isfinite(reg.train_loss)


def test_a_diverging_loss_is_a_data_error_with_advice(prepared):
    out, schema = prepared
    loader = gp.Loader(out.assign(x=np.float32(3e38)), schema=schema, batch_size=16)
    exc = expect_error(DataError, lambda: gp.train(_model(schema, task="regression"), loader, progress=False,
                                                  lr=1e3), "training loss", "lr")
    assert "Normalize" in str(exc)


def test_evaluating_one_class_gives_nan_auc_with_a_warning(prepared):
    out, schema = prepared
    loader = gp.Loader(out.assign(y=np.float32(1)), schema=schema, batch_size=16)
    with pytest.warns(RuntimeWarning, match="one class"):
        metrics = gp.evaluate(_model(schema), loader)
    assert np.isnan(metrics["auc"]) and np.isfinite(metrics["logloss"])


def test_a_loader_without_label_cannot_train(prepared):
    out, schema = prepared
    features = schema.without_label()
    loader = gp.Loader(out.drop(columns="y"), schema=features, batch_size=16, shuffle=False)
    expect_error(SchemaError, lambda: gp.train(_model(schema), loader, progress=False), "no label")
    assert gp.predict(_model(schema), loader).shape == (N,)


def test_predict_on_a_shuffling_loader_is_refused_naming_the_fix(prepared):
    out, schema = prepared
    loader = gp.Loader(out, schema=schema, batch_size=16)  # gp.Loader shuffles by default
    exc = expect_error(ParameterError, lambda: gp.predict(_model(schema), loader), "loader.shuffle",
                       "gp.Loader(..., shuffle=False)")
    assert says_what_to_do(exc)


def test_scoring_data_transformed_without_its_label_says_which_schema_to_pass(prepared):
    out, schema = prepared
    unlabeled = out.drop(columns="y")
    for build in (lambda: gp.to_tensors(unlabeled, schema), lambda: gp.Loader(unlabeled, schema=schema)):
        exc = expect_error(SchemaError, build, "'y'", "schema=wf.output_schema.without_label()")
        assert says_what_to_do(exc)
    features = schema.without_label()
    assert features.names == ["x", "s"] and features.label is None and schema.label == "y"
    scores = gp.predict(_model(schema), gp.Loader(unlabeled, schema=features, shuffle=False))
    assert scores.shape == (N,)


# ----------------------------------------------------------------------------------- baselines
@pytest.mark.parametrize(("change", "error", "names"), [
    (lambda f: f.assign(y=np.float32(1)), DataError, ["'y'", "both classes"]),
    (lambda f: f.assign(y=f["y"] * 3), DataError, ["'y'", "0/1"]),
    (lambda f: f.assign(y=f["y"].where(f.index != 1)), DataError, ["'y'", "NaN"]),
    (lambda f: f.assign(x=f["x"].where(f.index != 1, np.inf)), DataError, ["'x'", "infinite"]),
    (lambda f: f.assign(x=f["x"].where(f.index != 1)), DataError, ["'x'", "NaN"]),
    (lambda f: f.assign(s=99), DataError, ["'s'", "out-of-range"]),
    (lambda f: f.drop(columns="x"), SchemaError, ["['x']"]),
    (lambda f: f.iloc[:0], DataError, ["empty"]),
], ids=["one-class", "not-binary", "nan-label", "inf-feature", "nan-feature", "bad-id", "missing", "empty"])
def test_baselines_refuse_bad_frames(prepared, change, error, names):
    out, schema = prepared
    expect_error(error, lambda: gp.baselines.fit(change(out), schema, kind="logistic"), *names)


# ----------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("argv", [["run", "flights-delay", "--epochs", "0"], ["run", "flights-delay", "--rows", "-5"],
                                  ["bench", "--backends", "nope", "--rows", "100", "--repeats", "1"]])
def test_cli_refuses_bad_arguments_with_exit_2_and_no_traceback(capsys, argv):
    from gpupipe.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_cli_unknown_pipeline_is_an_argparse_error(capsys):
    from gpupipe.cli import main

    with pytest.raises(SystemExit) as info:
        main(["run", "no-such-pipeline"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.skipif("cudf" in gp.available_backends(), reason="needs a machine without the cudf backend")
def test_cli_unavailable_backend_is_reported_in_one_line(capsys):
    from gpupipe.cli import main

    assert main(["run", "flights-delay", "--backend", "cudf", "--rows", "1000", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpupipe: error:") and "cudf" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- model vs loader, by name
def _two_cat_frames():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"a": rng.choice(list("pqrs"), n), "b": rng.choice(list("wxyz"), n),
                       "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["y"] = (df["x1"] + (df["a"] == "p") > 0.5).astype("float32")
    return df


def _fitted(cats, conts, df):
    wf = gp.Workflow(cats >> ops.Categorify(), conts >> ops.Normalize(), label="y")
    return wf, wf.fit_transform(df)


@pytest.mark.parametrize("change", ["conts renamed", "a cont missing", "another vocabulary"])
def test_a_loader_whose_columns_are_not_the_models_is_refused_before_any_batch(change):
    df = _two_cat_frames()
    wf, _ = _fitted(["a", "b"], ["x1", "x2"], df)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(8,))
    if change == "conts renamed":
        wf2, out2 = _fitted(["a", "b"], ["x1", "x3"], df.assign(x3=df["x2"]))
    elif change == "a cont missing":
        wf2, out2 = _fitted(["a", "b"], ["x1"], df)
    else:  # `b` refitted on data holding fewer values: same encoder, other ids
        wf2, out2 = _fitted(["a", "b"], ["x1", "x2"], df.assign(b=df["b"].where(df["b"] != "z", "w")))
    loader = gp.Loader(out2, batch_size=64, shuffle=False, schema=wf2.output_schema)
    for call in (lambda: gp.predict(model, loader), lambda: gp.evaluate(model, loader),
                 lambda: gp.train(model, loader, progress=False)):
        with pytest.raises(SchemaError, match="model"):
            call()


@pytest.mark.parametrize(("cats", "conts"), [(["b", "a"], ["x1", "x2"]), (["a", "b"], ["x2", "x1"]),
                                             (["b", "a"], ["x2", "x1"])])
def test_a_loader_holding_the_models_columns_in_another_order_gives_the_same_results(cats, conts):
    df = _two_cat_frames()
    wf, out = _fitted(["a", "b"], ["x1", "x2"], df)
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(8,))
    model.eval()
    base = gp.predict(model, gp.Loader(out, batch_size=64, shuffle=False, schema=wf.output_schema))
    wf2, out2 = _fitted(cats, conts, df)
    other = gp.Loader(out2, batch_size=64, shuffle=False, schema=wf2.output_schema)
    torch.testing.assert_close(gp.predict(model, other), base)
    assert gp.evaluate(model, other) == pytest.approx(gp.evaluate(model, gp.Loader(out, batch_size=64,
                                                                                   schema=wf.output_schema)))
