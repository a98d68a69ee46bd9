#!/usr/bin/env python
"""Where the memory of the Criteo workflow (read + fit + transform, pandas backend) is, stage by stage.

One process, the workload of ``scripts/bench_criteo_workflow.py``. After import, read, fit and transform it
prints the resident set (``/proc/self/statm``), glibc's heap as ``mallinfo2`` sees it (bytes in the heap,
of which free but kept; bytes in mmapped blocks), Arrow's pool, and what the data itself holds (the input
frame's values and null masks, the output frame, the fitted statistics), so the rest (libraries, allocator
slack) can be read off. Linux with glibc only.

``--input`` says how the frame is made: ``gp`` (``gp.read_parquet``, the default), ``pandas``
(``pd.read_parquet``: ints with nulls become float64) or ``pandas-arrow``
(``pd.read_parquet(dtype_backend="pyarrow")``: Arrow-backed columns, converted by the Workflow) or
``pandas-arrow-converted`` (that frame converted once with ``gp.from_pandas``, the Arrow-backed one dropped).

    python scripts/criteo_memory.py DATA.parquet [--input gp|pandas|pandas-arrow|pandas-arrow-converted] [--json OUT]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

GB = 1e9


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _mallinfo() -> Any:
    libc = ctypes.CDLL("libc.so.6")
    fn = getattr(libc, "mallinfo2", None)
    if fn is None:
        sys.exit("criteo_memory.py needs glibc 2.33 or later (mallinfo2)")
    fn.restype = _MallInfo2
    return fn


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def frame_bytes(frame: Any) -> dict[str, int]:
    """Bytes a pandas frame holds: values, and null masks of nullable columns, apart."""
    values = masks = 0
    for name in frame.columns:
        arr = frame[name].array
        mask = getattr(arr, "_mask", None)
        data = getattr(arr, "_data", None)
        if mask is not None and data is not None and hasattr(data, "nbytes"):
            values += data.nbytes
            masks += mask.nbytes
        else:
            values += int(frame[name].memory_usage(index=False, deep=True))
    return {"values": values, "masks": masks}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--input", choices=["gp", "pandas", "pandas-arrow", "pandas-arrow-converted"], default="gp")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    mallinfo = _mallinfo()
    stages: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()

    def mark(stage: str) -> None:
        import pyarrow as pa

        m = mallinfo()
        stages[stage] = {"seconds": round(time.perf_counter() - t0, 3), "rss_gb": _rss() / GB,
                         "heap_gb": m.arena / GB, "heap_free_gb": m.fordblks / GB, "mmapped_gb": m.hblkhd / GB,
                         "arrow_pool_gb": pa.total_allocated_bytes() / GB}
        s = stages[stage]
        print(f"{stage:10s} {s['seconds']:6.2f} s  rss {s['rss_gb']:.3f}  heap {s['heap_gb']:.3f} "
              f"(free {s['heap_free_gb']:.3f})  mmapped {s['mmapped_gb']:.3f}  arrow {s['arrow_pool_gb']:.3f} GB",
              flush=True)

    import bench_criteo_workflow as bench
    import pandas as pd

    import gpupipe as gp

    gp.set_backend("pandas")
    mark("import")
    if args.input == "gp":
        frame = gp.read_parquet(args.path)
    elif args.input == "pandas":
        frame = pd.read_parquet(args.path)
    else:
        frame = pd.read_parquet(args.path, dtype_backend="pyarrow")
        if args.input == "pandas-arrow-converted":
            frame = gp.from_pandas(frame)
    mark("read")
    FillMissing, Clip, LogOp, Normalize, Categorify = bench._ops()
    cat = Categorify()
    wf = gp.Workflow(bench.COUNTS >> FillMissing(fill_value=0) >> Clip(lower=0) >> LogOp() >> Normalize(),
                     bench.IDS >> cat, label="label")
    wf.fit(frame)
    mark("fit")
    out = wf.transform(frame)
    mark("transform")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    data = {"input": frame_bytes(frame), "output": frame_bytes(out),
            "vocabularies": sum(int(v.memory_usage(index=True, deep=True).sum()) for v in cat.vocab_.values())}
    end = stages["transform"]
    held = data["input"]["values"] + data["input"]["masks"] + data["output"]["values"] + data["vocabularies"]
    print(f"peak RSS {peak / GB:.3f} GB; input {data['input']['values'] / GB:.3f} values + "
          f"{data['input']['masks'] / GB:.3f} masks, output {data['output']['values'] / GB:.3f}, vocabularies "
          f"{data['vocabularies'] / GB:.3f}; the rest at the end of transform (libraries, allocator slack, "
          f"statistics' indexes): {end['rss_gb'] - held / GB:.3f} GB, of which glibc heap free {end['heap_free_gb']:.3f}")
    if args.json:
        import platform

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"input": args.input, "path": args.path, "stages": stages,
                                         "peak_rss_bytes": peak, "data_bytes": data,
                                         "machine": {"processor": platform.processor() or platform.machine(),
                                                     "python": platform.python_version()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
