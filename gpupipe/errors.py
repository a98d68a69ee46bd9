"""The exceptions gpupipe raises.

Every error raised for bad input is a :class:`GpupipeError`; each subclass also derives from the
builtin exception a caller would naturally catch (``ValueError``, ``RuntimeError``), so existing
``except ValueError`` code keeps working.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = [
    "BackendUnavailableError",
    "DataError",
    "GpupipeError",
    "NotFittedError",
    "OutOfMemoryError",
    "ParameterError",
    "SchemaError",
    "WorkerDiedError",
    "WorkflowFormatError",
]


class GpupipeError(Exception):
    """Base class of every error gpupipe raises on purpose."""


class ParameterError(GpupipeError, ValueError, TypeError):
    """A parameter of a public function or op has a wrong type or value.

    The message names the function or op, the parameter, what was given and what is accepted.
    Raised before any work starts (ops: when the Workflow is built, and again at fit/transform).
    It derives from ``ValueError`` and ``TypeError``, so code catching either keeps working.
    """


class BackendUnavailableError(GpupipeError, RuntimeError):
    """A backend was requested that cannot run here; the message says why and what to install."""


class SchemaError(GpupipeError, ValueError):
    """A column is missing, unexpected, or of a type the operation cannot take."""


class NotFittedError(GpupipeError, ValueError, AttributeError):
    """``transform`` (or anything needing fitted statistics) was called before ``fit``."""


class DataError(GpupipeError, ValueError):
    """The values are unusable: NaN/inf labels, empty input, negative input to a log, a corrupt file."""


class WorkflowFormatError(GpupipeError, ValueError):
    """A saved workflow or checkpoint is tampered with, truncated, of a newer format, or unsaveable."""


class WorkerDiedError(GpupipeError, RuntimeError):
    """A task of a ``gp.Dataset`` computation killed every Dask worker process that ran it.

    Raised from Dask's ``distributed.scheduler.KilledWorker`` (its ``__cause__``) once the task has been
    running on ``distributed.scheduler.allowed-failures + 1`` workers that died: a worker past its
    memory limit, or a crash in native code. The message names the partition (its file and rows) and
    what to try.
    """


class OutOfMemoryError(GpupipeError, MemoryError, RuntimeError):
    """The device (or host) ran out of memory; the message says where and what to try.

    Raised in place of ``torch.cuda.OutOfMemoryError`` (a ``RuntimeError``) and of the
    ``MemoryError`` that cuDF/RMM and CuPy raise, at the places gpupipe allocates in bulk: file
    reads on cuDF, ``to_tensors`` and the Loader's upload, and the training step. It derives from
    both, so existing ``except MemoryError`` / ``except RuntimeError`` code keeps working.
    """


_OOM_ADVICE = {
    "read": "read fewer rows at a time: gp.Dataset(paths, partition_rows=...) streams partitions",
    "tensors": "use a gp.Dataset with smaller partition_rows (the Loader streams it), or keep the frame on the "
               "host (device=None) and move batches instead",
    "train": "lower the Loader's batch_size (or the model's hidden sizes / embedding_dim)",
}


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, GpupipeError):
        return False
    if isinstance(exc, MemoryError):  # host, cuDF/RMM (std::bad_alloc) and CuPy's OutOfMemoryError
        return True
    torch = sys.modules.get("torch")  # never import torch just to look at an exception
    torch_oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    return torch_oom is not None and isinstance(exc, torch_oom)


@contextlib.contextmanager
def oom_advice(where: str, stage: str) -> Iterator[None]:
    """Turn an out-of-memory error raised inside the block into :class:`OutOfMemoryError` with advice.

    ``where`` names what was being done (a file, a column, "training step"); ``stage`` picks the
    advice: ``"read"``, ``"tensors"`` or ``"train"``.

    Examples
    --------
    >>> from gpupipe.errors import OutOfMemoryError, oom_advice
    >>> try:
    ...     with oom_advice("reading x.parquet", "read"):
    ...         raise MemoryError("std::bad_alloc: out_of_memory")
    ... except OutOfMemoryError as exc:
    ...     "partition_rows" in str(exc)
    True
    """
    try:
        yield
    except BaseException as exc:
        if not _is_oom(exc):
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = (f"out of memory while {where} ({type(exc).__name__}: {detail[:300]}). Try: "
               f"{_OOM_ADVICE.get(stage, _OOM_ADVICE['tensors'])}; on cuDF enable spilling to host memory "
               "(CUDF_SPILL=on, or cudf.set_option('spill', True)); or spread the work over more GPUs with "
               "gp.distributed.cluster()")
        raise OutOfMemoryError(msg) from exc
