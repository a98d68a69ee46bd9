#!/usr/bin/env python
"""Loader throughput: gp.Loader against torch's DataLoader and the ways a shuffled batch can be gathered.

Data: ``--rows`` rows x (13 float32 + 26 int64 + a float32 label), batch ``--batch``, shuffled.
Every option runs one epoch per round and rounds interleave the options, so the machine's load
drifts over all of them alike; each figure is the median over ``--repeats`` rounds, and ratios
are taken between medians of the same run.

Options measured (rows/s):

``dataloader``          torch DataLoader(TensorDataset, shuffle=True), per-row __getitem__ + collate
                        (measured on at most ``--baseline-rows`` rows: it is ~50x slower)
``per_column``          one index_select per column, then stack into [B, C] / [B, K]
``take``                torch.take on the flat row-major matrices (index arithmetic per batch)
``row_major``           index_select of rows of [N, 13] and [N, 26] matrices staged once
``row_major_out``       the same into preallocated batch buffers (index_select(out=))
``block_shuffle``       shuffled order of contiguous blocks of batch size: views, no gather (weaker shuffle)
``copy_bound``          contiguous copies of the same bytes (clone of consecutive slices): the memory bound
``gp_loader``           gp.Loader end to end (what users get)

Usage::

    python scripts/bench_loader.py --rows 2000000 --repeats 5 --out bench-results/loader
    python scripts/bench_loader.py --device cuda --rows 20000000 --batch 65536   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

N_CONT, N_CAT = 13, 26


def make_frame(rows: int, seed: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {f"I{i + 1}": rng.standard_normal(rows, dtype=np.float32) for i in range(N_CONT)}
    cols.update({f"C{j + 1}": rng.integers(0, 100_000, rows) for j in range(N_CAT)})
    cols["label"] = (rng.random(rows) < 0.25).astype(np.float32)
    return pd.DataFrame(cols)


def schema_for(frame: Any) -> Any:
    from gpupipe.schema import ColumnSchema, Schema

    cols = [ColumnSchema(c, "cont", "float32") for c in frame.columns if c.startswith("I")]
    cols += [ColumnSchema(c, "cat", "int64", 100_000) for c in frame.columns if c.startswith("C")]
    return Schema([*cols, ColumnSchema("label", "label", "float32")])


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_options(frame: Any, batch: int, device: Any, baseline_rows: int) -> dict[str, tuple[Callable[[], None], int]]:
    """name -> (one epoch, rows it covers)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import gpupipe as gp

    schema = schema_for(frame)
    tt = gp.to_tensors(frame, schema=schema, device=device)
    n = tt.num_rows
    cont_cols = [tt[c] for c in schema.cont]
    cat_cols = [tt[c] for c in schema.cat]
    label = tt["label"]
    cont = torch.stack(cont_cols, 1)
    cat = torch.stack(cat_cols, 1)
    gen = torch.Generator().manual_seed(0)

    def perm() -> torch.Tensor:
        return torch.randperm(n, generator=gen).to(device)

    def per_column() -> None:
        order = perm()
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            torch.stack([c.index_select(0, idx) for c in cont_cols], 1)
            torch.stack([c.index_select(0, idx) for c in cat_cols], 1)
            label.index_select(0, idx)

    cont_off = torch.arange(N_CONT, device=device)
    cat_off = torch.arange(N_CAT, device=device)

    def take() -> None:
        order = perm()
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            torch.take(cont, (idx[:, None] * N_CONT + cont_off).reshape(-1)).view(-1, N_CONT)
            torch.take(cat, (idx[:, None] * N_CAT + cat_off).reshape(-1)).view(-1, N_CAT)
            label.index_select(0, idx)

    def row_major() -> None:
        order = perm()
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            cont.index_select(0, idx)
            cat.index_select(0, idx)
            label.index_select(0, idx)

    bufs = (torch.empty(batch, N_CONT, device=device), torch.empty(batch, N_CAT, dtype=torch.int64, device=device),
            torch.empty(batch, device=device))

    def row_major_out() -> None:
        order = perm()
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            k = int(idx.shape[0])
            torch.index_select(cont, 0, idx, out=bufs[0][:k] if k < batch else bufs[0])
            torch.index_select(cat, 0, idx, out=bufs[1][:k] if k < batch else bufs[1])
            torch.index_select(label, 0, idx, out=bufs[2][:k] if k < batch else bufs[2])

    def block_shuffle() -> None:
        blocks = torch.randperm(math.ceil(n / batch), generator=gen).tolist()
        for b in blocks:
            s = b * batch
            cont[s:s + batch], cat[s:s + batch], label[s:s + batch]  # views: no gather is the point

    def copy_bound() -> None:
        for s in range(0, n, batch):
            cont[s:s + batch].clone()
            cat[s:s + batch].clone()
            label[s:s + batch].clone()

    loader = gp.Loader(tt, batch_size=batch, shuffle=True, seed=0)

    def gp_loader() -> None:
        for _ in loader:
            pass

    options: dict[str, tuple[Callable[[], None], int]] = {}
    if device.type == "cpu" and baseline_rows > 0:
        m = min(n, baseline_rows)
        ds = TensorDataset(cont[:m], cat[:m], label[:m])
        dl = DataLoader(ds, batch_size=batch, shuffle=True)

        def dataloader() -> None:
            for _ in dl:
                pass

        options["dataloader"] = (dataloader, m)
    options.update({
        "per_column": (per_column, n), "take": (take, n), "row_major": (row_major, n),
        "row_major_out": (row_major_out, n), "block_shuffle": (block_shuffle, n), "copy_bound": (copy_bound, n),
        "gp_loader": (gp_loader, n),
    })
    return options


