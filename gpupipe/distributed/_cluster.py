"""``gp.distributed.cluster()``: a Dask client on the right kind of cluster, closed on exit."""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import BackendUnavailableError, ParameterError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["cluster"]

_KINDS = ("auto", "cuda", "cpu")
_WHERE = "gp.distributed.cluster"


def _check_memory_limit(value: int | float | str | None) -> int | float | str | None:
    """Dask's ``memory_limit``: None (Dask's "auto"), "auto", a positive int of bytes, a fraction of the
    machine's memory in (0, 1], or a string Dask parses to a positive number of bytes ("4GB")."""
    from .._validate import fail, is_integer

    accepted = ("None, 'auto', a positive integer of bytes, a float fraction of the machine's memory in (0, 1], "
                "or a size string such as '4GB'")
    if value is None or value == "auto":
        return value
    if is_integer(value):
        if int(value) < 1:
            fail(_WHERE, "memory_limit", value, accepted)
        return int(value)
    if isinstance(value, str):
        from dask.utils import parse_bytes

        try:
            parsed = parse_bytes(value)
        except (ValueError, TypeError):
            fail(_WHERE, "memory_limit", value, accepted, "Dask cannot read it as a size")
        if parsed < 1:
            fail(_WHERE, "memory_limit", value, accepted, f"it reads as {parsed} bytes")
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # a float (Python or NumPy)
        frac = float(value)
        if not 0.0 < frac <= 1.0:  # NaN fails this too
            hint = "a float is a fraction of memory; pass bytes as an int" if frac > 1 and math.isfinite(frac) else ""
            fail(_WHERE, "memory_limit", value, accepted, hint)
        return frac
    fail(_WHERE, "memory_limit", value, accepted)


def _resolve_kind(kind: str) -> str:
    if kind != "auto":
        return kind
    from ..backend import get_backend

    return "cuda" if get_backend().name == "cudf" else "cpu"


def _cpu_cluster(n_workers: int | None, threads_per_worker: int | None,
                 memory_limit: int | float | str | None, kwargs: dict[str, Any]) -> Any:
    from distributed import LocalCluster

    # Processes, not threads: pandas ops hold the GIL for much of their work, and a worker
    # process can be killed and restarted by its nanny without losing the cluster.
    cores = os.cpu_count() or 1
    if n_workers is None:
        n_workers = max(1, cores // (threads_per_worker or 1))
    kwargs.setdefault("processes", True)
    # No dashboard unless asked for: it needs bokeh and a free port, and tests open many clusters.
    kwargs.setdefault("dashboard_address", None)
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker or 1,
                        memory_limit="auto" if memory_limit is None else memory_limit, **kwargs)


def _cuda_cluster(n_workers: int | None, threads_per_worker: int | None,
                  memory_limit: int | float | str | None, rmm_pool_size: int | float | str | None, spill: bool,
                  torch_rmm: bool, kwargs: dict[str, Any]) -> Any:
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError as exc:
        msg = ("cluster(kind='cuda') needs dask-cuda, which is not installed: pip install 'gpupipe[gpu]' "
               "(or use kind='cpu' for a LocalCluster of processes)")
        raise BackendUnavailableError(msg) from exc
    if torch_rmm:
        # dask-cuda sets RMM as PyTorch's allocator on each worker before any task runs.
        libs = kwargs.pop("rmm_allocator_external_lib_list", None) or []
        libs = [libs] if isinstance(libs, str) else list(libs)
        kwargs["rmm_allocator_external_lib_list"] = sorted({*libs, "torch"})
    kwargs.setdefault("dashboard_address", None)
    # One worker per visible GPU (dask-cuda's default for n_workers=None), each with its own RMM
    # pool; cuDF's own spilling moves unused buffers to host memory when the device fills.
    # memory_limit: dask-cuda documents int, float, str or None, but leaves it unannotated, so
    # pyright takes the type of its default ("auto") for the whole parameter.
    return LocalCUDACluster(n_workers=n_workers, threads_per_worker=threads_per_worker or 1,
                            memory_limit="auto" if memory_limit is None else memory_limit,  # pyright: ignore[reportArgumentType]
                            rmm_pool_size=rmm_pool_size, enable_cudf_spill=bool(spill), **kwargs)


