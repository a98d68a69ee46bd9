"""The ``gpupipe`` command: ``info``, ``run``, ``bench`` and ``predict``. Heavy imports happen inside subcommands.

This is the top of gpupipe's dependency order and the only module of the package that imports the
ready pipelines (``pipelines``), inside the ``run`` and ``bench`` subcommands.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._info import format_bytes

__all__ = ["main"]

def _cmd_info(args: argparse.Namespace) -> int:
    from ._info import collect_info

    info = collect_info()
    if args.json:
        import json

        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"gpupipe {info['versions']['gpupipe']}  python {info['python']}  {info['platform']}")
    print(f"CPU: {info['cpu']}, {info['cpu_threads']} threads")
    print("\nBackends:")
    for b in info["backends"]:
        mark = "yes" if b["available"] else "no "
        print(f"  {b['name']:<7} {mark}  {b['reason']}")
    sel = info["selected"]
    print(f"\nSelected (GPUPIPE_BACKEND={os.environ.get('GPUPIPE_BACKEND', 'auto')}): "
          + (f"{sel['name']} on {sel['device']}" if "name" in sel else sel["error"]))
    print("\nDevices:")
    for k, v in info["devices"].items():
        print(f"  {k}: {v}")
    print("\nVersions:")
    for k, v in info["versions"].items():
        print(f"  {k:<16} {v}")
    return 0


def _arg_error(option: str, value: object, accepted: str, hint: str = "") -> int:
    """Print the CLI's one error line naming the option, and return exit status 2."""
    print(f"gpupipe: error: {option} {accepted}, got {value!r}" + (f" ({hint})" if hint else ""), file=sys.stderr)
    return 2


def _check_common_args(args: argparse.Namespace) -> int:
    """0 when --epochs, --seed and --out are usable, else 2 after one error line (checked before any work)."""
    from . import _validate as V
    from .errors import ParameterError

    if args.epochs < 1:
        return _arg_error("--epochs", args.epochs, "must be at least 1")
    if not 0 <= args.seed <= V.MAX_SEED:
        return _arg_error("--seed", args.seed, "must be an integer in [0, 2**63)")
    if args.out is not None:
        try:
            V.output_dir(args.out, "--out", "gpupipe")
        except ParameterError as exc:
            return _arg_error("--out", args.out, "must be a directory this process can create or write into",
                              str(exc).split("; ", 1)[-1])
        if getattr(args, "command", None) == "run":
            # the run saves its workflow and model there at the end: a folder that holds something else is
            # refused now, not after the whole job
            from .bench import check_out_dir
            from .errors import WorkflowFormatError

            try:
                check_out_dir(args.out, "gpupipe run", "--out")
            except (WorkflowFormatError, ParameterError) as exc:
                return _arg_error("--out", args.out, "must hold nothing but a previous run's workflow/ and model/",
                                  str(exc).split(": ", 1)[-1])
    return 0


#: baselines the ready pipelines (binary tasks) can fit, and the word that skips it
_RUN_BASELINES = ("logistic", "random_forest", "none")


def _backend_choice(given: str | None) -> str:
    """``--backend`` when given, else the ``GPUPIPE_BACKEND`` environment variable (checked as the library checks
    it: a name that is not a backend, or a backend this machine cannot run, raises its GpupipeError here, before
    any work), else ``auto``. ``auto`` passed on would ignore the variable, and a container told
    ``GPUPIPE_BACKEND=cudf`` would run on pandas without a word."""
    if given is not None:
        return given
    if not os.environ.get("GPUPIPE_BACKEND", "").strip():
        return "auto"
    from .backend import get_backend

    return get_backend().name


