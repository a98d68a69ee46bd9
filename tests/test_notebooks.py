"""The notebooks are committed executed (outputs and charts, small files), say where their outputs come
from, are what make_notebooks.py writes, and run top to bottom on CPU (small sizes) as a user would run them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_gpu_vs_pandas.ipynb"]


def _load(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _maker():
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _images(cells) -> list:
    return [o for c in cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_executed_with_their_outputs_and_stay_small(name):
    nb = _load(name)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "executed top to bottom, once"
    assert all(c["outputs"] for c in code[1:]), "every cell after the imports shows something"
    errors = [o for c in code for o in c["outputs"] if o.get("output_type") == "error"]
    assert not errors
    assert _images(code), "charts are stored as PNG outputs"
    assert (NOTEBOOKS / name).stat().st_size < 400_000, "keep charts at a modest dpi"
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "produced on" in "".join(first["source"])


def test_the_stored_notebooks_have_the_cells_make_notebooks_writes():
    maker = _maker()
    for name, cells in maker.NOTEBOOKS.items():
        stored = [("".join(c["source"]), c["cell_type"]) for c in _load(name)["cells"]]
        assert stored == [(c.source, c.cell_type) for c in cells], f"{name}: run make_notebooks.py --execute"


def test_the_benchmark_notebook_shows_both_charts_from_a_real_run():
    nb = _load("02_gpu_vs_pandas.ipynb")
    text = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/markdown", ""))
                   for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])
    for ran in ("pandas", "polars", "naive"):  # the CPU entries ran and are named
        assert f"{ran:<10} ok" in text, ran
    assert f"{'cudf':<10} unavailable" in text  # the absent ones say why
    assert len(_images(nb["cells"])) == 2  # the stage chart and the speedup chart


def _execute(name: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb


@pytest.mark.slow
def test_quickstart_runs_trains_reads_ids_back_and_scores(tmp_path, monkeypatch):
    nb = _execute("01_quickstart.ipynb", {"GPUPIPE_NB_ROWS": "60000"}, tmp_path, monkeypatch)
    texts = ["".join(o.get("text", "")) + json.dumps(o.get("data", {})) for c in nb.cells if c.cell_type == "code"
             for o in c.outputs]
    joined = "\n".join(texts)
    assert "auc" in joined  # the training cell displayed validation metrics
    assert "transforms identically: True" in joined  # saved → loaded workflow transforms identically
    assert "padding" in joined and "<OOV>" in joined  # the vocabulary with its special ids
    assert "rows scored" in joined and "prediction" in texts[-1]
    assert _images(nb.cells)


@pytest.mark.slow
def test_benchmark_notebook_reports_every_backend(tmp_path, monkeypatch):
    out = tmp_path / "bench"
    nb = _execute("02_gpu_vs_pandas.ipynb", {"GPUPIPE_NB_ROWS": "20000", "GPUPIPE_NB_REPEATS": "1",
                                             "GPUPIPE_NB_OUT": str(out)}, tmp_path, monkeypatch)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for backend in ("cudf", "hybrid", "polars-gpu", "pandas", "polars", "naive"):
        assert backend in printed
    assert (out / "results.json").exists()
    assert len(_images(nb.cells)) == 2, "the notebook should show the stage and speedup charts"
