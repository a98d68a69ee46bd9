"""The shared argument checks (gpupipe/_validate.py): one rule for every entry point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import _validate as V


def test_parameter_error_is_a_gpupipe_value_and_type_error():
    assert issubclass(gp.ParameterError, gp.GpupipeError)
    assert issubclass(gp.ParameterError, ValueError) and issubclass(gp.ParameterError, TypeError)
    assert "ParameterError" in gp.__all__


@pytest.mark.parametrize("value", [2, np.int64(2), np.int32(2), np.uint8(2)])
def test_integers_python_or_numpy_come_back_as_python_ints(value):
    got = V.integer(value, "n", "f", min_value=1)
    assert got == 2 and type(got) is int


@pytest.mark.parametrize("value", [True, np.bool_(True), 2.0, 2.5, "2", None, [2], float("nan")])
def test_an_integer_parameter_refuses_bools_floats_text_and_none(value):
    with pytest.raises(gp.ParameterError, match=r"f: n must be an integer >= 1, got"):
        V.integer(value, "n", "f", min_value=1)


def test_a_whole_float_is_refused_with_the_int_to_pass():
    with pytest.raises(gp.ParameterError, match=r"pass 2 \(a float is never truncated\)"):
        V.integer(2.0, "epochs", "gp.train", min_value=1)


@pytest.mark.parametrize("value", ["no", "yes", "", 0, 1, None, 0.5])
def test_a_flag_is_a_bool_only(value):
    with pytest.raises(gp.ParameterError, match="shuffle must be True or False"):
        V.flag(value, "shuffle", "gp.Loader")
    assert V.flag(np.bool_(False), "shuffle", "gp.Loader") is False


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "1", None, -0.5])
def test_a_number_is_finite_real_and_in_range(value):
    with pytest.raises(gp.ParameterError, match="lr must be"):
        V.number(value, "lr", "gp.train", min_value=0, min_open=True)
    assert V.number(np.float32(0.5), "lr", "gp.train", min_value=0, min_open=True) == 0.5


def test_choices_are_exact_and_suggest_the_spelling():
    with pytest.raises(gp.ParameterError, match="did you mean 'adam'"):
        V.choice("Adam", ["adam", "adamw"], "optimizer", "gp.train")


@pytest.mark.parametrize("value", [["a", "b"], ("a", "b"), pd.Index(["a", "b"]), np.array(["a", "b"])])
def test_a_list_of_names_may_be_any_sequence_of_str(value):
    assert V.name_list(value, "columns", "read_csv") == ["a", "b"]


@pytest.mark.parametrize("value", ["ab", 3, [1], ["a", "a"], [], {"a": 1}])
def test_a_bare_string_or_other_object_is_not_a_list_of_names(value):
    with pytest.raises(gp.ParameterError, match="read_csv: columns must be"):
        V.name_list(value, "columns", "read_csv")


@pytest.mark.parametrize("value", [None, -1, 2**63, 1.5, True, "0"])
def test_a_seed_is_an_integer_in_range(value):
    with pytest.raises(gp.ParameterError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
        V.seed(value, "gp.Loader")


@pytest.mark.parametrize("value", ["gpu", "CPU", "tpu", "cpu:0:1", 1.5, "meta", -1], ids=repr)  # id "gpu" would mark it
def test_a_device_has_one_of_the_accepted_forms(value):
    with pytest.raises(gp.ParameterError, match="device must be None, 'cpu', 'cuda'"):
        V.device(value, "to_tensors")


def test_a_cuda_device_on_a_machine_without_one_is_named_before_any_work():
    import torch

    if torch.cuda.is_available():
        with pytest.raises(gp.ParameterError, match="device index below"):
            V.device(f"cuda:{torch.cuda.device_count()}", "to_tensors")
        return
    with pytest.raises(gp.BackendUnavailableError, match=r"device=.cuda.*no CUDA device"):
        V.device("cuda", "to_tensors")


def test_an_output_directory_is_not_a_file_nor_under_one(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(gp.ParameterError, match="is a file"):
        V.output_dir(f, "out", "gpupipe")
    with pytest.raises(gp.ParameterError, match="is a file, not a directory"):
        V.output_dir(f / "sub", "out", "gpupipe")
    assert V.output_dir(tmp_path / "new" / "dir", "out", "gpupipe") == tmp_path / "new" / "dir"


def test_a_bad_op_parameter_fails_when_the_workflow_is_built():
    from gpupipe import ops

    op = ops.Categorify(freq_threshold=1.5)  # __init__ only stores (scikit-learn's contract)
    with pytest.raises(gp.ParameterError, match=r"Categorify: freq_threshold must be an integer >= 0, got 1\.5"):
        gp.Workflow(["c"] >> op)


def _small_dataset():
    return gp.Dataset(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": ["x", "y", "x", "z"]}), partition_rows=2)


def _fitted_workflow():
    from gpupipe import ops

    return gp.Workflow(["c"] >> ops.Categorify()).fit(pd.DataFrame({"c": ["x", "y", "x"]}))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: _small_dataset().head(2.0), r"Dataset\.head: n must be an integer >= 0, got 2\.0"),
    (lambda: _small_dataset().head(True), r"Dataset\.head: n must be an integer >= 0, got True"),
    (lambda: _small_dataset().head(None), r"Dataset\.head: n must be an integer >= 0, got None"),
    (lambda: _small_dataset().head(-1), r"Dataset\.head: n must be an integer >= 0, got -1"),
    (lambda: _small_dataset().map_partitions("len"), r"Dataset\.map_partitions: fn must be a function"),
    (lambda: _small_dataset().map_partitions(None), r"Dataset\.map_partitions: fn must be a function"),
    (lambda: _small_dataset().map_partials(1), r"Dataset\.map_partials: fn must be a function"),
    (lambda: _small_dataset().to_parquet(None), r"Dataset\.to_parquet: directory must be a path"),
    (lambda: _small_dataset().to_parquet(1), r"Dataset\.to_parquet: directory must be a path"),
    (lambda: gp.Workflow.load(None), r"Workflow\.load: directory must be a path"),
    (lambda: gp.Workflow.load(1), r"Workflow\.load: directory must be a path"),
    (lambda: _fitted_workflow().table(["c"]), r"Workflow\.table: column must be a string, got \['c'\]"),
    (lambda: _fitted_workflow().vocabulary(["c"]), r"Workflow\.vocabulary: column must be a string, got \['c'\]"),
])
def test_dataset_and_workflow_methods_name_a_bad_argument(call, match):
    with pytest.raises(gp.ParameterError, match=match):
        call()


def test_dataset_head_takes_a_numpy_integer():
    assert len(_small_dataset().head(np.int64(1))) == 1


def test_more_entry_points_name_a_bad_argument(tmp_path):
    """These raised bare TypeErrors from deep inside (os.fspath, iteration, subscripting) or named no function."""
    import pandas as pd

    from gpupipe import ops

    wf = gp.Workflow(["c"] >> ops.Categorify()).fit(pd.DataFrame({"c": ["a", "b", "a"]}))
    out = wf.transform(pd.DataFrame({"c": ["a", "b"]}))
    with pytest.raises(gp.ParameterError, match=r"Workflow.inverse_transform: columns"):
        wf.inverse_transform(out, columns=1)
    assert wf.inverse_transform(out, columns="c")["c"].tolist() == ["a", "b"]  # one name is one column
    for bad in (None, 1, "x", {"nodes": "x"}):
        with pytest.raises(gp.WorkflowFormatError, match=r"Workflow.from_spec: spec must be"):
            gp.Workflow.from_spec(bad)
    with pytest.raises(gp.ParameterError, match=r"batch_predict: out"):
        gp.batch_predict(wf, None, out, out=1, progress=False)
    for call in (gp.set_backend, lambda n: gp.use_backend(n).__enter__()):
        with pytest.raises(gp.ParameterError, match=r"gp\.(set|use)_backend: name 'gpu' is not a backend"):
            call("gpu")
