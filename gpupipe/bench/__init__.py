"""Benchmarks: stage timing, GPU-vs-pandas suites, reports and charts."""

from __future__ import annotations

from .timing import StageTimer, synchronize

__all__ = ["StageTimer", "synchronize"]
