"""Scale out: Dask clusters for data preparation, torch.distributed for training.

* :func:`cluster` opens a Dask cluster (dask-cuda's ``LocalCUDACluster`` on the cudf backend, a
  ``LocalCluster`` of processes on pandas) or connects to an existing scheduler, and yields its
  ``distributed.Client``. While it is open, ``Workflow.fit``/``transform`` on a ``gp.Dataset``,
  ``Dataset.to_parquet`` and everything else computed through Dask run on its workers (the
  client is Dask's default client).
* :func:`world` reads this process's ``(rank, world_size)`` for ``gp.Loader`` sharding under
  ``torchrun``.
* :func:`share_rmm_pool_with_torch` makes PyTorch allocate from RMM's pool, so cuDF and PyTorch
  share one pool of GPU memory instead of fighting over two.

See ``docs/distributed.md`` for the walk-through (larger-than-memory data, torchrun, faults).
"""

from __future__ import annotations

from ._cluster import cluster
from ._torch import share_rmm_pool_with_torch, world

__all__ = ["cluster", "share_rmm_pool_with_torch", "world"]
