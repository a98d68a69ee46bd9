"""The ready pipelines, end to end on small data, and their guarantees (no leakage, same split)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from pipelines import STAGES, criteo_ctr, flights_delay
from pipelines._split import split_flights

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_flights_delay_runs_end_to_end(tmp_path):
    res = flights_delay.run(backend="pandas", rows=60_000, progress=False, out=tmp_path, baseline="logistic")
    assert res.backend == "pandas" and res.device == "cpu"
    assert set(STAGES) <= set(res.timings) and res.timings["total"] >= sum(
        v for k, v in res.timings.items() if k != "total") * 0.99
    assert 0.6 < res.metrics["auc"] <= 1 and 0.5 < res.baseline["auc"] <= 1
    assert res.rows["train"] + res.rows["val"] <= 60_000 and res.rows["val"] > 0
    # CPU run: nothing crosses a bus, and the audit says which columns were shared
    assert all(a["h2d_bytes"] == 0 and a["d2h_bytes"] == 0 for a in res.audit.values())
    assert res.audit["to_tensors"]["shared"]
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["metrics"] == pytest.approx(res.metrics)
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the saved workflow and model serve the validation rows again with the same AUC
    wf = gp.Workflow.load(tmp_path / "workflow")
    model = gp.load_checkpoint(tmp_path / "model")
    with gp.use_backend("pandas"):
        _, val, _ = flights_delay.load(rows=60_000, seed=0)
    loader = gp.Loader(wf.transform(val), schema=wf.output_schema, batch_size=65536, shuffle=False)
    assert gp.evaluate(model, loader)["auc"] == pytest.approx(res.metrics["auc"], abs=1e-5)


def test_target_statistics_ignore_validation_rows():
    """Flipping every validation label changes no fitted statistic: nothing leaks from validation rows."""
    with gp.use_backend("pandas"):
        train, val, ext = flights_delay.load(rows=30_000, seed=1)
        both = pd.concat([train, val], ignore_index=True)
        flipped = both.copy()
        is_val = ~split_flights(flipped, 1)
        flipped.loc[is_val, "delayed"] = 1.0 - flipped.loc[is_val, "delayed"]
        outs = []
        for frame in (both, flipped):
            wf = flights_delay.workflow(ext, seed=1)
            wf.fit(frame[split_flights(frame, 1)])
            outs.append(wf.transform(val.drop(columns=["delayed"])))
    pd.testing.assert_frame_equal(outs[0], outs[1])
    # and the check has teeth: fitting on all rows (validation included) does change them
    with gp.use_backend("pandas"):
        leaky = flights_delay.workflow(ext, seed=1).fit(flipped).transform(val.drop(columns=["delayed"]))
    assert not np.allclose(leaky["TE_dest_delayed"], outs[0]["TE_dest_delayed"])


def test_flights_split_matches_naive_reference_split():
    with gp.use_backend("pandas"):
        train, val, _ = flights_delay.load(seed=0)
    assert len(train) + len(val) == 327_346  # flights with an arrival delay
    val_days = set(zip(val["month"].astype(int), val["day"].astype(int), strict=True))
    train_days = set(zip(train["month"].astype(int), train["day"].astype(int), strict=True))
    assert not val_days & train_days and len(val_days) == 73


@pytest.mark.slow
def test_criteo_ctr_runs_and_learns():
    res = criteo_ctr.run(backend="pandas", rows=40_000, progress=False, baseline=None)
    assert res.metrics["auc"] > 0.55  # the synthetic label depends on the features
    assert res.rows["val"] == pytest.approx(4_000, rel=0.15)


def test_cli_run_prints_the_report(capsys):
    from gpupipe.cli import main

    assert main(["run", "criteo-ctr", "--rows", "5000", "--baseline", "none", "--no-progress",
                 "--backend", "pandas"]) == 0
    out = capsys.readouterr().out
    for word in ("backend pandas", "auc", "total", "host<->device traffic"):
        assert word in out


def test_cli_run_rejects_bad_arguments(capsys):
    from gpupipe.cli import main

    assert main(["run", "criteo-ctr", "--rows", "0"]) == 2
    assert "--rows must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "no-such-pipeline"])


@pytest.mark.gpu
def test_flights_delay_hybrid_uploads_once_and_never_reads_back():
    res = flights_delay.run(backend="hybrid", rows=50_000, progress=False, baseline=None)
    assert res.device.startswith("cuda")
    assert res.audit["train"]["d2h_bytes"] < 1024 and res.audit["loader_epoch"]["d2h_bytes"] == 0
    assert res.audit["to_tensors"]["h2d_bytes"] > 0


def test_background_job_runs_under_the_callers_backend_choice():
    # the baseline is fitted in a second thread; it must see the caller's gp.use_backend, not the default
    from gpupipe.backend import _scoped
    from pipelines._runner import _Background

    with gp.use_backend("pandas"):
        job = _Background(_scoped.get)
    assert job.result() == "pandas"
    assert _Background(_scoped.get).result() is None


@pytest.mark.parametrize("module", ["flights_delay", "criteo_ctr"])
def test_run_without_a_backend_takes_the_active_one(module, monkeypatch):
    """run() defaulted to "auto", which detects afresh and so ignored gp.set_backend/use_backend and
    GPUPIPE_BACKEND; by default it now takes the active backend, and an unusable one is named before any work."""
    import importlib

    from gpupipe.backend import _detect

    if _detect.probe("cudf").available:
        pytest.skip("cuDF can run here: GPUPIPE_BACKEND=cudf would be usable")
    run = importlib.import_module(f"pipelines.{module}").run
    monkeypatch.setenv("GPUPIPE_BACKEND", "cudf")
    with pytest.raises(gp.BackendUnavailableError, match="cudf"):
        run(rows=2000, epochs=1, baseline=None, progress=False)
    monkeypatch.delenv("GPUPIPE_BACKEND")
    with gp.use_backend("pandas"):
        from pipelines._runner import resolve

        assert resolve(None, None) == ("pandas", None)


# ------------------------------------------------------------------------------------ run(out=)
def _files(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_run_killed_while_saving_leaves_the_previous_runs_outputs_together(tmp_path):
    """result.json and workflow/ were written before model/ and training.png: a run killed while saving its model
    left its own result and workflow beside the previous run's model and chart, which gp.load_checkpoint and
    `gpupipe predict` took for the pair."""
    out = tmp_path / "out"
    with gp.use_backend("pandas"):
        criteo_ctr.run(backend="pandas", rows=3000, seed=0, progress=False, out=out, baseline=None)
    (out / "notes.txt").write_text("mine")
    before = _files(out)
    child = textwrap.dedent(f"""
        import os, gpupipe as gp
        from pipelines import criteo_ctr
        def die(*args, **kwargs):
            os.kill(os.getpid(), 9)
        gp.save_checkpoint = die
        criteo_ctr.run(backend="pandas", rows=3000, seed=1, progress=False, out={str(out)!r}, baseline=None)
    """)
    proc = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert {k: v for k, v in _files(out).items() if not k.startswith(".")} == before
    assert json.loads((out / "result.json").read_text())["extra"]["seed"] == 0


def test_a_run_refuses_an_out_it_could_not_write_before_any_work(tmp_path, monkeypatch):
    """out= a file: the run read, fitted and trained, then failed making the directory (its results lost)."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir" / "model").mkdir(parents=True)
    (tmp_path / "dir" / "model" / "mine.csv").write_text("x")

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(gp.datasets, "criteo", no_data)
    with pytest.raises(gp.ParameterError, match=r"criteo-ctr run: out .*is a file"):
        criteo_ctr.run(backend="pandas", rows=3000, progress=False, out=tmp_path / "file")
    with pytest.raises(gp.WorkflowFormatError, match=r"criteo-ctr run: .*mine\.csv"):
        criteo_ctr.run(backend="pandas", rows=3000, progress=False, out=tmp_path / "dir")
