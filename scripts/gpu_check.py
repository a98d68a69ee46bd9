#!/usr/bin/env python
"""GPU check: run the ``gpu``-marked tests and short GPU benchmarks, write the results to OUTDIR.

Meant for a GPU machine without network and without gpupipe installed: run it from a plain
copy of the repository with the machine's own torch/CuPy (and whatever docs/gpu-results/PLAN.md
carried there, installed with ``--target`` and put on ``PYTHONPATH``)::

    PYTHONPATH=. python3 scripts/gpu_check.py OUTDIR      # or: bash scripts/gpu_check.sh OUTDIR

It uses only what is there (tests needing an absent package skip, with the reason), never installs
anything, keeps to a time budget (``--budget``, default 420 s; a stage that would not fit in what is
left is recorded as skipped, not started), and always writes ``OUTDIR/gpu_results.json`` and
``OUTDIR/gpu_results.md`` (each stage records its result or its error, after every stage; a missing
GPU is recorded, not raised). Stages, in order of what they prove:

1. environment: Python, torch, CUDA, CuPy, cuDF, the card's name and memory, the backends' status,
   and what was carried (``/tmp/gpupipe-carry/status.json`` from scripts/gpu_carry.sh);
2. zero-copy: a CuPy array → ``torch.from_dlpack`` shares its device pointer;
3. hybrid audit: a pandas frame → ``to_tensors(device="cuda")`` makes exactly one host → device
   copy per column (CUDA profiler), and a Loader epoch on the GPU copies nothing device → host;
4. ``pytest -m gpu`` (junit XML ``pytest-gpu.xml`` and log ``pytest-gpu.log`` in OUTDIR): with cuDF,
   every frame generic and op against pandas and the pipelines end to end (tests/pipelines/test_pipelines_gpu.py);
5. cuDF workflow (only where the cudf backend is usable): the Criteo workflow (read parquet, fit,
   transform) on cuDF and on pandas, alternating, medians, the speedup, and the outputs compared;
6. loader throughput on CUDA against the device-to-device copy rate measured in the same run
   (target: the Loader reaches >= 25% of a contiguous copy of the same batches).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_COPY_FRACTION = 0.25


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


# -- stages ----------------------------------------------------------------------------------------
def stage_environment(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    info: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                            "cpu_count": os.cpu_count()}
    for mod in ("torch", "cupy", "numpy", "pandas", "pyarrow", "sklearn", "cudf", "dask"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as exc:  # absent here is a result, not a failure
            info[mod] = f"absent ({type(exc).__name__})"
    import torch

    info["cuda_available"] = torch.cuda.is_available()
    info["torch_cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["card"] = torch.cuda.get_device_name(0)
        info["card_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["device_count"] = torch.cuda.device_count()
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        info["nvidia_smi"] = f"unavailable ({type(exc).__name__})"
    import gpupipe as gp

    info["gpupipe"] = gp.__version__
    info["backends"] = {s.name: {"available": s.available, "reason": s.reason} for s in gp.backend_status()}
    info["pythonpath"] = os.environ.get("PYTHONPATH", "")
    carry = Path(os.environ.get("GPUPIPE_CARRY_DIR", "/tmp/gpupipe-carry")) / "status.json"
    info["carried"] = json.loads(carry.read_text()) if carry.exists() else "nothing carried (no status.json)"
    return info


def stage_pytest(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    if args.no_tests:
        return {"skipped": "--no-tests"}
    xml, log = out / "pytest-gpu.xml", out / "pytest-gpu.log"
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-p", "no:cacheprovider", "--continue-on-collection-errors",
           f"--junitxml={xml}", "-v", "-rs", "--durations=15"]
    if importlib.util.find_spec("pytest_timeout") is not None:  # one stuck test must not take the whole budget
        cmd.append(f"--timeout={args.per_test_timeout}")
    cmd += [p for p in TEST_ORDER if (ROOT / p).exists()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    t0 = time.perf_counter()
    limit = max(30, min(args.test_timeout, int(_left(args)) - args.reserve))
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
        rc, text = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out_text = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err_text = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        rc, text = "timeout", f"{out_text}{err_text}\n[timed out after {limit} s]"
    log.write_text(text)
    summary = _junit_summary(xml)
    if "tests" not in summary:  # killed before the XML was written: count the -v lines of the log
        summary.update(_log_summary(text))
    return {"returncode": rc, "seconds": round(time.perf_counter() - t0, 1), "command": " ".join(cmd[1:]),
            **summary, "skip_reasons": _skip_reasons(text), "tail": text.strip().splitlines()[-3:]}


def _log_summary(text: str) -> dict[str, Any]:
    """Outcome counts from ``pytest -v`` lines (``path::test PASSED``), for a run cut short."""
    import re

    counts = {"PASSED": 0, "FAILED": 0, "ERROR": 0, "SKIPPED": 0, "XFAIL": 0, "XPASS": 0}
    failed = []
    for line in text.splitlines():
        m = re.match(r"^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)", line)
        if m:
            counts[m.group(2)] += 1
            if m.group(2) in ("FAILED", "ERROR"):
                failed.append(m.group(1))
    done = sum(counts.values())
    return {"tests": done, "passed": counts["PASSED"] + counts["XFAIL"], "failures": counts["FAILED"] + counts["XPASS"],
            "errors": counts["ERROR"], "skipped": counts["SKIPPED"], "failed": failed[:20], "cut_short": True}


def _skip_reasons(text: str) -> dict[str, int]:
    """``-rs`` summary: each distinct skip reason and how many tests it skipped."""
    import re

    reasons: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^SKIPPED \[(\d+)\] [^:]+(?::\d+)?: (.*)$", line)
        if m:
            reasons[m.group(2)] = reasons.get(m.group(2), 0) + int(m.group(1))
    return dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:15])


#: what pytest -m gpu runs first, in case the budget cuts it short (pytest collects a path given twice once)
TEST_ORDER = ["tests/tensors", "tests/reliability/test_oom.py", "tests/pipelines/test_pipelines_gpu.py", "tests/backend",
              "tests/test_io.py", "tests/ops", "tests/baselines", "tests"]


def _junit_summary(xml: Path) -> dict[str, Any]:
    if not xml.exists():
        return {"junit": "not written"}
    import xml.etree.ElementTree as ET

    root = ET.parse(xml).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    keys = ("tests", "failures", "errors", "skipped")
    totals = {k: sum(int(s.get(k, 0)) for s in suites) for k in keys}
    totals["passed"] = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    failed = [f"{c.get('classname')}::{c.get('name')}" for s in suites for c in s.iter("testcase")
              if c.find("failure") is not None or c.find("error") is not None]
    return {**totals, "failed": failed[:20]}


def stage_zero_copy(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    if not _cuda():
        return {"skipped": "no CUDA device"}
    import cupy
    import torch

    x = cupy.arange(1 << 20, dtype=cupy.float32)
    t = torch.from_dlpack(x)
    return {"cupy_to_torch_same_pointer": t.data_ptr() == x.data.ptr, "device": str(t.device)}


def stage_hybrid_audit(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    if not _cuda():
        return {"skipped": "no CUDA device"}
    import torch

    import gpupipe as gp

    bench = _bench_module()
    frame = bench.make_frame(args.hybrid_rows)
    schema = bench.schema_for(frame)
    gp.to_tensors(frame.head(1000), schema=schema, device="cuda")  # warm-up: context, pinned allocator
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with gp.audit.transfers() as up:
        tt = gp.to_tensors(frame, schema=schema, device="cuda")
    upload_s = time.perf_counter() - t0
    loader = gp.Loader(tt, batch_size=65536, seed=0)
    for _ in loader:  # warm-up epoch
        pass
    with gp.audit.transfers() as epoch:
        n_batches = sum(1 for _ in loader)
    result = {
        "rows": args.hybrid_rows, "columns": len(schema), "method": up.method, "profiler_error": up.profiler_error,
        "upload_copies": up.h2d_count, "upload_bytes": up.h2d_bytes, "upload_d2h_copies": up.d2h_count,
        "upload_seconds": round(upload_s, 3),
        "upload_gb_per_s": round(up.h2d_bytes / upload_s / 1e9, 2) if upload_s else None,
        "epoch_batches": n_batches, "epoch_h2d_copies": epoch.h2d_count, "epoch_h2d_bytes": epoch.h2d_bytes,
        "epoch_d2h_copies": epoch.d2h_count, "epoch_d2h_bytes": epoch.d2h_bytes,
        "report_upload": str(up), "report_epoch": str(epoch),
    }
    result["one_upload_per_column"] = up.method == "profiler" and up.h2d_count == len(schema)
    result["no_d2h_in_epoch"] = epoch.method == "profiler" and epoch.d2h_count == 0
    return result


def _cudf_reason() -> str | None:
    """None where the cudf backend is usable here, else why not."""
    import gpupipe as gp

    status = {s.name: s for s in gp.backend_status()}["cudf"]
    return None if status.available else status.reason


def stage_cudf_workflow(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The Criteo workflow (read parquet → fit → transform) on cuDF and on pandas: alternating runs,
    medians, the speedup, and whether both backends give the same output (ids exactly, floats 1e-5)."""
    reason = _cudf_reason()
    if reason is not None:
        return {"skipped": f"cudf backend unavailable: {reason}"}
    import statistics
    import tempfile

    import numpy as np

    import gpupipe as gp
    from gpupipe.datasets.synthetic import criteo_arrow
    from gpupipe.io.files import write_parquet_table
    from pipelines import criteo_ctr

    rows = args.criteo_rows
    path = Path(tempfile.mkdtemp(prefix="gpupipe-criteo-")) / "criteo.parquet"
    t0 = time.perf_counter()
    write_parquet_table(criteo_arrow(rows, seed=0), path)
    made_s = time.perf_counter() - t0

    def once(backend: str) -> tuple[dict[str, float], Any]:
        with gp.use_backend(backend):
            s0 = time.perf_counter()
            frame = gp.read_parquet(path)
            _sync(backend)
            s1 = time.perf_counter()
            result = criteo_ctr.workflow().fit_transform(frame)
            _sync(backend)
            s2 = time.perf_counter()
        return {"read": s1 - s0, "fit_transform": s2 - s1, "total": s2 - s0}, result

    times: dict[str, list[dict[str, float]]] = {"cudf": [], "pandas": []}
    outputs: dict[str, Any] = {}
    for backend in ("cudf", "pandas"):  # warm-up: kernels compiled and loaded, pools grown
        _, outputs[backend] = once(backend)
    for _ in range(args.criteo_repeats):
        for backend in ("cudf", "pandas"):
            if _left(args) < args.reserve:
                break
            times[backend].append(once(backend)[0])
    gpu, cpu = gp.to_pandas(outputs["cudf"]), outputs["pandas"]
    ids = [c for c in cpu.columns if c.startswith("C")]
    same_ids = all(np.array_equal(gpu[c].to_numpy(), cpu[c].to_numpy()) for c in ids)
    same_floats = all(np.allclose(gpu[c].to_numpy(dtype="float64"), cpu[c].to_numpy(dtype="float64"),
                                  rtol=1e-5, atol=1e-6, equal_nan=True) for c in cpu.columns if c not in ids)
    med = {b: {k: round(statistics.median(t[k] for t in v), 3) for k in ("read", "fit_transform", "total")}
           for b, v in times.items() if v}
    result: dict[str, Any] = {"rows": rows, "repeats": min(len(v) for v in times.values()), "data_seconds": round(made_s, 1),
                              "parquet_mb": round(path.stat().st_size / 1e6, 1), "median_seconds": med,
                              "outputs_match": {"ids_exact": same_ids, "floats_1e-5": same_floats}}
    if "cudf" in med and "pandas" in med:
        result["speedup_total"] = round(med["pandas"]["total"] / med["cudf"]["total"], 1)
    path.unlink(missing_ok=True)
    return result


