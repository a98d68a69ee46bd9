"""GPU paths: CuPy/cuDF → torch zero-copy, hybrid mode uploads, Loader on CUDA, and the CUDA transfer audit.

All marked ``gpu``: skipped (with the reason) where no CUDA device is usable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import gpupipe as gp
from gpupipe.schema import ColumnSchema, Schema

pytestmark = pytest.mark.gpu

SCHEMA = Schema([ColumnSchema("a", "cont", "float32"), ColumnSchema("b", "cont", "float32"),
                 ColumnSchema("c", "cat", "int64", 100), ColumnSchema("y", "label", "float32")])


def _frame(n=10_000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.random(n, dtype=np.float32), "b": np.arange(n, dtype=np.float32),
                         "c": rng.integers(0, 100, n), "y": (rng.random(n) < 0.3).astype(np.float32)})


def test_cupy_to_torch_is_zero_copy():
    cupy = pytest.importorskip("cupy")
    x = cupy.arange(1000, dtype=cupy.float32)
    t = torch.from_dlpack(x)
    assert t.device.type == "cuda" and t.data_ptr() == x.data.ptr
    t[0] = 42.0
    torch.cuda.synchronize()
    assert float(x[0]) == 42.0  # same memory


def test_cudf_columns_share_device_memory():
    cudf = pytest.importorskip("cudf")
    import cupy

    df = cudf.DataFrame({"a": np.arange(100, dtype=np.float32), "c": np.arange(100) % 7,
                         "y": np.zeros(100, dtype=np.float32)})
    schema = Schema([ColumnSchema("a", "cont", "float32"), ColumnSchema("c", "cat", "int64", 7),
                     ColumnSchema("y", "label", "float32")])
    with gp.audit.transfers() as report:
        tt = gp.to_tensors(df, schema=schema)
    assert tt.copies == {} and tt.device.type == "cuda"
    for name in ("a", "c", "y"):
        assert tt[name].data_ptr() == cupy.asarray(df[name]).data.ptr
    assert sorted(report.shared) == ["a", "c", "y"]
    assert report.h2d_bytes == 0


def test_hybrid_mode_uploads_each_column_once_and_an_epoch_reads_nothing_back():
    df = _frame()
    host = gp.to_tensors(df, schema=SCHEMA)  # warm-up: CUDA context, pinned allocator
    gp.to_tensors(df, schema=SCHEMA, device="cuda")
    torch.cuda.synchronize()
    with gp.audit.transfers() as up:
        tt = gp.to_tensors(df, schema=SCHEMA, device="cuda")
    assert up.method == "profiler", up.profiler_error
    assert tt.device.type == "cuda"
    assert up.h2d_count == len(SCHEMA) == len(up.uploads)
    assert up.h2d_bytes == sum(host[c].numel() * host[c].element_size() for c in SCHEMA.names)
    assert up.d2h_bytes == 0
    loader = gp.Loader(tt, batch_size=1024, seed=0)
    list(loader)  # warm-up
    with gp.audit.transfers() as epoch:
        batches = list(loader)
        torch.cuda.synchronize()
    assert epoch.d2h_count == 0 and epoch.d2h_bytes == 0
    assert epoch.h2d_count <= 1  # at most the epoch's index order
    assert epoch.h2d_bytes <= 4 * len(df)
    assert all(b.cont.device.type == "cuda" for b in batches)


def test_loader_on_cuda_gives_the_same_batches_as_on_cpu():
    df = _frame(5000)
    cpu = gp.Loader(df, batch_size=512, seed=3, schema=SCHEMA)
    gpu = gp.Loader(df, batch_size=512, seed=3, schema=SCHEMA, device="cuda")
    assert gpu.device.type == "cuda" and len(cpu) == len(gpu)
    for a, b in zip(cpu, gpu, strict=True):
        assert b.cont.is_cuda and b.cat.is_cuda and b.label.is_cuda
        torch.testing.assert_close(b.cont.cpu(), a.cont)
        torch.testing.assert_close(b.cat.cpu(), a.cat)
        torch.testing.assert_close(b.label.cpu(), a.label)


def test_table_to_cuda_and_shards_on_cuda():
    df = _frame(1000)
    tt = gp.to_tensors(df, schema=SCHEMA).to("cuda")
    assert tt.device.type == "cuda"
    ids = []
    for r in range(2):
        for b in gp.Loader(tt, batch_size=100, rank=r, world_size=2, shuffle=True):
            ids.extend(b.cont[:, 1].long().cpu().tolist())
    assert sorted(ids) == list(range(1000))
