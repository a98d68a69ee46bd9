#!/usr/bin/env python
"""gpupipe against Polars on the Criteo workflow, whole processes side by side, outputs checked equal first.

1. Writes ``--rows`` synthetic Criteo rows (``gpupipe.datasets.synthetic.criteo_arrow(rows, seed)``, ``pq.write_table``)
   to ``--data`` unless that file exists.
2. Runs each engine once with ``--dump`` and compares the 40 output columns (ids exactly, floats to
   ``--atol``); stops if any differs.
3. Runs ``--runs`` rounds of the engines in alternation as whole processes under ``/usr/bin/time -v``
   (``scripts/bench_alternate.py``): gpupipe (``scripts/bench_criteo_workflow.py --child``), Polars with
   eager fit calls and Polars with one lazy ``collect_all`` fit (``scripts/bench_criteo_polars.py``).
4. Prints medians and ranges of wall, user, system seconds and peak RSS, and writes them with every
   run, the machine and the load averages to ``--json``.

    python scripts/bench_criteo_vs_polars.py --rows 5000000 --runs 5 --data /tmp/criteo_5m.parquet \\
        --json docs/bench/criteo_vs_polars_5m.json [--also main=/path/to/a/worktree/of/main]

``--also NAME=DIR`` adds gpupipe run from another source tree (``PYTHONPATH=DIR``, same interpreter), e.g.
the commit before a change, to the same alternation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_alternate  # noqa: E402


def compare(a: str, b: str, atol: float) -> tuple[int, float, list[str]]:
    """(columns that differ, worst float difference, messages) between two dump directories."""
    import numpy as np

    names_a = sorted(f[:-4] for f in os.listdir(a) if f.endswith(".npy"))
    names_b = sorted(f[:-4] for f in os.listdir(b) if f.endswith(".npy"))
    if names_a != names_b:
        return 1, float("nan"), [f"column sets differ: {sorted(set(names_a) ^ set(names_b))}"]
    bad, worst, msgs = 0, 0.0, []
    for n in names_a:
        x, y = np.load(os.path.join(a, f"{n}.npy")), np.load(os.path.join(b, f"{n}.npy"))
        if x.shape != y.shape or x.dtype != y.dtype:
            msgs.append(f"{n}: {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
            bad += 1
        elif x.dtype.kind in "iu":
            diff = int((x != y).sum())
            if diff:
                msgs.append(f"{n}: {diff} ids differ")
                bad += 1
        else:
            d = float(np.nanmax(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
            nan_diff = int((np.isnan(x) != np.isnan(y)).sum())
            worst = max(worst, d)
            if d > atol or nan_diff:
                msgs.append(f"{n}: max abs diff {d:.3g}, NaN positions differing {nan_diff}")
                bad += 1
    msgs.append(f"{len(names_a)} columns compared, {bad} differ; worst float abs diff {worst:.3g}")
    return bad, worst, msgs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data", type=Path, default=None, help="parquet file (written if missing; default: a temp file)")
    ap.add_argument("--atol", type=float, default=1e-6)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--engines", default="gpupipe,polars,polars-lazy", help="comma-separated subset")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                    help="also run gpupipe from the source tree DIR (e.g. a worktree of another commit) as NAME")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    data = args.data or Path(tmp.name) / f"criteo_{args.rows}.parquet"
    if not data.exists():
        import pyarrow.parquet as pq

        from gpupipe.datasets.synthetic import criteo_arrow

        t0 = time.perf_counter()
        pq.write_table(criteo_arrow(args.rows, seed=args.seed), data)
        print(f"wrote {args.rows:,} rows to {data} in {time.perf_counter() - t0:.1f} s", flush=True)
    py = sys.executable
    engines = {
        "gpupipe": [py, str(HERE / "bench_criteo_workflow.py"), "--child", str(data), "--mode", "workflow"],
        "polars": [py, str(HERE / "bench_criteo_polars.py"), str(data)],
        "polars-lazy": [py, str(HERE / "bench_criteo_polars.py"), str(data), "--lazy"],
    }
    for spec in args.also:
        name, src = spec.split("=", 1)
        engines[name] = [f"PYTHONPATH={os.path.abspath(src)}", *engines["gpupipe"]]
    chosen = [e.strip() for e in args.engines.split(",") if e.strip()] + [a.split("=", 1)[0] for a in args.also]
    cmds = [(e, engines[e]) for e in chosen]

    # outputs first: nothing is timed until every engine gives gpupipe's columns
    dumps = {e: os.path.join(tmp.name, f"out-{e}") for e in chosen}
    for e, cmd in cmds:
        env = dict(os.environ)
        while cmd and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", cmd[0]):  # VAR=VALUE words (bench_alternate's form)
            k, v = cmd[0].split("=", 1)
            env[k] = v
            cmd = cmd[1:]
        subprocess.run([*cmd, "--dump", dumps[e]], check=True, capture_output=True, text=True, env=env)
    checks = {}
    for e in chosen[1:]:
        bad, worst, msgs = compare(dumps[chosen[0]], dumps[e], args.atol)
        print(f"outputs {chosen[0]} vs {e}: " + "; ".join(msgs))
        checks[f"{chosen[0]} vs {e}"] = {"columns_differing": bad, "worst_float_abs_diff": worst}
        if bad:
            return 1
    for d in dumps.values():
        subprocess.run(["rm", "-rf", d], check=False)

    load_start = os.getloadavg()[0]
    runs = bench_alternate.alternate(cmds, args.runs)
    result = bench_alternate.report(cmds, runs, load_start, extra={
        "benchmark": "criteo workflow, read + fit + transform", "rows": args.rows, "seed": args.seed,
        "outputs_equal": checks})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
