"""Benchmark: the synthetic Criteo workflow, read + fit + transform, on the pandas backend.

Workflow (ENVIRONMENT.md's reference): ``FillMissing(0) >> Clip(lower=0) >> LogOp() >> Normalize()``
on the counts I1..I13 and ``Categorify()`` on the ids C1..C26, label kept.

The data is generated with ``gpupipe.datasets.synthetic.criteo_arrow`` and written to parquet first (untimed).
Each repeat then runs in a fresh subprocess, which times the read, the fit and the transform and
reports its peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The median over the
repeats is printed as a table and written as JSON with ``--out``.

Measured (5M rows, 5 repeats, 2-core build machine without GPU, Python 3.11, 1-min load average
0.5-1.0; ``docs/bench/criteo_workflow_5m.json``): median total 4.36 s (read 1.38 s, fit 1.67 s,
transform 1.36 s), repeats 4.19-4.67 s, 7.4 s CPU, peak RSS 2.58 GB. Targets: <= 12 s and <= 3 GB.
Whole processes against Polars: ``scripts/bench_criteo_vs_polars.py``.

Usage::

    .venv/bin/python scripts/bench_criteo_workflow.py --rows 5000000 --repeats 3 --out bench-results/criteo.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COUNTS = [f"I{i}" for i in range(1, 14)]
IDS = [f"C{j}" for j in range(1, 27)]


def _ops():
    from gpupipe import ops

    def get(name: str, module: str):
        # the ops package exports each op once it is registered; fall back to its module
        if hasattr(ops, name):
            return getattr(ops, name)
        import importlib

        return getattr(importlib.import_module(f"gpupipe.ops.{module}"), name)

    return (get("FillMissing", "fill_missing"), get("Clip", "clip"), get("LogOp", "log_op"),
            get("Normalize", "normalize"), get("Categorify", "categorify"))


def _run_workflow(frame):
    """Fit then transform with gp.Workflow; returns (fit_s, transform_s, output)."""
    import gpupipe as gp

    FillMissing, Clip, LogOp, Normalize, Categorify = _ops()
    wf = gp.Workflow(
        COUNTS >> FillMissing(fill_value=0) >> Clip(lower=0) >> LogOp() >> Normalize(),
        IDS >> Categorify(),
        label="label",
    )
    t0 = time.perf_counter()
    wf.fit(frame)
    t1 = time.perf_counter()
    out = wf.transform(frame)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, out


def _run_chain(frame):
    """The same workflow with the ops chained by hand (what Workflow.fit/transform do)."""
    FillMissing, Clip, LogOp, Normalize, Categorify = _ops()
    cont_chain = [FillMissing(fill_value=0), Clip(lower=0), LogOp()]
    norm, cat = Normalize(), Categorify()
    t0 = time.perf_counter()
    x = frame[COUNTS]
    for op in cont_chain:
        x = op.transform(x, COUNTS)
    norm.fit(x, COUNTS)
    del x
    cat.fit(frame[IDS], IDS)
    t1 = time.perf_counter()
    x = frame[COUNTS]
    for op in [*cont_chain, norm]:
        x = op.transform(x, COUNTS)
    cats = cat.transform(frame[IDS], IDS)
    import pandas as pd

    out = pd.concat([x, cats, frame[["label"]]], axis=1)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, out


def child(path: str, mode: str, dump: str | None = None) -> None:
    import resource

    import gpupipe as gp

    def peak() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    gp.set_backend("pandas")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    frame = gp.read_parquet(path)
    read_s = time.perf_counter() - t0
    peak_read = peak()
    use_wf = mode == "workflow" or (mode == "auto" and "Workflow" in getattr(gp, "_LAZY", {}))
    fit_s, transform_s, out = (_run_workflow if use_wf else _run_chain)(frame)
    # CPU seconds too: on a shared machine they show the work done when wall time is inflated by others
    cpu_s = time.process_time() - cpu0
    print(json.dumps({
        "read_s": read_s, "fit_s": fit_s, "transform_s": transform_s,
        "total_s": read_s + fit_s + transform_s, "cpu_s": cpu_s, "peak_rss_bytes": peak(),
        "peak_rss_after_read_bytes": peak_read,
        "rows": len(out), "columns": len(out.columns), "engine": "gp.Workflow" if use_wf else "ops chained",
    }))
    if dump:  # each output column as DIR/<name>.npy (scripts/bench_criteo_vs_polars.py compares them)
        import numpy as np

        os.makedirs(dump, exist_ok=True)
        for c in out.columns:
            np.save(os.path.join(dump, f"{c}.npy"), out[c].to_numpy())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--data-dir", type=Path, default=None, help="where to write the parquet file (default: a temp dir)")
    ap.add_argument("--mode", choices=["auto", "workflow", "chain"], default="auto",
                    help="gp.Workflow (auto: when it exists) or the ops chained by hand")
    ap.add_argument("--child", default=None, metavar="PATH",
                    help="run once on this parquet file in this process and print one JSON line")
    ap.add_argument("--dump", default=None, metavar="DIR", help="with --child: write each output column as DIR/<name>.npy")
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.mode, args.dump)
        return 0

    import pyarrow.parquet as pq

    from gpupipe.datasets.synthetic import criteo_arrow

    load_before = os.getloadavg()[0]  # others' jobs inflate wall time: say how busy the machine was
    with tempfile.TemporaryDirectory(dir=args.data_dir) as tmp:
        path = os.path.join(tmp, f"criteo_{args.rows}.parquet")
        t0 = time.perf_counter()
        pq.write_table(criteo_arrow(args.rows, seed=args.seed), path)
        print(f"wrote {args.rows:,} rows to {path} in {time.perf_counter() - t0:.1f} s (untimed)", flush=True)
        runs = []
        for i in range(args.repeats):
            proc = subprocess.run([sys.executable, __file__, "--child", path, "--mode", args.mode],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                return proc.returncode
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(run)
            print(f"repeat {i + 1}: read {run['read_s']:.2f} s  fit {run['fit_s']:.2f} s  "
                  f"transform {run['transform_s']:.2f} s  total {run['total_s']:.2f} s  (CPU {run['cpu_s']:.2f} s)  "
                  f"peak RSS {run['peak_rss_bytes'] / 1e9:.2f} GB", flush=True)

    med = {k: statistics.median(r[k] for r in runs) for k in ("read_s", "fit_s", "transform_s", "total_s",
                                                               "cpu_s", "peak_rss_bytes")}
    print()
    print(f"{'phase':<12}{'median':>10}")
    for k in ("read_s", "fit_s", "transform_s", "total_s", "cpu_s"):
        print(f"{k[:-2]:<12}{med[k]:>9.2f}s")
    print(f"{'peak RSS':<12}{med['peak_rss_bytes'] / 1e9:>9.2f}GB")
    print(f"engine: {runs[0]['engine']}; targets: total <= 12 s, peak RSS <= 3 GB")
    result = {
        "benchmark": "criteo_workflow", "rows": args.rows, "repeats": args.repeats, "seed": args.seed,
        "engine": runs[0]["engine"], "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                 "python": platform.python_version()},
        "load_average_1min_before": load_before, "load_average_1min_after": os.getloadavg()[0],
        "median": med, "runs": runs, "targets": {"total_s": 12.0, "peak_rss_bytes": 3e9},
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
