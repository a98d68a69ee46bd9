"""Stage timing with the device synchronised before every clock read.

GPU work is asynchronous: without a synchronisation a stage's clock stops when its kernels are
queued, not finished, and the next stage is charged for them. :class:`StageTimer` synchronises
CUDA (through torch and, when loaded, CuPy) before starting and before stopping each clock.

Examples
--------
>>> from gpupipe.bench.timing import StageTimer
>>> t = StageTimer()
>>> with t.stage("prep"):
...     _ = sum(range(1000))
>>> sorted(t.times)
['prep']
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

__all__ = ["StageTimer", "synchronize"]


def synchronize() -> None:
    """Wait for all queued GPU work (a no-op on CPU; imports nothing that is not already loaded)."""
    from ..backend import synchronize as sync

    sync()


class StageTimer:
    """Accumulates wall-clock seconds per named stage, synchronising the device at each boundary."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block into ``times[name]`` (added to what the stage already holds), the device
        synchronised before each clock read."""
        synchronize()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            synchronize()
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0

    def total(self) -> float:
        """Seconds since the timer was created."""
        synchronize()
        return time.perf_counter() - self._start
