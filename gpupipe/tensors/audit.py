"""Transfer audit: prove where data was copied, and that the GPU path never round-trips through the host.

``with gp.audit.transfers() as report: ...`` records, for the code inside the block:

* on a machine with CUDA, every host↔device and device↔device memory copy, read from the
  PyTorch profiler's CUDA activity (CUPTI), which also sees copies made by cuDF and CuPy, not only
  by torch; ``report.h2d_bytes``, ``report.d2h_bytes``, ``report.d2d_bytes``;
* on every machine, the tensors :func:`gpupipe.to_tensors` and :class:`gpupipe.Loader` produced
  inside the block, and whether each shares memory with its source (checked from the tensors'
  ``data_ptr`` ranges, not taken on trust): ``report.shared`` and ``report.copied`` (name → reason),
  plus the Loader's staging copies and per-batch gathers.

A block records the work of the thread (or asyncio task) that opened it, including what gpupipe's
own helper threads do for that work (a Loader preparing the next partition, gathering batches
ahead): the open blocks are a context variable, which those threads run under. Work in other
threads is not recorded, even while the block is open; a thread you start inside the block records
into it when it runs in a copy of the block's context (``contextvars.copy_context().run``). A
Loader's gathers count when the batch is handed to the consumer inside the block, whichever thread
gathered it. The CUDA profiler's memcpy events are the exception: CUPTI sees every thread's copies.

On a machine without CUDA nothing can cross a bus: ``h2d_bytes`` and ``d2h_bytes`` are 0 and
the report is about sharing. Pipelines print ``str(report)`` per stage.

Examples
--------
>>> import numpy as np, pandas as pd, gpupipe as gp
>>> df = pd.DataFrame({"x": np.arange(4, dtype="float32"), "y": np.ones(4, dtype="float32")})
>>> schema = gp.Schema([gp.ColumnSchema("x", "cont", "float32"), gp.ColumnSchema("y", "label", "float32")])
>>> with gp.audit.transfers(cuda=False) as report:
...     tt = gp.to_tensors(df, schema=schema)
>>> report.shared, report.copied, report.h2d_bytes
(['x', 'y'], {}, 0)
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TransferEvent", "TransferReport", "transfers"]

_lock = threading.Lock()
# Reports of the ``transfers()`` blocks now open, in any thread: a report records only while it is here.
_active: list[TransferReport] = []
# The blocks open in this context (thread or task): what gpupipe's work records into. gpupipe's helper
# threads run in a copy of their caller's context; a copy may outlive a block, hence the check against _active.
_scoped: contextvars.ContextVar[tuple[TransferReport, ...]] = contextvars.ContextVar("gpupipe_transfers", default=())
_profiler_busy = False


@dataclass(frozen=True)
class TransferEvent:
    """One copy.

    ``kind`` is ``"h2d"``, ``"d2h"``, ``"d2d"`` (CUDA memcpy events from the profiler) or
    ``"host"`` (a copy in host memory made by gpupipe, e.g. a dtype conversion), ``"staging"``
    (the Loader's row-major matrices) or ``"upload"`` (a column uploaded by hybrid mode, as
    registered by gpupipe; the profiler's ``"h2d"`` event for it is listed separately).
    """

    kind: str
    bytes: int
    name: str
    reason: str = ""


@dataclass
class TransferReport:
    """What was copied inside a :func:`transfers` block (filled in when the block exits)."""

    device: str = "cpu"
    method: str = "registered"
    events: list[TransferEvent] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    copied: dict[str, str] = field(default_factory=dict)
    gathers: int = 0
    gather_bytes: int = 0
    profiler_error: str | None = None

    # -- totals --------------------------------------------------------------------------
    def _sum(self, kind: str) -> int:
        return sum(e.bytes for e in self.events if e.kind == kind)

    def _count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.kind == kind)

    @property
    def h2d_bytes(self) -> int:
        """Bytes copied host → device (CUDA memcpy events)."""
        return self._sum("h2d")

    @property
    def d2h_bytes(self) -> int:
        """Bytes copied device → host (CUDA memcpy events)."""
        return self._sum("d2h")

    @property
    def d2d_bytes(self) -> int:
        """Bytes copied device → device (CUDA memcpy events)."""
        return self._sum("d2d")

    @property
    def h2d_count(self) -> int:
        return self._count("h2d")

    @property
    def d2h_count(self) -> int:
        return self._count("d2h")

    @property
    def uploads(self) -> dict[str, int]:
        """Columns uploaded by hybrid mode (name → bytes), as registered by gpupipe."""
        return {e.name: e.bytes for e in self.events if e.kind == "upload"}

    def __str__(self) -> str:
        lines = [
            f"transfers on {self.device} ({self.method}): host→device {_fmt(self.h2d_bytes)} in "
            f"{self.h2d_count} copies, device→host {_fmt(self.d2h_bytes)} in {self.d2h_count} copies"
            + (f", device→device {_fmt(self.d2d_bytes)}" if self._count("d2d") else "")
        ]
        if self.profiler_error:
            lines.append(f"  CUDA profiler unavailable ({self.profiler_error}); only gpupipe's own copies are listed")
        if self.shared:
            lines.append(f"  zero-copy (share memory with their source): {len(self.shared)}: "
                         + _names(self.shared))
        if self.copied:
            lines.append(f"  copied once: {len(self.copied)}:")
            lines.extend(f"    {name}: {why}" for name, why in self.copied.items())
        for e in self.events:
            if e.kind in ("staging", "upload"):
                lines.append(f"  {e.kind} {e.name}: {_fmt(e.bytes)}" + (f" ({e.reason})" if e.reason else ""))
        if self.gathers:
            lines.append(f"  batch gathers: {self.gathers} ({_fmt(self.gather_bytes)})")
        return "\n".join(lines)


def _names(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... (+{len(names) - limit})" if len(names) > limit else "")


def _fmt(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


# -- registration (called by to_tensors and Loader) ----------------------------------------------
def _recording() -> bool:
    return bool(_scoped.get())


def _reports() -> list[TransferReport]:
    """The open reports of this context's blocks (call with ``_lock`` held)."""
    return [rep for rep in _scoped.get() if any(rep is a for a in _active)]


def _tensor_range(tensor: Any) -> tuple[int, int]:
    nbytes = tensor.element_size() * max(int(tensor.numel()), 0)
    return int(tensor.data_ptr()), int(tensor.data_ptr()) + nbytes


def record_tensor(name: str, tensor: Any, source: tuple[int, int] | None, reason: str | None) -> None:
    """Register a tensor made from a frame column.

    ``source`` is the ``(start, end)`` address range of the column's buffer. The tensor counts as
    shared when its memory lies inside that range; otherwise as copied, with ``reason``.
    """
    if not _scoped.get():
        return
    start, end = _tensor_range(tensor)
    # an empty tensor has no memory to share (DLPack gives it data_ptr 0): unconverted, it copied nothing
    shared = source is not None and reason is None and (start == end or (source[0] <= start and end <= source[1]))
    with _lock:
        for rep in _reports():
            if shared:
                rep.shared.append(name)
            else:
                why = reason or "does not share memory with its source"
                rep.copied[name] = why
                rep.events.append(TransferEvent("host" if tensor.device.type == "cpu" else "device",
                                                end - start, name, why))


def record_event(kind: str, nbytes: int, name: str, reason: str = "") -> None:
    """Register a copy gpupipe made on purpose (staging, upload)."""
    if not _scoped.get():
        return
    with _lock:
        for rep in _reports():
            rep.events.append(TransferEvent(kind, int(nbytes), name, reason))


def record_gather(nbytes: int) -> None:
    """Register one batch gather of ``nbytes``."""
    if not _scoped.get():
        return
    with _lock:
        for rep in _reports():
            rep.gathers += 1
            rep.gather_bytes += int(nbytes)


# -- the CUDA profiler ----------------------------------------------------------------------------
_KINDS = (("HtoD", "h2d"), ("DtoH", "d2h"), ("DtoD", "d2d"), ("PtoP", "d2d"))


def _memcpy_events_from_trace(path: str) -> list[TransferEvent]:
    """Memcpy events of a Chrome trace written by ``torch.profiler`` (Kineto).

    Kineto writes each CUDA copy as an event with ``"cat": "gpu_memcpy"``, a name such as
    ``"Memcpy HtoD (Pinned -> Device)"`` and ``"args": {"bytes": N, ...}``. The trace is read
    rather than ``FunctionEvent`` attributes because the byte count moved between fields across
    PyTorch versions while the trace format stayed the same.
    """
    with open(path, encoding="utf-8") as fh:
        trace = json.load(fh)
    events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
    out = []
    for ev in events:
        name = str(ev.get("name", ""))
        if ev.get("cat") != "gpu_memcpy" and not name.startswith("Memcpy"):
            continue
        kind = next((k for tag, k in _KINDS if tag in name), None)
        if kind is None:
            continue
        nbytes = int((ev.get("args") or {}).get("bytes", 0))
        out.append(TransferEvent(kind, nbytes, name))
    return out


def _cuda_usable() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@contextlib.contextmanager
def transfers(cuda: bool | None = None) -> Iterator[TransferReport]:
    """Record the copies made inside the block.

    Parameters
    ----------
    cuda : bool, optional
        Use the PyTorch profiler's CUDA activity to count memcpy events. Default: when a CUDA
        device is usable. The profiler cannot nest: an inner block inside another profiled block
        lists only gpupipe's own registrations (``report.method == "registered"``).

    Yields
    ------
    TransferReport
        Filled in when the block exits: ``h2d_bytes``, ``d2h_bytes``, ``d2d_bytes``, ``events``,
        ``shared``, ``copied``, ``gathers``. ``str(report)`` is a readable summary.

    Examples
    --------
    >>> import gpupipe as gp
    >>> with gp.audit.transfers(cuda=False) as report:
    ...     pass
    >>> report.h2d_bytes, report.d2h_bytes
    (0, 0)
    """
    global _profiler_busy
    report = TransferReport()
    usable = False if cuda is False else _cuda_usable()  # cuda=False: no torch import needed
    use_cuda = usable if cuda is None else bool(cuda) and usable
    if cuda and not usable:
        report.profiler_error = "no usable CUDA device"
    prof = None
    if use_cuda:
        import torch

        report.device = f"cuda:{torch.cuda.current_device()}"
        with _lock:
            mine = not _profiler_busy
            _profiler_busy = _profiler_busy or mine
        if mine:
            try:
                torch.cuda.synchronize()  # copies queued before the block are not ours
                prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA])
                prof.__enter__()
                report.method = "profiler"
            except Exception as exc:  # CUPTI missing or refused: fall back to registrations
                prof = None
                report.profiler_error = f"{type(exc).__name__}: {exc}"
                with _lock:
                    _profiler_busy = False
    with _lock:
        _active.append(report)
    token = _scoped.set((*_scoped.get(), report))
    try:
        yield report
    finally:
        with _lock:
            # by identity: reports are dataclasses, and an inner block's report may equal the outer one's
            _active[:] = [r for r in _active if r is not report]
        try:
            _scoped.reset(token)
        except ValueError:  # closed in another context than it was opened in
            _scoped.set(tuple(r for r in _scoped.get() if r is not report))
        if prof is not None:
            import torch

            try:
                torch.cuda.synchronize()  # non-blocking copies issued inside the block must land in it
                prof.__exit__(None, None, None)
                fd, path = tempfile.mkstemp(suffix=".json", prefix="gpupipe-trace-")
                os.close(fd)
                try:
                    prof.export_chrome_trace(path)
                    report.events[:0] = _memcpy_events_from_trace(path)
                finally:
                    os.unlink(path)
            except Exception as exc:
                report.method = "registered"
                report.profiler_error = f"{type(exc).__name__}: {exc}"
            finally:
                with _lock:
                    _profiler_busy = False
