"""One rank of test_dist_ddp.py: shard a frame with gp.Loader, train one DDP step with gp.train (gloo, CPU).

Started by the test with torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT);
writes the row ids it was given and its weights after the step to OUT/rank<r>.pt.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(data: str, out: str, batch_size: int) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import gpupipe as gp
    from gpupipe.schema import Schema

    dist.init_process_group("gloo")  # env:// from RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
    try:
        rank, world_size = gp.distributed.world()
        frame = gp.read_parquet(data)
        schema = Schema.from_dict(json.loads(Path(out, "schema.json").read_text()))
        loader = gp.Loader(frame, batch_size=batch_size, shuffle=True, seed=7, schema=schema,
                           rank=rank, world_size=world_size)
        loader.set_epoch(0)
        rows = torch.cat([b.cont[:, 0] for b in loader]).to(torch.int64)  # column 0 is the row id
        model = gp.models.TabularMLP.from_schema(schema, hidden=(8,), task="regression")
        model.load_state_dict(torch.load(f"{out}/init.pt", weights_only=True))
        ddp = DistributedDataParallel(model)
        # gp.train calls loader.set_epoch(0) itself: it trains on exactly the rows recorded above.
        gp.train(ddp, loader, epochs=1, lr=0.05, progress=False)
        torch.save({"rank": rank, "world_size": world_size, "rows": rows, "state": model.state_dict(),
                    "steps": len(loader)}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    # torch 2.13's gloo worker threads free a finished collective a moment after the rank waiting on it moved on. The
    # all-reduces DDP starts in backward hold the autograd context (torch/autograd/graph.py, _engine_run_backward), whose
    # release needs the GIL: freed once Python has begun finalizing, it aborts the process ("terminate called without an
    # active exception", exit -6) with all work done: 1 run in 30 of this test on the 2-core build machine, 3 in 30 of the
    # validation test, a barrier before destroy_process_group or not. Everything is written: leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
