"""Data-parallel training with torchrun: every process reads its own shard, DDP averages the gradients.

Usage (one machine, two processes; on GPUs each process takes the GPU of its LOCAL_RANK)::

    torchrun --nproc_per_node=2 scripts/ddp_train.py --rows 200000 --epochs 2
    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --nproc_per_node=8 scripts/ddp_train.py   # many machines

What each process does:

1. ``torch.distributed.init_process_group`` (NCCL on GPUs, gloo on CPUs) from torchrun's environment.
2. Rank 0 fits the Workflow and saves it; the others wait, then load it, so every rank encodes
   the data identically. (With a prepared dataset on shared storage, fit once beforehand.)
3. ``gp.Loader(..., rank=rank, world_size=world_size)`` gives each rank a disjoint shard, the
   same number of batches on every rank (DistributedSampler's padding), and a new shuffle per
   epoch (``gp.train`` calls ``loader.set_epoch``).
4. The model is wrapped in ``DistributedDataParallel``; ``gp.train`` trains it and writes
   checkpoints from rank 0 only.
5. Validation runs on rank 0 on the unwrapped model (``ddp.module``), so no collective waits on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of synthetic Criteo data")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "gpupipe-ddp"))
    args = parser.parse_args()

    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import gpupipe as gp
    from gpupipe import ops

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world_size = gp.distributed.world()
    if cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    else:
        device = "cpu"
    workdir = Path(args.workdir)
    try:
        # The same synthetic data on every rank (same seed); real jobs read shared files instead.
        data = gp.datasets.criteo(args.rows, seed=0)
        counts, ids = [f"I{i}" for i in range(1, 14)], [f"C{j}" for j in range(1, 27)]
        n_val = args.rows // 10
        train, val = data.iloc[n_val:].reset_index(drop=True), data.iloc[:n_val].reset_index(drop=True)

        if rank == 0:
            wf = gp.Workflow(counts >> ops.FillMissing(fill_value=0) >> ops.Clip(lower=0) >> ops.LogOp() >> ops.Normalize(),
                             ids >> ops.Categorify(freq_threshold=5), label="label")
            wf.fit(train)
            wf.save(workdir / "workflow")
        dist.barrier()  # the others wait for rank 0's fitted workflow
        wf = gp.Workflow.load(workdir / "workflow")

        loader = gp.Loader(wf.transform(train), batch_size=args.batch_size, shuffle=True, seed=0,
                           schema=wf.output_schema, device=device, rank=rank, world_size=world_size)
        torch.manual_seed(0)  # DDP broadcasts rank 0's initial weights anyway; this keeps runs reproducible
        model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(256, 128)).to(device)
        ddp = DistributedDataParallel(model, device_ids=[local_rank] if cuda else None)
        result = gp.train(ddp, loader, epochs=args.epochs, lr=args.lr, progress=rank == 0,
                          checkpoint=workdir / "checkpoint")
        if rank == 0:
            val_loader = gp.Loader(wf.transform(val), batch_size=args.batch_size, shuffle=False,
                                   schema=wf.output_schema, device=device)
            metrics = gp.evaluate(ddp.module, val_loader)
            print(f"world_size={world_size} device={device} rows/rank/epoch={result.history[-1]['rows']} "
                  f"train_loss={result.train_loss:.4f} val_auc={metrics['auc']:.4f} "
                  f"checkpoint={workdir / 'checkpoint'}")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
    # torch 2.13's gloo threads can abort a process that finalizes right after DDP's last all-reduce ("terminate
    # called without an active exception", after all its work; docs/distributed.md): torchrun would report it failed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
