"""The benchmark harness behind ``gpupipe bench``: warm-up, repeats, medians, speedups, machine record.

Method (the fairness rules are spelled out in ``docs/benchmarks.md``):

* Every (backend, rows) case runs in this one Python process: ``warmup`` untimed runs first (they
  pay imports, CUDA context creation, kernel compilation and allocator growth), then ``repeats``
  timed runs. Before each run the dataset loaders' in-memory caches are cleared, so each run reads
  and parses its files again (the operating system's page cache stays warm for every backend alike).
* Stage times come from the pipelines themselves (:class:`~gpupipe.bench.timing.StageTimer`,
  device synchronised at each clock read). The harness reports, per stage and end to end, the
  median and the spread (min, max, quartiles) over the repeats.
* Speedups divide medians measured in the same invocation: ``pandas_total / backend_total`` and
  ``naive_total / backend_total``, per rows value.
* A backend that cannot run here is never silently skipped: its entry says ``unavailable`` and why.

The harness knows machines, not pipelines: the caller hands it one runner per backend
(``gpupipe bench`` takes them from ``pipelines.bench_runners``). It checks the machine side of each
backend itself (cuDF usable, a CUDA device for ``hybrid``, Polars for ``polars``, cudf-polars and a
CUDA device for ``polars-gpu``); a runner given as :class:`Unavailable` says why the pipeline side
cannot run. A runner with a ``verify(rows, seed)`` method has it called once per rows value before
its warm-up, untimed (the ``polars`` entries check their output against gpupipe's there): an
exception makes the entry an ``error`` with nothing timed, and what it returns is recorded under
``verified``.

Examples
--------
>>> from gpupipe.bench import PipelineResult
>>> def fake(rows, seed, epochs):
...     return PipelineResult("toy", "pandas", "cpu", timings={"read": 0.1, "total": 0.1})
>>> res = run_bench("toy", rows=[10], backends=["pandas"], repeats=2, warmup=0,
...                 runners={"pandas": fake}, progress=False)
>>> res["runs"][0]["stats"]["total"]["median"]
0.1
"""

from __future__ import annotations

import datetime as _dt
import gc
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BACKENDS", "Runner", "Unavailable", "backend_availability", "load_results", "run_bench", "summarize"]

#: Backends ``gpupipe bench`` knows, in report order.
BACKENDS = ("cudf", "hybrid", "polars-gpu", "pandas", "polars", "naive")

#: A runner runs one pipeline once: ``runner(rows, seed, epochs) -> PipelineResult``.
Runner = Callable[[int | None, int, int], Any]


@dataclass(frozen=True)
class Unavailable:
    """In place of a runner: this backend cannot run the pipeline, and why (reported, never skipped silently).

    Examples
    --------
    >>> Unavailable("no naive reference exists for criteo-ctr").reason
    'no naive reference exists for criteo-ctr'
    """

    reason: str

RESULTS_FORMAT = 1


def _cuda_reason() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if torch.cuda.is_available():
        return True, f"CUDA device {torch.cuda.get_device_name(0)}"
    build = torch.version.cuda
    why = "this torch build has no CUDA support" if build is None else f"torch (CUDA {build}) finds no usable CUDA device"
    return False, f"no CUDA device: {why} (torch {torch.__version__})"


def _polars_reason() -> tuple[bool, str]:
    import importlib.util

    if importlib.util.find_spec("polars") is None:
        return False, "Polars is not installed (pip install polars, or gpupipe's dev or polars extra)"
    import importlib.metadata

    return True, f"Polars {importlib.metadata.version('polars')} is installed"


def _polars_gpu_reason() -> tuple[bool, str]:
    """Polars, cudf-polars (its GPU engine) and a CUDA device for the training; every missing piece is named."""
    import importlib.util

    ok, polars_why = _polars_reason()
    missing = [] if ok else [polars_why]
    has_engine = importlib.util.find_spec("cudf_polars") is not None
    if not has_engine:
        missing.append("cudf-polars is not installed (pip install 'gpupipe[gpu]' on a CUDA 13 machine)")
    cuda_ok, cuda_why = _cuda_reason()
    if not cuda_ok:
        missing.append(cuda_why)
    if missing:
        return False, "; ".join(missing)
    from ..backend._cudf import cudf_polars_engine

    # imported only here, where a device is there: loading libcudf without one is pointless and can be slow
    ok, engine = cudf_polars_engine()
    return (True, f"{engine}; {cuda_why}") if ok else (False, engine)


