import json
import subprocess
import sys

from gpupipe.cli import main


def test_info_explains_each_backend(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "cudf" in out and "pandas" in out and "Selected" in out


def test_info_json_lists_reasons():
    out = subprocess.run([sys.executable, "-m", "gpupipe", "info", "--json"], capture_output=True, text=True,
                         check=True)
    info = json.loads(out.stdout)
    names = {b["name"]: b for b in info["backends"]}
    assert set(names) == {"cudf", "pandas"}
    assert names["pandas"]["available"] is True
    assert names["cudf"]["reason"]  # always says why
    assert info["cpu_threads"] >= 1
    assert info["versions"]["pyarrow"] != "not installed"


def test_garbage_collector_tuned_only_when_the_command_owns_the_process(capsys):
    import gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert main(["info"]) == 0  # called with argv, as from a user's program: their collector untouched
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
    probe = ("import gc, sys; sys.argv = ['gpupipe', 'info']; from gpupipe.cli import {fn}; code = {fn}(); "
             "print(gc.get_threshold(), gc.get_freeze_count() > 0, code)")
    lines = {}
    for fn in ("main", "console_main"):  # a program calling main() with no arguments; the command itself
        out = subprocess.run([sys.executable, "-c", probe.format(fn=fn)], capture_output=True, text=True, check=True)
        lines[fn] = out.stdout.strip().splitlines()[-1]
    assert lines == {"main": f"{gc.get_threshold()} False 0", "console_main": "(50000, 20, 10) True 0"}


def test_run_and_predict_follow_gpupipe_backend_when_no_backend_is_given(monkeypatch, capsys, tmp_path):
    # the GPU containers set GPUPIPE_BACKEND=cudf so that a container without the GPU fails loudly; `gpupipe run`
    # used to pass its default --backend auto on, which ignores the variable, and ran on pandas without a word
    import gpupipe as gp

    if "cudf" in gp.available_backends():
        import pytest

        pytest.skip("cuDF runs here: GPUPIPE_BACKEND=cudf would not fail")
    import gpupipe.backend

    monkeypatch.setattr(gpupipe.backend, "_selected", None)  # as in the command's own process (no set_backend yet)
    monkeypatch.setenv("GPUPIPE_BACKEND", "cudf")
    assert main(["run", "criteo-ctr", "--rows", "2000", "--baseline", "none", "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "'cudf' backend is not usable" in captured.err and "rows train" not in captured.out
    assert main(["predict", str(tmp_path / "x.parquet"), "--workflow", str(tmp_path), "--model", str(tmp_path),
                 "--out", str(tmp_path / "s.parquet")]) == 2
    assert "'cudf' backend is not usable" in capsys.readouterr().err
    monkeypatch.setenv("GPUPIPE_BACKEND", "bogus")
    assert main(["run", "criteo-ctr", "--rows", "2000", "--baseline", "none", "--no-progress"]) == 2
    assert "GPUPIPE_BACKEND" in capsys.readouterr().err
    # an explicit --backend still wins over the variable
    monkeypatch.setenv("GPUPIPE_BACKEND", "cudf")
    assert main(["run", "criteo-ctr", "--rows", "2000", "--baseline", "none", "--no-progress",
                 "--backend", "pandas"]) == 0
    assert "backend pandas" in capsys.readouterr().out


def test_run_prints_what_result_json_holds_and_the_baselines_own_time(capsys, tmp_path):
    # on the CPU the baseline fits beside training and the stage table's `baseline` is only the wait for it
    # (1.9e-05 s in docs/benchmarks.md): the printout now gives the baseline's own seconds too
    import re

    assert main(["run", "criteo-ctr", "--rows", "4000", "--no-progress", "--backend", "pandas",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "result.json").read_text())
    for stage, secs in saved["timings"].items():
        assert re.search(rf"^  {stage}\s+{secs:.3f}\b", out, re.M), stage
    assert "validation (1 epoch(s)): " + ", ".join(f"{k} {v:.4f}" for k, v in saved["metrics"].items()) in out
    extra = saved["extra"]
    took = f"fitted and scored in {extra['baseline_fit_seconds']:.2f} s"
    if extra["baseline_overlapped"]:
        took += ", beside training (stage 'baseline' is the wait for it)"
    assert f"baseline (logistic; {took}): " + ", ".join(f"{k} {v:.4f}" for k, v in saved["baseline"].items()) in out
    # the data it ran on is recorded: the rows asked for and the seed (result.json said only the split's sizes)
    assert extra["data"] == "synthetic Criteo-shaped click log, 4,000 rows (gp.datasets.criteo, seed 0)"