def _check_run_args(args: argparse.Namespace) -> int:
    """0 when every `gpupipe run` option is usable here, else 2 after one error line; nothing is read first."""
    code = _check_common_args(args)
    if code:
        return code
    args.backend = _backend_choice(args.backend)
    if args.rows is not None and args.rows <= 0:
        return _arg_error("--rows", args.rows, "must be positive")
    if args.baseline.lower() not in _RUN_BASELINES:
        return _arg_error("--baseline", args.baseline, f"must be one of {', '.join(_RUN_BASELINES)}",
                          "'none' skips the baseline" if not args.baseline.strip() else "")
    if args.backend == "hybrid":
        import torch

        if not torch.cuda.is_available():
            return _arg_error("--backend", "hybrid", "must be a backend this machine can run: hybrid (pandas prep, CUDA "
                              "training) needs a CUDA device and none is usable here", "use --backend pandas or auto")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from pipelines import bench_runners

    from .bench import run_bench, to_markdown

    code = _check_common_args(args)
    if code:
        return code
    bad_rows = [r for r in args.rows or () if r <= 0]
    if bad_rows:
        return _arg_error("--rows", bad_rows[0], "must be positive")
    if args.repeats < 1:
        return _arg_error("--repeats", args.repeats, "must be at least 1")
    if args.warmup < 0:
        return _arg_error("--warmup", args.warmup, "must be 0 or more")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    try:
        res = run_bench(args.pipeline, rows=args.rows or [None], backends=backends, repeats=args.repeats,
                        warmup=args.warmup, out=args.out, progress=not args.no_progress, epochs=args.epochs,
                        seed=args.seed, runners=bench_runners(args.pipeline))
    except ValueError as exc:  # bad --backends/--rows/--repeats: say what was wrong, no traceback
        print(f"gpupipe: error: {exc}", file=sys.stderr)
        return 2
    print(to_markdown(res))
    print("Files:")
    for kind, path in res["files"].items():
        print(f"  {kind:<14} {path}")
    return 1 if any(r["status"] == "error" for r in res["runs"]) else 0


