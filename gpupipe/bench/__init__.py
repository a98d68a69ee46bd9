"""Benchmarks: stage timing, pipeline results, GPU-vs-pandas runs, reports and charts (``gpupipe bench``).

Importing this package is light; pandas, torch and matplotlib load when a benchmark runs. The
harness takes the pipelines it times from the caller (``runners``); the ready pipelines' runners
come from ``pipelines.bench_runners``.

Examples
--------
>>> from gpupipe.bench import run_bench
>>> from pipelines import bench_runners                                              # doctest: +SKIP
>>> res = run_bench("flights-delay", rows=[20_000], backends=["pandas", "naive"], out="bench-out",
...                 runners=bench_runners("flights-delay"))                         # doctest: +SKIP
"""

from __future__ import annotations

from .harness import BACKENDS, Runner, Unavailable, backend_availability, load_results, run_bench, summarize
from .report import to_markdown, write_report
from .result import STAGES, PipelineResult, check_out_dir, write_outputs
from .timing import StageTimer, synchronize

__all__ = ["BACKENDS", "STAGES", "PipelineResult", "Runner", "StageTimer", "Unavailable", "backend_availability",
           "check_out_dir", "load_results", "run_bench", "summarize", "synchronize", "to_markdown", "write_outputs",
           "write_report"]
