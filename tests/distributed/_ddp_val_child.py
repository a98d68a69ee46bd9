"""One rank of test_dist_ddp.py's early-stopping test: DDP training (gloo, CPU) with validation whose metric
differs by rank, as validation shards of their own give it.

Rank 0's validation RMSE falls every epoch, rank 1's rises: with patience 1, rank 1 alone would stop after its
second epoch. Writes the epochs each rank trained to OUT/val-rank<r>.json.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path


def main(data: str, out: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import gpupipe as gp
    import gpupipe.training.loop as loop
    from gpupipe.schema import Schema

    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=20))  # a rank left waiting fails, not hangs
    try:
        rank, world_size = gp.distributed.world()
        frame = gp.read_parquet(data)
        schema = Schema.from_dict(json.loads(Path(out, "schema.json").read_text()))
        loader = gp.Loader(frame, batch_size=16, shuffle=True, seed=7, schema=schema, rank=rank, world_size=world_size)
        val = gp.Loader(frame, batch_size=16, shuffle=False, schema=schema, rank=rank, world_size=world_size)
        calls = []

        def evaluate(model, loader, task=None):  # this rank's metric: falling on rank 0, rising on rank 1
            calls.append(1)
            n = len(calls)
            return {"rmse": float(10 - n) if rank == 0 else float(n), "mae": 0.0}

        loop.evaluate = evaluate
        model = gp.models.TabularMLP.from_schema(schema, hidden=(8,), task="regression")
        result = gp.train(DistributedDataParallel(model), loader, val=val, epochs=4, lr=0.01, progress=False,
                          early_stopping=gp.EarlyStopping(metric="rmse", patience=1))
        Path(out, f"val-rank{rank}.json").write_text(json.dumps(
            {"epochs": len(result.history), "best_epoch": result.best_epoch, "stopped": result.stopped_early}))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    # all written: leave without finalizing, which torch 2.13's gloo threads can abort (see _ddp_child.py)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