def _cmd_run(args: argparse.Namespace) -> int:
    import importlib

    from pipelines import PIPELINES

    code = _check_run_args(args)
    if code:
        return code
    module = importlib.import_module(PIPELINES[args.pipeline])
    baseline = None if args.baseline.lower() == "none" else args.baseline
    res = module.run(backend=args.backend, epochs=args.epochs, rows=args.rows, seed=args.seed,
                     progress=not args.no_progress, out=args.out, baseline=baseline)
    print(f"\n{res.pipeline}: backend {res.backend}, device {res.device}, "
          f"rows train {res.rows.get('train', 0):,} / val {res.rows.get('val', 0):,}")
    print("\nstage          seconds   host->device   device->host")
    for stage, secs in res.timings.items():
        if stage == "total":
            continue
        a = res.audit.get(stage, {})
        print(f"  {stage:<12} {secs:8.3f}   {format_bytes(a.get('h2d_bytes', 0)):>12}   "
              f"{format_bytes(a.get('d2h_bytes', 0)):>12}")
    print(f"  {'total':<12} {res.timings['total']:8.3f}")
    fmt = ", ".join(f"{k} {v:.4f}" for k, v in res.metrics.items())
    print(f"\nvalidation ({res.extra.get('epochs')} epoch(s)): {fmt}")
    if res.baseline:
        fit_s = res.extra.get("baseline_fit_seconds")
        # fitted beside training on the CPU: the stage table's `baseline` is then only the wait after evaluation
        took = "" if fit_s is None else f"; fitted and scored in {fit_s:.2f} s" + (
            ", beside training (stage 'baseline' is the wait for it)" if res.extra.get("baseline_overlapped") else "")
        print(f"baseline ({res.extra.get('baseline_kind')}{took}): "
              + ", ".join(f"{k} {v:.4f}" for k, v in res.baseline.items()))
    h2d = sum(a.get("h2d_bytes", 0) for a in res.audit.values())
    d2h = sum(a.get("d2h_bytes", 0) for a in res.audit.values())
    if res.device.startswith("cuda"):
        print(f"host<->device traffic: {format_bytes(h2d)} to the device, {format_bytes(d2h)} back")
    else:
        copied = sorted({c for a in res.audit.values() for c in a.get("copied", {})})
        print("host<->device traffic: none (CPU run); columns converted on the way to tensors: "
              + (", ".join(copied) if copied else "none"))
    if args.out:
        print(f"wrote {args.out}/result.json, workflow/, model/ and training.png")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .backend import set_backend
    from .serving import _batch_predict

    keys = [k.strip() for k in (args.keys or "").split(",") if k.strip()]
    try:
        set_backend(_backend_choice(args.backend))
        path, stats = _batch_predict(args.workflow, args.model, args.data if len(args.data) > 1 else args.data[0],
                                     keys=keys, out=args.out, batch_size=args.batch_size,
                                     partition_rows=args.partition_rows, device=args.device,
                                     progress=not args.no_progress)
    except (FileNotFoundError, ValueError, TypeError) as exc:  # GpupipeErrors are reported by main
        from .errors import GpupipeError

        if isinstance(exc, GpupipeError):
            raise
        print(f"gpupipe predict: error: {exc}", file=sys.stderr)
        return 2
    from .backend import get_backend

    print(f"scored {stats['rows']:,} rows in {stats['partitions']} partition(s) in {stats['seconds']:.2f} s "
          f"on {get_backend().name}; wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="gpupipe", description="GPU end-to-end tabular pipelines.")
    parser.add_argument("--version", action="version", version=f"gpupipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="backends, devices and versions on this machine")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("run", help="run a ready pipeline end to end and report times, metrics and transfers",
                       description="Runs a pipeline from pipelines/ on the best backend present (or --backend) and "
                                   "prints stage times, validation metrics, the baseline's and host<->device traffic.")
    p.add_argument("pipeline", choices=["flights-delay", "criteo-ctr"], help="which pipeline")
    p.add_argument("--backend", default=None, choices=["auto", "cudf", "pandas", "hybrid"],
                   help="where frames live (hybrid: pandas prep, CUDA training); default: $GPUPIPE_BACKEND if set, "
                        "else auto")
    p.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    p.add_argument("--rows", type=int, default=None, help="resample the data to this many rows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline", default="logistic",
                   help="classic-ML baseline kind (logistic, random_forest) or 'none' (default logistic)")
    p.add_argument("--out", default=None, help="write result.json, workflow, model and training.png here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("bench", help="time a pipeline stage by stage on cudf, hybrid, polars-gpu, pandas, polars and naive",
                       description="Warm-up, then repeated runs per backend and size; writes results.json, "
                                   "results.md and PNG charts. Backends that cannot run here are reported with the reason. "
                                   "polars and polars-gpu prepare the data with Polars (CPU engine; cudf-polars' GPU "
                                   "engine) and are checked equal to gpupipe's output before they are timed.")
    p.add_argument("--pipeline", default="flights-delay", choices=["flights-delay", "criteo-ctr"])
    p.add_argument("--rows", type=int, nargs="+", default=None, metavar="N",
                   help="dataset sizes (several draw a scaling curve); default: the pipeline's full data")
    p.add_argument("--backends", default="cudf,hybrid,polars-gpu,pandas,polars,naive",
                   help="comma-separated subset of cudf,hybrid,polars-gpu,pandas,polars,naive (default: all)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per case (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before them (default 1)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench-results", help="output directory (default bench-results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser("predict", help="score data with a saved workflow and model checkpoint",
                       description="Reads DATA (parquet or CSV files, a glob or a directory) partition by partition, "
                                   "applies the saved workflow and model and writes the key columns and a "
                                   "'prediction' column to --out (parquet or CSV by its extension, atomically).")
    p.add_argument("data", nargs="+", metavar="DATA", help="file(s), glob or directory to score")
    p.add_argument("--workflow", required=True, metavar="DIR", help="directory of a saved workflow (wf.save)")
    p.add_argument("--model", required=True, metavar="DIR", help="directory of a model checkpoint (gp.save_checkpoint)")
    p.add_argument("--out", required=True, metavar="FILE", help="output file: *.parquet, *.csv or *.csv.gz")
    p.add_argument("--keys", default=None, metavar="COL[,COL...]",
                   help="input columns copied beside each prediction (default: none; rows keep the input order)")
    p.add_argument("--batch-size", type=int, default=65536, help="rows per model call (default 65536)")
    p.add_argument("--partition-rows", type=int, default=None, metavar="N",
                   help="rows per partition read at a time (default: one partition per file)")
    p.add_argument("--backend", default=None, choices=["auto", "cudf", "pandas"],
                   help="default: $GPUPIPE_BACKEND if set, else auto")
    p.add_argument("--device", default=None, help="torch device of the model (default: the data's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import GpupipeError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GpupipeError as exc:
        print(f"gpupipe: error: {exc}", file=sys.stderr)
        return 2


def console_main() -> int:
    """The `gpupipe` command (its console script and `python -m gpupipe`): :func:`main` in a process of
    its own, whose garbage collector it may tune (a program calling :func:`main` keeps its own)."""
    _process_gc()
    try:
        return main()
    finally:
        _before_exit()


# The two functions below run only in the `gpupipe` command's own process (console_main).


def _process_gc() -> None:
    """Collect cyclic garbage less often in the `gpupipe` command's own short-lived process: importing
    torch, pandas and scikit-learn creates enough objects to trigger many full collections, each over
    every object imported so far (0.3-0.4 s of CPU in a 6 s `gpupipe run flights-delay`). Garbage is
    still collected, after every 50,000 new container objects instead of 700."""
    import gc

    gc.set_threshold(50_000, 20, 10)


def _before_exit() -> None:
    """The command's process ends next: exempt what is alive now from the cyclic garbage collector, whose
    passes over every object during interpreter shutdown took 0.6-0.8 s of that same 6 s run."""
    import gc

    gc.freeze()


if __name__ == "__main__":
    raise SystemExit(console_main())
