"""The benchmark scripts whose figures docs/benchmarks.md quotes still run, on a few thousand rows:
gpupipe's and the Polars script's Criteo outputs are equal, and the memory breakdown adds up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def criteo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow.parquet as pq

    from gpupipe.datasets.synthetic import criteo_arrow

    path = tmp_path_factory.mktemp("criteo") / "criteo.parquet"
    pq.write_table(criteo_arrow(3000, seed=1), path, row_group_size=1000)
    return path


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_criteo_outputs_equal_polars(criteo_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("polars")
    sys.path.insert(0, str(SCRIPTS))
    try:
        from bench_criteo_vs_polars import compare
    finally:
        sys.path.remove(str(SCRIPTS))
    ours, theirs = tmp_path / "gp", tmp_path / "pl"
    line = _run(str(SCRIPTS / "bench_criteo_workflow.py"), "--child", str(criteo_file), "--mode", "workflow",
                "--dump", str(ours))
    assert json.loads(line.strip().splitlines()[-1])["rows"] == 3000
    _run(str(SCRIPTS / "bench_criteo_polars.py"), str(criteo_file), "--lazy", "--dump", str(theirs))
    bad, _, msgs = compare(str(ours), str(theirs), 1e-6)
    assert bad == 0, msgs
    assert len(list(ours.glob("*.npy"))) == 40
    # and the comparison does see a difference
    import numpy as np

    ids = np.load(theirs / "C3.npy")
    np.save(theirs / "C3.npy", np.where(ids == 3, 4, ids))
    assert compare(str(ours), str(theirs), 1e-6)[0] == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's mallinfo2")
def test_criteo_memory_breakdown(criteo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "mem.json"
    _run(str(SCRIPTS / "criteo_memory.py"), str(criteo_file), "--json", str(out))
    rec = json.loads(out.read_text())
    assert list(rec["stages"]) == ["import", "read", "fit", "transform"]
    data = rec["data_bytes"]
    # 39 int32 columns with a byte mask each, and the label (int8, no nulls, still masked: a nullable column)
    assert data["input"]["values"] == 3000 * (39 * 4 + 1)
    assert data["input"]["masks"] == 3000 * 40
    # 13 float32 counts, the float32 label and 26 int64 ids
    assert data["output"]["values"] == 3000 * (14 * 4 + 26 * 8)
    assert rec["peak_rss_bytes"] >= rec["stages"]["transform"]["rss_gb"] * 1e9 * 0.99
