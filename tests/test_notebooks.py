"""The notebooks run top to bottom on CPU (small sizes), as a user would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _execute(name: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name


@pytest.mark.slow
def test_quickstart_runs_and_trains(tmp_path, monkeypatch):
    nb = _execute("01_quickstart.ipynb", {"GPUPIPE_NB_ROWS": "60000"}, tmp_path, monkeypatch)
    texts = ["".join(o.get("text", "")) + json.dumps(o.get("data", {})) for c in nb.cells if c.cell_type == "code"
             for o in c.outputs]
    joined = "\n".join(texts)
    assert "auc" in joined  # the training cell displayed validation metrics
    assert "True" in texts[-1]  # saved → loaded workflow transforms identically


@pytest.mark.slow
def test_benchmark_notebook_reports_every_backend(tmp_path, monkeypatch):
    out = tmp_path / "bench"
    nb = _execute("02_gpu_vs_pandas.ipynb", {"GPUPIPE_NB_ROWS": "20000", "GPUPIPE_NB_REPEATS": "1",
                                             "GPUPIPE_NB_OUT": str(out)}, tmp_path, monkeypatch)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for backend in ("cudf", "hybrid", "pandas", "naive"):
        assert backend in printed
    assert (out / "results.json").exists()
    images = [o for c in nb.cells for o in getattr(c, "outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the notebook should show the charts"
