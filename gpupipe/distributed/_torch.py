"""torch.distributed helpers: this process's place in the job, and one GPU memory pool for RMM and PyTorch."""

from __future__ import annotations

import os
from typing import Any

from ..errors import BackendUnavailableError, GpupipeError, ParameterError

__all__ = ["share_rmm_pool_with_torch", "world"]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        msg = f"environment variable {name}={value!r} is not an integer; torchrun sets it to one (unset it otherwise)"
        raise ParameterError(msg) from None


def world() -> tuple[int, int]:
    """This process's ``(rank, world_size)``: from ``torch.distributed`` once initialised, else the
    ``RANK``/``WORLD_SIZE`` variables ``torchrun`` sets, else ``(0, 1)``. ``WORLD_SIZE`` above 1
    without ``RANK`` raises ``ParameterError`` (every process would take rank 0, and the same rows).

    Pass them to ``gp.Loader(..., rank=rank, world_size=world_size)`` so every process reads its
    own, disjoint share of the rows (and the same number of batches, which DDP needs).

    Examples
    --------
    >>> import gpupipe as gp
    >>> rank, world_size = gp.distributed.world()
    >>> 0 <= rank < world_size
    True
    """
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank()), int(dist.get_world_size())
    rank, size = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1)
    if size > 1 and os.environ.get("RANK", "") == "":
        # every process would take rank 0 and read the same shard (torch's env:// refuses it too)
        msg = (f"WORLD_SIZE={size} is set but RANK is not, so this process's place among the {size} is unknown; "
               "start the processes with torchrun (which sets both), set RANK too, or unset WORLD_SIZE")
        raise ParameterError(msg)
    if size < 1 or not 0 <= rank < size:
        msg = f"RANK={rank} and WORLD_SIZE={size} are inconsistent; need 0 <= RANK < WORLD_SIZE"
        raise ParameterError(msg)
    return rank, size


def share_rmm_pool_with_torch(pool_size: int | str | None = None, *, managed_memory: bool = False) -> Any:
    """Make PyTorch allocate GPU memory from RMM's pool in this process, the one cuDF and CuPy use.

    Without it cuDF's RMM pool and PyTorch's caching allocator each reserve memory the other
    cannot use; with it, freed cuDF buffers become room for activations and the other way round.
    Call it once, at the start of the process, **before PyTorch allocates anything on the GPU**
    (PyTorch cannot switch allocators afterwards). On Dask workers use
    ``gp.distributed.cluster(kind="cuda", torch_rmm=True)`` instead.

    Parameters
    ----------
    pool_size : int or str, optional
        Initial size of the pool (bytes, or ``"20GB"``); RMM's default (half the free memory)
        when omitted.
    managed_memory : bool, default False
        Back the pool with CUDA managed memory (oversubscription, slower).

    Returns
    -------
    rmm.allocators.torch.rmm_torch_allocator
        The allocator now in use.

    Raises
    ------
    BackendUnavailableError
        RMM is not installed, or no CUDA device is usable.
    GpupipeError
        PyTorch has already allocated on the GPU in this process.

    Examples
    --------
    >>> import gpupipe as gp
    >>> gp.distributed.share_rmm_pool_with_torch("8GB")  # doctest: +SKIP
    """
    import torch

    if not torch.cuda.is_available():
        msg = ("share_rmm_pool_with_torch needs a CUDA device and a CUDA build of PyTorch; torch.cuda.is_available() "
               "is False here. Leave it out on CPU machines")
        raise BackendUnavailableError(msg)
    try:
        import rmm
        from rmm.allocators.torch import rmm_torch_allocator
    except ImportError as exc:
        msg = "share_rmm_pool_with_torch needs RMM (it comes with cuDF: pip install 'gpupipe[gpu]')"
        raise BackendUnavailableError(msg) from exc
    if rmm_torch_allocator is None:
        msg = "RMM's PyTorch allocator is unavailable: this RMM build found no CUDA-enabled PyTorch"
        raise BackendUnavailableError(msg)
    if _SHARED:
        return rmm_torch_allocator  # already in place: reinitialising would free the pool under live tensors
    if torch.cuda.is_initialized():
        # Checked before touching RMM: once rmm.reinitialize has run, a refused allocator swap would leave
        # RMM's pool replaced under memory that is still in use.
        msg = ("PyTorch has already initialised CUDA in this process, so its allocator cannot be replaced; call "
               "gp.distributed.share_rmm_pool_with_torch() first thing, before any tensor or model goes to the GPU")
        raise GpupipeError(msg)
    # rmm.reinitialize first, then torch's allocator, before torch allocates (the order dask-cuda's RMMSetup uses).
    # RMM parses a size string itself ("8GB", "512MiB": rmm/pylibrmm/helper.pyx parse_bytes), so nothing here
    # needs Dask, which a single-GPU process may not have.
    rmm.reinitialize(pool_allocator=True, initial_pool_size=pool_size, managed_memory=managed_memory)
    try:
        torch.cuda.memory.change_current_allocator(rmm_torch_allocator)
    except RuntimeError as exc:
        msg = (f"PyTorch's allocator could not be replaced ({exc}); call gp.distributed.share_rmm_pool_with_torch() "
               f"first thing, before any tensor goes to the GPU")
        raise GpupipeError(msg) from exc
    _SHARED.append(True)
    return rmm_torch_allocator


_SHARED: list[bool] = []  # set once this process's PyTorch allocates from RMM's pool
