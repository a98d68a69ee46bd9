"""Benchmarks: stage timing, GPU-vs-pandas runs, reports and charts (``gpupipe bench``).

Importing this package is light; pandas, torch and matplotlib load when a benchmark runs.

Examples
--------
>>> from gpupipe.bench import run_bench
>>> res = run_bench("flights-delay", rows=[20_000], backends=["pandas", "naive"], out="bench-out")  # doctest: +SKIP
"""

from __future__ import annotations

from .harness import BACKENDS, backend_availability, load_results, run_bench, summarize
from .report import to_markdown, write_report
from .timing import StageTimer, synchronize

__all__ = ["BACKENDS", "StageTimer", "backend_availability", "load_results", "run_bench", "summarize",
           "synchronize", "to_markdown", "write_report"]
