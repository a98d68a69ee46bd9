"""Multi-process training: two gloo ranks on the CPU, sharded by gp.Loader, trained with gp.train + DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DistributedSampler

import gpupipe as gp
from gpupipe.schema import ColumnSchema, Schema

pytestmark = pytest.mark.distributed

CHILD = Path(__file__).with_name("_ddp_child.py")
WORLD = 2
ROWS = 90  # not a multiple of the world size: the last rank's share is padded, as DistributedSampler does
SCHEMA = Schema([
    ColumnSchema("rid", "cont", "float32"),
    ColumnSchema("x", "cont", "float32"),
    ColumnSchema("c", "cat", "int64", 12),
    ColumnSchema("y", "label", "float32"),
])


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=ROWS).astype(np.float32)
    c = rng.integers(0, 12, ROWS)
    return pd.DataFrame({"rid": np.arange(ROWS, dtype=np.float32), "x": x, "c": c,
                         "y": (2 * x + (c % 3) + rng.normal(0, 0.1, ROWS)).astype(np.float32)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_ranks(args: list[str], port: int, child: Path = CHILD) -> list[str]:
    """Start WORLD ranks of `child` (given `args`) on `port`; the stderr of each one that failed."""
    procs = []
    for rank in range(WORLD):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(WORLD), "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, str(child), *args],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    errors = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        if p.returncode != 0:
            errors.append(err)
    return errors


@pytest.mark.slow
def test_two_gloo_ranks_get_disjoint_shards_and_identical_weights(tmp_path: Path) -> None:
    frame = _frame()
    data = tmp_path / "data.parquet"
    frame.to_parquet(data)
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA.to_dict()))
    torch.manual_seed(0)
    init = gp.models.TabularMLP.from_schema(SCHEMA, hidden=(8,), task="regression")
    torch.save(init.state_dict(), tmp_path / "init.pt")
    batch_size = 45  # one batch (one optimizer step) per rank

    # The port is free when picked but another process on the machine may take it before rank 0
    # binds it: that (and only that) is retried with a new port.
    for _attempt in range(3):
        errors = _run_ranks([str(data), str(tmp_path), str(batch_size)], _free_port())
        if not any("address already in use" in e.lower() for e in errors):
            break
    assert not errors, "\n".join(e[-3000:] for e in errors)
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]

    # Shards: exactly torch's DistributedSampler's indices for (seed, epoch 0), disjoint, covering every row.
    shards = []
    for r, res in enumerate(results):
        assert (res["rank"], res["world_size"]) == (r, WORLD)  # gp.distributed.world() under torch.distributed
        sampler = DistributedSampler(range(ROWS), num_replicas=WORLD, rank=r, shuffle=True, seed=7)
        sampler.set_epoch(0)
        assert res["rows"].tolist() == list(sampler)
        shards.append(res["rows"].tolist())
    padding = WORLD * -(-ROWS // WORLD) - ROWS
    assert len(set(shards[0]) & set(shards[1])) == padding  # only DistributedSampler's padding repeats
    assert set(shards[0]) | set(shards[1]) == set(range(ROWS))
    assert results[0]["steps"] == results[1]["steps"] == 1

    # Weights: identical on both ranks after the step, and moved from the initial ones.
    s0, s1 = results[0]["state"], results[1]["state"]
    for k in s0:
        assert torch.equal(s0[k], s1[k]), k
    assert any(not torch.equal(s0[k], v) for k, v in init.state_dict().items())

    # And equal to one single-process step on both shards' rows together: DDP averages the ranks'
    # gradients, which for equal-sized batches is the gradient of the mean loss over their union.
    union = frame.iloc[shards[0] + shards[1]].reset_index(drop=True)
    ref = gp.models.TabularMLP.from_schema(SCHEMA, hidden=(8,), task="regression")
    ref.load_state_dict(init.state_dict())
    loader = gp.Loader(union, batch_size=len(union), shuffle=False, schema=SCHEMA)
    gp.train(ref, loader, epochs=1, lr=0.05, progress=False)
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(s0[k], v, rtol=1e-5, atol=1e-6, msg=k)


@pytest.mark.slow
def test_ranks_validating_on_their_own_shards_stop_together(tmp_path: Path) -> None:
    """Early stopping under DDP follows rank 0's metric on every rank: each rank decided on its own validation
    shard, so a rank whose metric stopped improving left training while the others waited in the next all-reduce
    (here: rank 1 stopped after epoch 2, and rank 0's next step failed with gloo's "Connection closed by peer")."""
    data = tmp_path / "data.parquet"
    _frame().to_parquet(data)
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA.to_dict()))
    child = Path(__file__).with_name("_ddp_val_child.py")
    for _attempt in range(3):  # a port taken meanwhile by another process is retried, as above
        errors = _run_ranks([str(data), str(tmp_path)], _free_port(), child)
        if not any("address already in use" in e.lower() for e in errors):
            break
    assert not errors, "\n".join(e[-3000:] for e in errors)
    got = [json.loads((tmp_path / f"val-rank{r}.json").read_text()) for r in range(WORLD)]
    # rank 0's RMSE falls every epoch: every rank trains all 4 epochs, and each keeps epoch 4 as its best
    assert got == [{"epochs": 4, "best_epoch": 4, "stopped": False}] * WORLD