@contextlib.contextmanager
def cluster(kind: str = "auto", n_workers: int | None = None, address: str | None = None,
            threads_per_worker: int | None = None, memory_limit: int | float | str | None = None,
            rmm_pool_size: int | float | str | None = None,
            spill: bool = True, torch_rmm: bool = False, **kwargs: Any) -> Iterator[Client]:
    """Open a Dask cluster (or connect to one) and yield its ``distributed.Client``.

    While the block runs, the client is Dask's default: ``Workflow.fit``/``transform`` on a
    ``gp.Dataset``, ``Dataset.to_parquet``, ``Dataset.map_partials`` and the ``gp.Loader``'s
    partition reads all run on the cluster's workers. On exit the client is closed, and the
    cluster too when this call started it (an external scheduler is left running).

    Parameters
    ----------
    kind : {"auto", "cuda", "cpu"}, default "auto"
        ``"cuda"``: dask-cuda's ``LocalCUDACluster``, one worker process per GPU.
        ``"cpu"``: a ``distributed.LocalCluster`` of worker processes.
        ``"auto"``: ``"cuda"`` on the cudf backend, else ``"cpu"``.
    n_workers : int, optional
        Worker processes. Default: one per visible GPU (cuda), ``cpu_count // threads_per_worker`` (cpu).
    address : str, optional
        ``"tcp://host:8786"`` of a running scheduler (``dask scheduler`` + ``dask cuda worker`` or
        ``dask worker`` on each machine). Only a client is opened; ``kind`` must stay ``"auto"``, and the
        workers' parameters below are those the workers were started with (giving one is refused).
    threads_per_worker : int, optional
        Default 1: cuDF and pandas partitions are processed one per worker at a time, which bounds
        each worker's memory to about one partition's working set.
    memory_limit : int, str or float, optional
        Host memory per worker (Dask's ``memory_limit``, default ``"auto"``): a positive int of bytes, a
        float fraction of the machine's memory in (0, 1], or a size string (``"4GB"``); past it a worker
        spills task results to disk, then pauses.
    rmm_pool_size : int, float or str, optional
        cuda only (refused on a cpu cluster): each worker's initial RMM pool, bytes, a size string or a
        fraction of the GPU's memory (e.g. ``"20GB"`` or ``0.8``).
    spill : bool, default True
        cuda only: cuDF's native spilling of device buffers to host memory
        (``LocalCUDACluster(enable_cudf_spill=...)``).
    torch_rmm : bool, default False
        cuda only (``True`` is refused on a cpu cluster): workers' PyTorch allocates from the same RMM pool
        (``rmm_allocator_external_lib_list=["torch"]``); see :func:`share_rmm_pool_with_torch`
        for this process.
    **kwargs
        Passed to ``LocalCUDACluster``/``LocalCluster`` (or to ``Client`` with ``address``), e.g.
        ``dashboard_address=":8787"`` (off by default), ``CUDA_VISIBLE_DEVICES="0,1"``,
        ``protocol="ucx"``.

    Yields
    ------
    distributed.Client

    Raises
    ------
    BackendUnavailableError
        ``kind="cuda"`` (or ``"auto"`` on the cudf backend) without dask-cuda installed.
    ParameterError
        Before anything starts: an argument outside the rules of ``gpupipe._validate`` (an unknown ``kind``, a
        non-positive or non-integer count, a ``spill``/``torch_rmm`` that is not a bool, a ``memory_limit``
        Dask cannot read or that is not positive, an ``address`` that is not a string), ``kind`` given with
        ``address``; with ``address``, any
        of the parameters that configure a local cluster's workers (``n_workers``, ``threads_per_worker``,
        ``memory_limit``, ``rmm_pool_size``, ``spill=False``, ``torch_rmm=True``); ``rmm_pool_size`` or
        ``torch_rmm=True`` for a cpu cluster.

    Examples
    --------
    >>> import pandas as pd, gpupipe as gp
    >>> from gpupipe import ops
    >>> if __name__ == "__main__":  # worker processes re-import a script's main module
    ...     with gp.use_backend("pandas"), gp.distributed.cluster(n_workers=2) as client:
    ...         ds = gp.Dataset("data/", partition_rows=1_000_000)
    ...         wf = gp.Workflow(["x"] >> ops.Normalize(), label="y").fit(ds)
    ...         wf.transform(ds).to_parquet("prepared/")
    """
    from .._validate import fail, flag, integer, string

    # Every argument is checked before anything starts (a bad memory_limit used to surface only as
    # "Nanny failed to start" once the worker processes were launched).
    if not isinstance(kind, str) or kind not in _KINDS:
        fail(_WHERE, "kind", kind, "one of " + ", ".join(repr(k) for k in _KINDS),
             "pass address=... to join an existing scheduler")
    address = string(address, "address", _WHERE, none_ok=True, empty_ok=False)
    n_workers = integer(n_workers, "n_workers", _WHERE, min_value=1, none_ok=True)
    threads_per_worker = integer(threads_per_worker, "threads_per_worker", _WHERE, min_value=1, none_ok=True)
    memory_limit = _check_memory_limit(memory_limit)
    spill = bool(flag(spill, "spill", _WHERE))
    torch_rmm = bool(flag(torch_rmm, "torch_rmm", _WHERE))
    from distributed import Client

    if address is not None:
        if kind != "auto":
            msg = (f"cluster(kind={kind!r}, address={address!r}): give a kind to start a local cluster, or an "
                   f"address to join a running one, not both")
            raise ParameterError(msg)
        local_only = {name: value for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker),
                                                      ("memory_limit", memory_limit), ("rmm_pool_size", rmm_pool_size),
                                                      ("torch_rmm", torch_rmm or None), ("spill", None if spill else spill))
                      if value is not None}
        if local_only:
            given = ", ".join(f"{name}={value!r}" for name, value in local_only.items())
            msg = (f"cluster(address={address!r}) joins a running scheduler whose workers are already started, so "
                   f"{given} would be ignored; drop them and set them where the workers start (dask worker "
                   f"--nworkers/--nthreads/--memory-limit, dask cuda worker --rmm-pool-size), or leave out address "
                   f"to start a local cluster with them")
            raise ParameterError(msg)
        client = Client(address, **kwargs)
        try:
            yield client
        finally:
            client.close()
        return

    resolved = _resolve_kind(kind)
    if resolved == "cuda":
        local = _cuda_cluster(n_workers, threads_per_worker, memory_limit, rmm_pool_size, spill, torch_rmm,
                              dict(kwargs))
    else:
        if rmm_pool_size is not None or torch_rmm:
            msg = (f"rmm_pool_size={rmm_pool_size!r} / torch_rmm={torch_rmm!r} configure GPU workers; a cpu "
                   f"cluster has none. Drop them, or use kind='cuda' on a GPU machine")
            raise ParameterError(msg)
        local = _cpu_cluster(n_workers, threads_per_worker, memory_limit, dict(kwargs))
    try:
        client = Client(local)
        try:
            yield client
        finally:
            client.close()
    finally:
        local.close()