def _sync(backend: str) -> None:
    if backend == "cudf":
        import cupy

        cupy.cuda.runtime.deviceSynchronize()


def stage_loader_bench(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    if not _cuda():
        return {"skipped": "no CUDA device"}
    import torch

    from gpupipe.tensors.convert import TensorTable

    bench = _bench_module()
    dev = torch.device("cuda")
    n = args.bench_rows
    g = torch.Generator(device=dev).manual_seed(0)
    # Built on the device (as a cuDF frame's columns would be), so no host data is needed.
    frame_cols = {f"I{i + 1}": torch.randn(n, device=dev, generator=g) for i in range(bench.N_CONT)}
    frame_cols.update({f"C{j + 1}": torch.randint(0, 100_000, (n,), device=dev, generator=g)
                       for j in range(bench.N_CAT)})
    frame_cols["label"] = (torch.rand(n, device=dev, generator=g) < 0.25).float()
    from gpupipe.schema import ColumnSchema, Schema

    schema = Schema([*(ColumnSchema(f"I{i + 1}", "cont", "float32") for i in range(bench.N_CONT)),
                     *(ColumnSchema(f"C{j + 1}", "cat", "int64", 100_000) for j in range(bench.N_CAT)),
                     ColumnSchema("label", "label", "float32")])
    tt = TensorTable(frame_cols, schema)
    results: dict[str, Any] = {"rows": n, "repeats": args.repeats, "card": torch.cuda.get_device_name(0),
                               "by_batch": {}}
    row_bytes = bench.N_CONT * 4 + bench.N_CAT * 8 + 4
    for batch in args.batches:
        results["by_batch"][str(batch)] = _bench_batch(tt, batch, args.repeats, row_bytes)
        torch.cuda.empty_cache()
    return results


def _bench_batch(tt: Any, batch: int, repeats: int, row_bytes: int) -> dict[str, Any]:
    """gp.Loader epoch vs contiguous device copies of the same bytes, interleaved, medians."""
    import torch

    import gpupipe as gp

    n = tt.num_rows
    loader = gp.Loader(tt, batch_size=batch, seed=0)
    staged = loader._staged
    assert staged is not None
    dst_cont, dst_cat = torch.empty_like(staged.cont), torch.empty_like(staged.cat)

    def epoch() -> None:
        for _ in loader:
            pass

    def copy_same_batches() -> None:  # contiguous copies of the same bytes, batch by batch
        for s in range(0, n, batch):
            staged.cont[s:s + batch].clone()
            staged.cat[s:s + batch].clone()
            staged.label[s:s + batch].clone()

    def copy_whole() -> None:  # one large device-to-device copy of every byte: the memory bound
        dst_cont.copy_(staged.cont)
        dst_cat.copy_(staged.cat)

    fns = {"gp_loader": epoch, "copy_same_batches": copy_same_batches, "copy_whole": copy_whole}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    torch.cuda.synchronize()
    for _ in range(repeats):
        for name, fn in fns.items():
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    rates = {k: n / sorted(v)[len(v) // 2] for k, v in times.items()}
    entry: dict[str, Any] = {
        "rows_per_s": {k: round(v) for k, v in rates.items()},
        "gb_per_s": {k: round(v * row_bytes / 1e9, 1) for k, v in rates.items()},
        "loader_vs_copy_same_batches": round(rates["gp_loader"] / rates["copy_same_batches"], 3),
        "loader_vs_copy_whole": round(rates["gp_loader"] / rates["copy_whole"], 3),
    }
    entry["meets_target"] = entry["loader_vs_copy_same_batches"] >= TARGET_COPY_FRACTION
    return entry


def _bench_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_loader", ROOT / "scripts" / "bench_loader.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


STAGES: dict[str, Callable[[Path, argparse.Namespace], dict[str, Any]]] = {
    "environment": stage_environment,
    "zero_copy": stage_zero_copy,
    "hybrid_audit": stage_hybrid_audit,
    "pytest_gpu": stage_pytest,
    "cudf_workflow": stage_cudf_workflow,
    "loader_bench": stage_loader_bench,
}

#: seconds a stage needs at least (on an H200, measured or estimated) to be worth starting
STAGE_MIN_SECONDS = {"environment": 5, "zero_copy": 5, "hybrid_audit": 15, "pytest_gpu": 60, "cudf_workflow": 40,
                     "loader_bench": 40}

_STARTED = time.perf_counter()


def _left(args: argparse.Namespace) -> float:
    """Seconds left of the run's budget."""
    return args.budget - (time.perf_counter() - _STARTED)


# -- report ----------------------------------------------------------------------------------------
def summary_markdown(results: dict[str, Any]) -> str:
    env = results.get("environment", {})
    card = env.get("card") or "no CUDA device"
    lines = [f"# gpupipe GPU check: {card}", "",
             f"- when: {results.get('started')}; took {results.get('seconds')} s",
             f"- Python {env.get('python')}, torch {env.get('torch')} (CUDA {env.get('torch_cuda')}), "
             f"CuPy {env.get('cupy')}, cuDF {env.get('cudf')}, Dask {env.get('dask')}",
             f"- nvidia-smi: {env.get('nvidia_smi')}", ""]
    t = results.get("pytest_gpu", {})
    if "tests" in t:
        lines.append(f"- `pytest -m gpu`: {t['passed']} passed, {t['failures']} failed, {t['errors']} errors, "
                     f"{t['skipped']} skipped ({t.get('seconds')} s)" + (f"; failed: {t['failed']}" if t["failed"] else ""))
    else:
        lines.append(f"- `pytest -m gpu`: {t}")
    if isinstance(t.get("skip_reasons"), dict) and t["skip_reasons"]:
        lines.append("  - skipped, by reason: " + "; ".join(f"{n} x {r}" for r, n in t["skip_reasons"].items()))
    carried = env.get("carried")
    if carried:
        lines.append(f"- carried: {carried if isinstance(carried, str) else carried.get('summary', carried)}")
    w = results.get("cudf_workflow", {})
    if "median_seconds" in w and "cudf" in w["median_seconds"]:
        m = w["median_seconds"]
        lines.append(f"- Criteo workflow, {w['rows']:,} rows (read parquet + fit + transform), median of {w['repeats']}: "
                     f"cuDF {m['cudf']['total']} s (read {m['cudf']['read']}), pandas {m.get('pandas', {}).get('total')} s "
                     f"(read {m.get('pandas', {}).get('read')}); speedup {w.get('speedup_total')}x; same output: {w['outputs_match']}")
    else:
        lines.append(f"- cuDF workflow: {w}")
    z = results.get("zero_copy", {})
    lines.append(f"- CuPy → torch zero-copy: {z.get('cupy_to_torch_same_pointer', z)}")
    h = results.get("hybrid_audit", {})
    if "upload_copies" in h:
        lines.append(f"- hybrid mode ({h['rows']:,} rows, {h['columns']} columns): {h['upload_copies']} host→device "
                     f"copies ({h['upload_bytes'] / 1e6:.1f} MB, {h['upload_gb_per_s']} GB/s), one per column: "
                     f"{h['one_upload_per_column']}; a Loader epoch ({h['epoch_batches']} batches): "
                     f"{h['epoch_d2h_copies']} device→host copies, {h['epoch_h2d_copies']} host→device "
                     f"({h['epoch_h2d_bytes']} B, the epoch's index order)")
    else:
        lines.append(f"- hybrid audit: {h}")
    b = results.get("loader_bench", {})
    if "by_batch" in b:
        lines += ["", f"Loader on {b['card']}, {b['rows']:,} rows x (13 float32 + 26 int64), shuffled, "
                  f"median of {b['repeats']} epochs:", "",
                  "| batch | gp.Loader rows/s | GB/s | copy of same batches GB/s | whole copy GB/s | "
                  "loader / same-batch copy | loader / whole copy |", "|---:|---:|---:|---:|---:|---:|---:|"]
        for batch, e in b["by_batch"].items():
            lines.append(f"| {batch} | {e['rows_per_s']['gp_loader'] / 1e6:.1f} M | {e['gb_per_s']['gp_loader']} | "
                         f"{e['gb_per_s']['copy_same_batches']} | {e['gb_per_s']['copy_whole']} | "
                         f"{e['loader_vs_copy_same_batches']:.0%} | {e['loader_vs_copy_whole']:.0%} |")
    else:
        lines.append(f"- loader benchmark: {b}")
    errors = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    if errors:
        lines += ["", "Errors:"] + [f"- {k}: {v}" for k, v in errors.items()]
    return "\n".join(lines) + "\n"


def _write(out: Path, results: dict[str, Any]) -> None:
    (out / "gpu_results.json").write_text(json.dumps(results, indent=2, default=str))
    try:
        text = summary_markdown(results)
    except Exception as exc:
        text = f"# gpupipe GPU check\n\nsummary failed: {type(exc).__name__}: {exc}\n"
    (out / "gpu_results.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="gpupipe GPU check")
    p.add_argument("outdir", type=Path)
    p.add_argument("--no-tests", action="store_true", help="skip pytest -m gpu")
    p.add_argument("--test-timeout", type=int, default=270, help="most seconds for pytest -m gpu")
    p.add_argument("--budget", type=float, default=420, help="seconds for the whole check (stages that do not fit are skipped)")
    p.add_argument("--reserve", type=float, default=45, help="seconds kept back for the stages after pytest")
    p.add_argument("--per-test-timeout", type=int, default=120, help="pytest-timeout's limit per test, where installed")
    p.add_argument("--criteo-rows", type=int, default=1_000_000)
    p.add_argument("--criteo-repeats", type=int, default=3)
    p.add_argument("--bench-rows", type=int, default=10_000_000)
    p.add_argument("--hybrid-rows", type=int, default=1_000_000)
    p.add_argument("--batches", type=lambda s: [int(v) for v in s.split(",")], default=[4096, 65536, 262144])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    global _STARTED
    _STARTED = time.perf_counter()
    out = args.outdir
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "stages": list(STAGES)}
    for name, stage in STAGES.items():
        s0 = time.perf_counter()
        if _left(args) < STAGE_MIN_SECONDS.get(name, 10):
            results[name] = {"skipped": f"time budget: {_left(args):.0f} s left of {args.budget:.0f} s"}
            _write(out, results)
            continue
        try:
            results[name] = stage(out, args)
        except Exception as exc:  # record and go on: a later stage may still work
            results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
        if isinstance(results[name], dict):
            results[name].setdefault("stage_seconds", round(time.perf_counter() - s0, 1))
        results["seconds"] = round(time.perf_counter() - t0, 1)
        _write(out, results)  # after every stage, so a crash later still leaves results
    print((out / "gpu_results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
