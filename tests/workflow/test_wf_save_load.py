"""Saving and loading: identical transforms after a round trip, atomic replace, and every kind of bad save refused."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from helpers import assert_frame_equal

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import WorkflowFormatError
from gpupipe.workflow import serialize


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "cnt": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 50, n)), dtype="Int64"),
        "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
        "s": pd.array(rng.choice(["a", "b", "c", "d"], n), dtype="str"),
        "y": rng.integers(0, 2, n),
    })


def _workflow() -> gp.Workflow:
    return gp.Workflow(
        ["cnt"] >> ops.FillMedian(add_indicator=True) >> ops.Clip(lower=0, upper=40) >> ops.LogOp() >> ops.Normalize(),
        ["x"] >> ops.Rename(mapping={"x": "x_mm"}) >> ops.FillMissing(fill_value=-1.5) >> ops.NormalizeMinMax(),
        ["t"] >> ops.DateParts(parts=("month", "dow")),
        ["s"] >> ops.Categorify(),
        label="y",
    )


@pytest.fixture
def fitted() -> gp.Workflow:
    return _workflow().fit(_frame())


def test_round_trip_transforms_identically(tmp_path, backend: str) -> None:
    df = gp.from_pandas(_frame())
    wf = _workflow().fit(df)
    path = wf.save(tmp_path / "wf")
    assert (path / "workflow.json").is_file()
    loaded = gp.Workflow.load(path)
    assert loaded.output_schema == wf.output_schema
    assert [type(op) for op in loaded.ops] == [type(op) for op in wf.ops]
    assert loaded.ops[3].means_ == wf.ops[3].means_  # floats survive JSON exactly
    new = gp.from_pandas(_frame(seed=1))
    assert_frame_equal(loaded.transform(new), wf.transform(new))


def test_json_contents(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    doc = json.loads((tmp_path / "wf" / "workflow.json").read_text())
    assert doc["format"] == "gpupipe-workflow" and doc["format_version"] == serialize.FORMAT_VERSION
    assert doc["gpupipe_version"] == gp.__version__ and doc["label"] == "y"
    assert doc["nodes"][2]["ops"][0]["params"] == {"parts": {"__tuple__": ["month", "dow"]}}
    assert doc["output_schema"] == fitted.output_schema.to_dict()
    assert doc["artifacts"], "Categorify's vocabulary is an artifact"
    for rel in doc["artifacts"]:
        assert rel.startswith("artifacts/") and rel.endswith(".parquet")
    assert not list((tmp_path / "wf").rglob("*.pkl"))


def test_save_replaces_old_save_atomically(tmp_path, fitted: gp.Workflow, monkeypatch) -> None:
    first = _workflow().fit(_frame(seed=5))
    first.save(tmp_path / "wf")
    fitted.save(tmp_path / "wf")  # replace
    assert gp.Workflow.load(tmp_path / "wf").ops[3].means_ == fitted.ops[3].means_
    assert sorted(os.listdir(tmp_path)) == ["wf"]  # no temporary or old directories left

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(serialize, "sha256_file", crash)  # fail mid-save, after artifacts are written
    with pytest.raises(OSError, match="disk full"):
        first.save(tmp_path / "wf")
    monkeypatch.undo()
    assert gp.Workflow.load(tmp_path / "wf").ops[3].means_ == fitted.ops[3].means_  # old save intact
    assert sorted(os.listdir(tmp_path)) == ["wf"]


def test_refuses_to_overwrite_unrelated_directory(tmp_path, fitted: gp.Workflow) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("mine")
    with pytest.raises(WorkflowFormatError, match="not a saved"):
        fitted.save(tmp_path / "data")
    assert (tmp_path / "data" / "keep.txt").read_text() == "mine"


def test_tampered_artifact(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    art = next((tmp_path / "wf" / "artifacts").iterdir())
    pd.DataFrame({"value": ["evil"], "count": [1]}).to_parquet(art)
    with pytest.raises(WorkflowFormatError, match=art.name + ".*sha256"):
        gp.Workflow.load(tmp_path / "wf")


def test_missing_artifact(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    art = next((tmp_path / "wf" / "artifacts").iterdir())
    art.unlink()
    with pytest.raises(WorkflowFormatError, match="missing"):
        gp.Workflow.load(tmp_path / "wf")


def _edit(path, fn) -> None:
    jf = path / "workflow.json"
    doc = json.loads(jf.read_text())
    fn(doc)
    jf.write_text(json.dumps(doc))


def test_truncated_json(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    jf = tmp_path / "wf" / "workflow.json"
    jf.write_bytes(jf.read_bytes()[:200])
    with pytest.raises(WorkflowFormatError, match=r"workflow.json.*not valid JSON"):
        gp.Workflow.load(tmp_path / "wf")


def test_newer_format(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: d.update(format_version=serialize.FORMAT_VERSION + 1))
    with pytest.raises(WorkflowFormatError, match=r"workflow.json.*Upgrade gpupipe"):
        gp.Workflow.load(tmp_path / "wf")


def test_unknown_op_type_is_not_instantiated(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: d["nodes"][0]["ops"][0].update(type="os.system", params={"command": "touch x"}))
    with pytest.raises(WorkflowFormatError, match=r"'os.system'.*not a known gpupipe op"):
        gp.Workflow.load(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: d["nodes"][0]["ops"][0].update(type="LambdaOp", params={"fn": "print"}))
    with pytest.raises(WorkflowFormatError, match=r"'LambdaOp'.*not a known"):
        gp.Workflow.load(tmp_path / "wf")


def test_artifact_path_outside_save_refused(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: d["artifacts"].update({"../../elsewhere.parquet": "0" * 64}))
    with pytest.raises(WorkflowFormatError, match=r"elsewhere.parquet.*not a parquet file inside"):
        gp.Workflow.load(tmp_path / "wf")


def test_edited_structure_and_schema(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: d["nodes"][0]["ops"][3].update(state={}))
    with pytest.raises(WorkflowFormatError, match=r"Normalize.*state could not be restored"):
        gp.Workflow.load(tmp_path / "wf")
    fitted.save(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: d["output_schema"]["columns"].pop(0))
    with pytest.raises(WorkflowFormatError, match="schema"):
        gp.Workflow.load(tmp_path / "wf")
    fitted.save(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: d["nodes"][0]["ops"][1]["params"].update(bogus=1))
    with pytest.raises(WorkflowFormatError, match=r"Clip.*parameters"):
        gp.Workflow.load(tmp_path / "wf")


@pytest.mark.parametrize(("node", "op", "edit", "column"), [
    (0, 3, lambda st: st["means"].pop("cnt_missing"), "cnt_missing"),  # Normalize
    (0, 0, lambda st: st["medians"].pop("cnt"), "cnt"),            # FillMedian
    (1, 2, lambda st: st["ranges"].pop("x_mm"), "x_mm"),           # NormalizeMinMax
    (3, 0, lambda st: st.update(columns=["z"]), "s"),              # Categorify: a vocabulary of another column
])
def test_state_lacking_a_column_of_its_node_is_refused_at_load(tmp_path, fitted: gp.Workflow, node, op, edit,
                                                                column) -> None:
    """Such an edited save loaded, and its transform failed with a bare KeyError (Normalize, FillMedian,
    NormalizeMinMax) or a SchemaError that did not name the file (Categorify)."""
    fitted.save(tmp_path / "wf")
    _edit(tmp_path / "wf", lambda d: edit(d["nodes"][node]["ops"][op]["state"]))
    with pytest.raises(WorkflowFormatError, match=rf"workflow\.json: .*\(node {node}\) reads column\(s\) \['{column}'\]"
                                                  r".*edited or is damaged"):
        gp.Workflow.load(tmp_path / "wf")


def test_lambda_op_refused_with_advice(tmp_path) -> None:
    wf = gp.Workflow(["x"] >> ops.LambdaOp(lambda s: s.fillna(0)) >> ops.Normalize(), label="y").fit(_frame())
    with pytest.raises(WorkflowFormatError, match=r"never pickles.*built-in op.*recreate it after load"):
        wf.save(tmp_path / "wf")
    assert not (tmp_path / "wf").exists() and not list(tmp_path.iterdir())


def test_unfitted_and_missing(tmp_path) -> None:
    with pytest.raises(gp.NotFittedError):
        _workflow().save(tmp_path / "wf")
    with pytest.raises(FileNotFoundError, match=r"workflow.json"):
        gp.Workflow.load(tmp_path / "nothing")


def test_interrupted_replace_is_named(tmp_path, fitted: gp.Workflow) -> None:
    fitted.save(tmp_path / "wf")
    os.rename(tmp_path / "wf", tmp_path / ".wf.old-1234abcd")  # the instant between the two renames
    with pytest.raises(FileNotFoundError, match=r"\.wf\.old-1234abcd"):
        gp.Workflow.load(tmp_path / "wf")


def test_unsaveable_parameter(tmp_path) -> None:
    wf = gp.Workflow(["x"] >> ops.FillMissing(fill_value=0), label="y").fit(_frame())
    wf.nodes[0].ops[0].fill_value = object()
    with pytest.raises(WorkflowFormatError, match=r"fill_value.*cannot be saved"):
        wf.save(tmp_path / "wf")


def _plain(value, path="spec"):
    """Every value of a spec is plain data (JSON values, tuples) or a frame, never an op or a workflow."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain(v, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{path} has key {k!r}"
            _plain(v, f"{path}.{k}")
        return
    assert hasattr(value, "columns"), f"{path} is a {type(value).__name__}"


def test_spec_is_plain_data_and_rebuilds_the_workflow(backend: str) -> None:
    wf = _workflow().fit(gp.from_pandas(_frame()))
    spec = wf.to_spec()
    _plain(spec)
    assert spec["label"] == "y" and spec["output_schema"] == wf.output_schema.to_dict()
    assert [op["type"] for op in spec["nodes"][0]["ops"]] == ["FillMedian", "Clip", "LogOp", "Normalize"]
    again = gp.Workflow.from_spec(spec)
    assert again.is_fitted and again.output_schema == wf.output_schema
    new = gp.from_pandas(_frame(seed=1))
    assert_frame_equal(again.transform(new), wf.transform(new))
    with pytest.raises(gp.NotFittedError):
        _workflow().to_spec()
    spec["nodes"][0]["ops"][0]["type"] = "Nope"
    with pytest.raises(WorkflowFormatError, match=r"node 0 op 0 has type 'Nope'"):
        gp.Workflow.from_spec(spec)


def test_serialize_reads_and_writes_only_the_spec() -> None:
    """serialize.py touches no private attribute of anything (a Workflow's state comes through to_spec/from_spec)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(serialize))
    private = sorted({n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_")
                      and not n.attr.startswith("__")})
    assert private == []