def backend_availability(backend: str) -> tuple[bool, str]:
    """Whether this machine can run ``backend``, and why either way.

    cuDF usable for ``cudf``; pandas for ``pandas``, ``naive`` and (with a CUDA device) ``hybrid``;
    Polars for ``polars``; Polars, cudf-polars and a CUDA device for ``polars-gpu``. Backends gpupipe
    does not know (custom runners) are taken as available.

    Examples
    --------
    >>> ok, why = backend_availability("pandas")
    >>> ok, bool(why)
    (True, True)
    """
    from gpupipe.backend import backend_status

    if backend not in BACKENDS:
        return True, "custom runner"
    if backend == "polars":
        return _polars_reason()
    if backend == "polars-gpu":
        return _polars_gpu_reason()
    status = {s.name: s for s in backend_status()}
    frames = backend if backend in status else "pandas"  # hybrid and naive prepare frames with pandas
    if not status[frames].available:
        return False, status[frames].reason
    reason = status[frames].reason
    if backend == "hybrid":
        ok, reason = _cuda_reason()
        if not ok:
            return False, reason
    return True, reason


def _clear_caches() -> None:
    """Drop in-memory dataset caches so every timed run reads its files again.

    Every ``functools.cache`` of the flights loaders: the Arrow tables, the joined table and the pandas
    flights table that ``flights_scaled(joined=False)`` resamples (left cached, a ``--rows`` run's
    ``read`` skipped converting the flights table, 0.20 s instead of 0.32 s at 100,000 rows)."""
    mod = sys.modules.get("gpupipe.datasets.flights")
    for value in list(vars(mod).values()) if mod is not None else []:
        if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == mod.__name__:
            value.cache_clear()
    gc.collect()


def _configure_threads() -> dict[str, Any]:
    """Let the CPU baseline use every core it is allowed, and record what each library uses."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    out: dict[str, Any] = {"cores_available": cores}
    try:
        import torch

        torch.set_num_threads(cores)
        out["torch_threads"] = torch.get_num_threads()
        out["torch_interop_threads"] = torch.get_num_interop_threads()
    except ImportError:
        pass
    try:
        import pyarrow as pa

        out["pyarrow_cpu_threads"] = pa.cpu_count()
        out["pyarrow_io_threads"] = pa.io_thread_count()
    except ImportError:
        pass
    out["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    return out


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median and spread of repeated timings.

    Examples
    --------
    >>> summarize([3.0, 1.0, 2.0])["median"], summarize([3.0, 1.0, 2.0])["max"]
    (2.0, 3.0)
    """
    vals = sorted(float(v) for v in values)
    if not vals:
        raise ValueError("summarize needs at least one value")
    if len(vals) >= 2:
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    else:
        q1 = q3 = vals[0]
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "q1": q1, "q3": q3,
            "n": len(vals)}


def _as_dict(result: Any) -> dict[str, Any]:
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, Mapping):
        return dict(result)
    raise TypeError(f"a runner must return a PipelineResult (or a dict with 'timings'), got {type(result).__name__}")


