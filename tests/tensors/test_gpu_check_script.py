"""The GPU check script's CPU-safe parts: it runs without a GPU or Dask and always writes its results."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_runs_from_a_plain_checkout_without_dask_and_writes_results(tmp_path):
    # Dask and cuDF are absent on the GPU machine: block them, run as `PYTHONPATH=. python3 scripts/gpu_check.py`.
    code = (
        "import sys, runpy\n"
        "for m in ('dask', 'distributed', 'cudf'): sys.modules[m] = None\n"
        "import gpupipe as gp\n"
        "gp.to_tensors, gp.Loader, gp.TensorTable, gp.Batch, gp.audit.transfers\n"
        f"sys.argv = ['gpu_check.py', {str(tmp_path)!r}, '--no-tests']\n"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "gpu_results.json").read_text())
    assert set(results["stages"]) <= set(results)
    assert results["environment"]["dask"].startswith("absent")
    assert "error" not in results["environment"]
    md = (tmp_path / "gpu_results.md").read_text()
    assert md.startswith("# gpupipe GPU check")
    import torch

    if not torch.cuda.is_available():
        assert results["loader_bench"]["skipped"] == "no CUDA device"
        assert "no CUDA device" in md


def test_a_failing_stage_is_recorded_and_later_stages_still_run(tmp_path, monkeypatch):
    mod = _module()

    def broken(out, args):
        raise RuntimeError("driver went away")

    stages = dict(mod.STAGES)
    stages["zero_copy"] = broken
    monkeypatch.setattr(mod, "STAGES", stages)
    assert mod.main([str(tmp_path), "--no-tests"]) == 0
    results = json.loads((tmp_path / "gpu_results.json").read_text())
    assert "driver went away" in results["zero_copy"]["error"]
    assert "hybrid_audit" in results and "loader_bench" in results
    assert "driver went away" in (tmp_path / "gpu_results.md").read_text()


def test_junit_summary_counts_outcomes(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<testsuites><testsuite tests="4" failures="1" errors="0" skipped="2">'
        '<testcase classname="t" name="ok"/><testcase classname="t" name="bad"><failure/></testcase>'
        '<testcase classname="t" name="s1"><skipped/></testcase><testcase classname="t" name="s2"><skipped/></testcase>'
        "</testsuite></testsuites>")
    summary = _module()._junit_summary(xml)
    assert (summary["passed"], summary["failures"], summary["skipped"]) == (1, 1, 2)
    assert summary["failed"] == ["t::bad"]