def run(rows: int = 2_000_000, batch: int = 4096, repeats: int = 5, device: str = "cpu",
        baseline_rows: int = 200_000, threads: int | None = None, only: list[str] | None = None) -> dict[str, Any]:
    """Measure every option; return figures (rows/s medians, ratios) as a dict."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    frame = make_frame(rows)
    options = build_options(frame, batch, dev, baseline_rows)
    if only:
        options = {k: v for k, v in options.items() if k in only}
    times: dict[str, list[float]] = {k: [] for k in options}
    for fn, _ in options.values():  # warm-up: allocator, CUDA kernels, page faults of the staged copies
        fn()
    _sync(dev)
    for _ in range(repeats):
        for name, (fn, _) in options.items():
            _sync(dev)
            t0 = time.perf_counter()
            fn()
            _sync(dev)
            times[name].append(time.perf_counter() - t0)
    rates = {name: options[name][1] / statistics.median(ts) for name, ts in times.items()}
    result: dict[str, Any] = {
        "rows": rows, "batch": batch, "repeats": repeats, "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "rows_per_s": {k: round(v) for k, v in rates.items()},
        "spread": {k: [round(options[k][1] / t) for t in sorted(ts)] for k, ts in times.items()},
    }
    if "gp_loader" in rates:
        ratios = {f"gp_loader/{k}": round(rates["gp_loader"] / v, 3) for k, v in rates.items() if k != "gp_loader"}
        result["ratios"] = ratios
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Loader benchmark: {result['rows']:,} rows x ({N_CONT} float32 + {N_CAT} int64), batch "
             f"{result['batch']}, shuffled, on {result['device']} ({result['device_name']}, "
             f"{result['cpu_count']} cores, torch {result['torch']}, {result['torch_threads']} threads); "
             f"median of {result['repeats']} epochs", "", "| option | rows/s |", "|---|---:|"]
    lines += [f"| {k} | {v / 1e6:.2f} M |" for k, v in result["rows_per_s"].items()]
    if result.get("ratios"):
        lines += ["", "| ratio | value |", "|---|---:|"]
        lines += [f"| {k} | {v:.2f}x |" for k, v in result["ratios"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--baseline-rows", type=int, default=200_000)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--only", default=None, help="comma-separated option names")
    p.add_argument("--out", type=Path, default=None, help="directory for loader.json and loader.md")
    a = p.parse_args(argv)
    result = run(a.rows, a.batch, a.repeats, a.device, a.baseline_rows, a.threads,
                 a.only.split(",") if a.only else None)
    text = markdown(result)
    print(text)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "loader.json").write_text(json.dumps(result, indent=2))
        (a.out / "loader.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