def _one_case(runner: Runner, rows: int | None, seed: int, epochs: int, repeats: int, warmup: int,
              tick: Callable[[], None]) -> dict[str, Any]:
    for _ in range(warmup):
        _clear_caches()
        runner(rows, seed, epochs)
        tick()
    reps: list[dict[str, Any]] = []
    for _ in range(repeats):
        _clear_caches()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        res = _as_dict(runner(rows, seed, epochs))
        # CPU seconds of this process next to wall seconds: on a machine shared with other jobs a
        # wall time far above cpu_s / threads shows the run waited for the CPU
        call = {"wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0}
        timings = {k: float(v) for k, v in (res.get("timings") or {}).items()}
        if "total" not in timings:
            raise ValueError(f"the runner's timings have no 'total' (got {sorted(timings)})")
        reps.append({"timings": timings, "metrics": dict(res.get("metrics") or {}),
                     "rows": dict(res.get("rows") or {}), "device": res.get("device"),
                     "baseline": dict(res.get("baseline") or {}), "process": call})
        tick()
    stages = list(dict.fromkeys(k for r in reps for k in r["timings"]))
    stats = {s: summarize([r["timings"][s] for r in reps if s in r["timings"]]) for s in stages}
    metric_names = list(dict.fromkeys(k for r in reps for k in r["metrics"]))
    metrics = {m: statistics.median(float(r["metrics"][m]) for r in reps if m in r["metrics"]) for m in metric_names}
    data_rows = reps[-1]["rows"]
    split_rows = [data_rows[k] for k in ("train", "val") if k in data_rows]
    n_rows = int(rows) if rows is not None else int(sum(split_rows)) if split_rows else None
    return {"status": "ok", "repeats": reps, "stats": stats, "metrics": metrics, "data_rows": data_rows,
            "n_rows": n_rows, "device": reps[-1]["device"]}


def _speedups(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for key in dict.fromkeys(r["rows"] for r in runs):
        ok = {r["backend"]: r for r in runs if r["rows"] == key and r["status"] == "ok"}
        for ref in ("pandas", "naive"):
            if ref not in ok:
                continue
            ref_stats = ok[ref]["stats"]
            for b, r in ok.items():
                row = {"rows": key, "backend": b, "vs": ref,
                       "total": ref_stats["total"]["median"] / r["stats"]["total"]["median"],
                       "stages": {s: ref_stats[s]["median"] / r["stats"][s]["median"]
                                  for s in r["stats"] if s != "total" and s in ref_stats
                                  and r["stats"][s]["median"] > 0}}
                out.append(row)
    return out


def run_bench(pipeline: str, rows: Sequence[int | None] = (None,), backends: Sequence[str] = BACKENDS,
              repeats: int = 3, warmup: int = 1, out: str | os.PathLike[str] | None = None, progress: bool = True,
              *, runners: Mapping[str, Runner | Unavailable], epochs: int = 1, seed: int = 0,
              charts: bool = True) -> dict[str, Any]:
    """Benchmark a pipeline on several backends and sizes; optionally write JSON, markdown and charts.

    Parameters
    ----------
    pipeline : str
        The pipeline's name, as the reports show it.
    rows : sequence of int or None
        Dataset sizes; ``None`` means the pipeline's full default data.
    backends : sequence of str
        Any of ``cudf`` (GPU end to end), ``hybrid`` (pandas prep, CUDA training), ``polars-gpu``
        (Polars prep on cudf-polars' GPU engine, CUDA training), ``pandas`` (CPU), ``polars`` (Polars
        prep, CPU) and ``naive`` (the pandas + scikit-learn + DataLoader script, flights only).
    repeats, warmup : int
        Timed runs per case (medians and spread over these) and untimed runs before them.
    out : path, optional
        Directory for ``results.json``, ``results.md`` and the PNG charts, put in place together once all
        are written (:func:`~gpupipe.bench.write_report`); a file, or a place this process cannot write, is a
        ``ParameterError`` before any run.
    progress : bool
        Show a tqdm progress bar (on stderr).
    epochs, seed : int
        Passed to every runner.
    runners : mapping
        ``backend -> runner(rows, seed, epochs) -> PipelineResult``, or ``backend ->``
        :class:`Unavailable` (why the pipeline cannot run there). ``gpupipe bench`` passes
        ``pipelines.bench_runners(pipeline)``. A known backend without a runner is reported
        unavailable; backends named here that gpupipe does not know are taken as available. A
        runner's ``verify(rows, seed)`` method, if it has one, runs once per rows value before its
        warm-up, untimed; if it raises, the entry is an ``error`` and nothing is timed; what it
        returns is kept under the entry's ``verified``.
    charts : bool
        Also draw the PNG charts when ``out`` is given.

    Returns
    -------
    dict
        What ``results.json`` holds: ``machine``, ``settings``, ``runs`` (one per backend and rows,
        with ``status`` ``ok``/``unavailable``/``error``, ``reason`` and, for a verified runner,
        ``verified``), ``speedups``, ``files``.

    Examples
    --------
    >>> from pipelines import bench_runners                    # doctest: +SKIP
    >>> res = run_bench("flights-delay", rows=[20_000], backends=["pandas", "naive"], repeats=3,
    ...                 out="bench-out", runners=bench_runners("flights-delay"))  # doctest: +SKIP
    >>> [r["status"] for r in res["runs"]]                     # doctest: +SKIP
    ['ok', 'ok']
    """
    from .. import _validate as V
    from .._info import collect_info
    from ..errors import ParameterError

    # the rules of every entry point (gpupipe/_validate.py): no float is truncated, no string read as a list
    where = "gp.bench.run_bench"
    backends = V.name_list(backends, "backends", where, unique=False, what="backend names (str)")
    repeats = V.integer(repeats, "repeats", where, min_value=1)
    warmup = V.integer(warmup, "warmup", where, min_value=0)
    epochs = V.integer(epochs, "epochs", where, min_value=1)
    seed = V.seed(seed, where)
    progress = V.flag(progress, "progress", where)
    charts = V.flag(charts, "charts", where)
    V.output_dir(out, "out", where, none_ok=True)  # the report is written after every run: refused now, not then
    if rows is not None and (isinstance(rows, str) or not isinstance(rows, Sequence)):
        V.fail(where, "rows", rows, "a list of positive integers (None for the full data)")
    rows_list = [None if r is None else V.integer(r, "rows", where, min_value=1) for r in (rows or [None])]
    runners = dict(runners)
    known = set(BACKENDS) | set(runners)
    unknown = [b for b in backends if b not in known]
    if unknown:
        raise ParameterError(f"unknown backend(s) {unknown}; choose from {list(BACKENDS)}")
    backends = list(dict.fromkeys(backends))
    # a size given twice would be two tables' worth of rows under one heading, with speedups from the last only
    rows_list = list(dict.fromkeys(rows_list))

    threads = _configure_threads()
    machine = collect_info()
    machine["threads"] = threads

    plan = []
    for b in backends:
        ok, why = backend_availability(b)
        runner = runners.get(b)
        if ok and runner is None:
            ok, why = False, f"no runner was given for backend {b!r} of {pipeline}"
        elif ok and isinstance(runner, Unavailable):
            ok, why = False, runner.reason
        plan.append((b, ok, why, runner))

    total_ticks = sum(1 for _, ok, _, _ in plan if ok) * len(rows_list) * (int(warmup) + int(repeats))
    from tqdm.auto import tqdm

    bar = tqdm(total=total_ticks, desc=f"bench {pipeline}", unit="run", disable=not progress, file=sys.stderr)
    runs: list[dict[str, Any]] = []
    try:
        for r in rows_list:
            for b, ok, why, runner in plan:
                entry: dict[str, Any] = {"backend": b, "rows": r, "reason": why}
                if not ok:
                    entry.update(status="unavailable", stats={}, metrics={}, repeats=[], n_rows=r)
                    runs.append(entry)
                    continue
                bar.set_description(f"bench {pipeline} {b} rows={r if r is not None else 'full'}")
                try:
                    verify = getattr(runner, "verify", None)
                    if callable(verify):  # untimed, before the warm-up: a mismatch is an error, never a timing
                        entry["verified"] = verify(r, int(seed))
                    entry.update(_one_case(runner, r, int(seed), int(epochs), int(repeats), int(warmup),
                                           lambda: bar.update(1)))
                except Exception as exc:  # one failing backend must not lose the others' results
                    entry.update(status="error", reason=f"{type(exc).__name__}: {exc}", stats={}, metrics={},
                                 repeats=[], n_rows=r, traceback=traceback.format_exc(limit=8))
                runs.append(entry)
    finally:
        bar.close()

    result: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "pipeline": pipeline,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {"rows": rows_list, "backends": backends, "repeats": int(repeats), "warmup": int(warmup),
                     "epochs": int(epochs), "seed": int(seed), "mode": "in-process",
                     "caches": "dataset caches cleared before every run; OS page cache warm"},
        "runs": runs,
        "speedups": _speedups(runs),
        "files": {},
    }
    if out is not None:
        from .report import write_report

        result["files"] = write_report(result, out, charts=charts)
    return result


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``results.json`` written by :func:`run_bench`."""
    import json

    return json.loads(Path(path).read_text())
