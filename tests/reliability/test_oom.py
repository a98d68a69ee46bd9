"""Out-of-memory errors become gp.OutOfMemoryError with advice where gpupipe allocates in bulk.

The CPU tests raise the exceptions torch, cuDF/RMM and CuPy raise (``torch.OutOfMemoryError``, a
``RuntimeError``; ``MemoryError``) at each place; the gpu-marked ones exhaust a real device.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import gpupipe as gp
from gpupipe.errors import OutOfMemoryError, SchemaError, oom_advice


def _frame(n: int = 64) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n).astype("float32"), "z": rng.normal(size=n).astype("float32"),
                         "c": rng.integers(0, 4, n), "y": rng.integers(0, 2, n).astype("float32")})


def _schema(df):
    return gp.Schema.infer(df, label="y", cat=["c"])


@pytest.mark.parametrize("exc", [MemoryError("std::bad_alloc: out_of_memory: CUDA error"),
                                 torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")],
                         ids=["MemoryError", "torch.OutOfMemoryError"])
def test_oom_advice_converts_both_kinds_and_keeps_them_catchable(exc):
    with pytest.raises(OutOfMemoryError) as info, oom_advice("reading big.parquet with cuDF", "read"):
        raise exc
    text = str(info.value)
    assert "big.parquet" in text and "partition_rows" in text and "spill" in text
    assert "gp.distributed.cluster()" in text
    assert info.value.__cause__ is exc
    assert isinstance(info.value, MemoryError) and isinstance(info.value, RuntimeError)  # old handlers still work


def test_oom_advice_leaves_other_errors_alone():
    with pytest.raises(SchemaError), oom_advice("x", "train"):
        raise SchemaError("not memory")
    with pytest.raises(ValueError), oom_advice("x", "train"):
        raise ValueError("not memory")


def test_an_oom_in_the_training_step_advises_a_smaller_batch():
    df = _frame()

    class Hungry(gp.models.TabularMLP):
        def forward(self, cont, cat):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40.00 GiB")

    model = Hungry.from_schema(_schema(df), hidden=(4,))
    loader = gp.Loader(df, batch_size=32, schema=_schema(df))
    with pytest.raises(OutOfMemoryError, match="batch_size") as info:
        gp.train(model, loader, progress=False)
    assert "training step" in str(info.value) and "32 rows" in str(info.value)


def test_an_oom_turning_a_frame_into_tensors_advises_partitions(monkeypatch):
    import gpupipe.tensors.convert as conv

    def hungry(*a, **kw):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(conv, "_to_tensors", hungry)
    df = _frame()
    with pytest.raises(OutOfMemoryError, match="partition_rows") as info:
        gp.to_tensors(df, _schema(df))
    assert "64 rows" in str(info.value)
    with pytest.raises(OutOfMemoryError):
        gp.Loader(df, schema=_schema(df))


def test_an_oom_staging_loader_batches_is_converted(monkeypatch):
    import gpupipe.tensors.loader as loader_mod

    def hungry(*a, **kw):
        raise MemoryError("out of memory")

    monkeypatch.setattr(loader_mod, "_stack", hungry)  # matrices (sequential batches, devices)
    monkeypatch.setattr(loader_mod, "_huge_page_array", hungry)  # CPU row records (shuffled batches)
    df = _frame()
    for shuffle in (True, False):
        with pytest.raises(OutOfMemoryError, match="staging 64 rows"):
            gp.Loader(df, schema=_schema(df), shuffle=shuffle)


def test_an_oom_uploading_a_table_is_converted(monkeypatch):
    import gpupipe.tensors.convert as conv

    def hungry(self, *a, **kw):
        raise torch.OutOfMemoryError("CUDA out of memory")

    df = _frame()
    tt = gp.to_tensors(df, _schema(df))
    monkeypatch.setattr(torch.Tensor, "is_pinned", lambda self: True)  # no real pinning on a CPU-only build
    monkeypatch.setattr(torch.Tensor, "to", hungry)
    with pytest.raises(OutOfMemoryError, match="uploading column"):
        conv._upload(tt["x"], torch.device("cuda"), "x")


@pytest.mark.gpu
def test_a_cudf_read_out_of_memory_is_converted(tmp_path, monkeypatch):
    cudf = pytest.importorskip("cudf")
    gp.write_parquet(_frame(), tmp_path / "f.parquet")

    def hungry(*a, **kw):
        raise MemoryError("std::bad_alloc: out_of_memory: RMM failure")

    monkeypatch.setattr(cudf, "read_parquet", hungry)
    with gp.use_backend("cudf"), pytest.raises(OutOfMemoryError, match="partition_rows"):
        gp.read_parquet(tmp_path / "f.parquet")


@pytest.mark.gpu
def test_a_real_device_out_of_memory_in_hybrid_upload_carries_advice():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(64 * 2**20 / total)  # allow ~64 MiB
    try:
        n = 64 * 2**20 // 4 * 2  # two 128 MiB float32 columns: more than allowed
        df = pd.DataFrame({"x": np.ones(n, dtype="float32"), "z": np.ones(n, dtype="float32"),
                           "y": np.zeros(n, dtype="float32")})
        with pytest.raises(OutOfMemoryError) as info:
            gp.Loader(df, schema=gp.Schema.infer(df, label="y"), device="cuda", batch_size=4096)
        assert "partition_rows" in str(info.value) and "cuda" in str(info.value)
        assert isinstance(info.value.__cause__, torch.OutOfMemoryError)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


@pytest.fixture
def rmm_limited():
    """RMM's current device resource capped at 1 MiB for the test (cuDF allocates through it), then restored:
    allocations beyond the cap fail with the MemoryError a full device gives (std::bad_alloc: out_of_memory)."""
    from helpers import require_cudf

    require_cudf()
    import rmm.mr

    previous = rmm.mr.get_current_device_resource()
    rmm.mr.set_current_device_resource(rmm.mr.LimitingResourceAdaptor(previous, allocation_limit=1 << 20))
    try:
        yield
    finally:
        rmm.mr.set_current_device_resource(previous)


@pytest.mark.gpu
@pytest.mark.parametrize("reader", ["read_parquet", "read_csv"])
def test_a_real_rmm_out_of_memory_in_a_cudf_read_is_out_of_memory_not_a_damaged_file(reader, tmp_path, request):
    n = 1 << 20  # 8 MiB per float64 column: far over the 1 MiB cap
    df = pd.DataFrame({"x": np.arange(n, dtype="float64"), "z": np.ones(n)})
    path = tmp_path / ("big.parquet" if reader == "read_parquet" else "big.csv")
    with gp.use_backend("pandas"):
        if reader == "read_parquet":
            gp.write_parquet(df, path)
        else:
            df.to_csv(path, index=False)
    request.getfixturevalue("rmm_limited")
    with gp.use_backend("cudf"), pytest.raises(OutOfMemoryError) as info:
        getattr(gp, reader)(path)
    assert not isinstance(info.value, gp.DataError)  # not "the file may be truncated"
    assert "big." in str(info.value) and "partition_rows" in str(info.value)
    assert isinstance(info.value.__cause__, MemoryError)  # what RMM raised, kept as the cause


def test_the_records_mmap_failing_for_want_of_memory_is_a_memory_error(monkeypatch):
    import errno
    import mmap

    import gpupipe.tensors.loader as loader_mod

    def no_memory(*a, **kw):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(mmap, "mmap", no_memory)
    with pytest.raises(MemoryError, match="row records"):
        loader_mod._huge_page_array(1 << 20, 16)  # 64 MiB: the mmap path
    with pytest.raises(OutOfMemoryError, match="staging"), oom_advice("staging rows for the loader", "tensors"):
        loader_mod._huge_page_array(1 << 20, 16)
