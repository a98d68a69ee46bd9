"""gp.distributed.cluster(): the right cluster for the backend, used by Workflow/Dataset while open, closed after."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import BackendUnavailableError, ParameterError

pytestmark = pytest.mark.distributed


def _frame(n: int = 6_000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    x = rng.normal(5, 2, n)
    x[rng.random(n) < 0.1] = np.nan
    c = pd.array(rng.integers(0, 40, n), dtype="Int64")
    c[rng.random(n) < 0.05] = pd.NA
    return pd.DataFrame({"x": x, "c": c, "y": rng.integers(0, 2, n).astype("float64")})


def _workflow() -> gp.Workflow:
    return gp.Workflow(["x"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
                       ["c"] >> ops.Categorify(freq_threshold=3), label="y")


@pytest.mark.slow
def test_workflow_fit_and_transform_run_on_the_clusters_workers(tmp_path) -> None:
    from distributed import get_client, get_task_stream

    df = _frame()
    with gp.use_backend("pandas"):
        reference = _workflow().fit(df)  # in memory, no Dask
        ds = gp.Dataset(df, partition_rows=500)
        with gp.distributed.cluster(kind="cpu", n_workers=2) as client:
            assert get_client() is client  # Dask's default client while the block runs
            workers = set(client.scheduler_info()["workers"])
            pids = set(client.run(os.getpid).values())
            assert len(workers) == 2 and os.getpid() not in pids  # separate worker processes
            wf = _workflow()
            with get_task_stream(client) as fit_stream:
                wf.fit(ds)
            with get_task_stream(client) as write_stream:
                wf.transform(ds).to_parquet(tmp_path / "out")
        assert client.status == "closed"
        assert client.cluster is None or client.cluster.status.name == "closed"

    # every partition's fit task and write task ran on the cluster's workers
    for stream in (fit_stream, write_stream):
        used = {t["worker"] for t in stream.data}
        assert len(stream.data) >= ds.num_partitions
        assert used and used <= workers
    # the cluster's fit is the in-memory fit
    with gp.use_backend("pandas"):
        pdt.assert_frame_equal(wf.transform(df), reference.transform(df))
        written = gp.Dataset(tmp_path / "out").to_frame()
    # (gpupipe's readers give integer columns back as nullable Int64)
    pdt.assert_frame_equal(written, reference.transform(df), check_dtype=False)


@pytest.mark.slow
def test_address_joins_a_running_scheduler_and_leaves_it_running() -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as external:
        with gp.distributed.cluster(address=external.scheduler_address) as client:
            assert client.scheduler.address == external.scheduler_address
            assert client.submit(sum, [1, 2, 3]).result() == 6
        assert client.status == "closed"
        with Client(external) as again:  # the scheduler was not shut down by the block
            assert again.submit(sum, [4, 5]).result() == 9


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"kind": "gpu"}, r"gp\.distributed\.cluster: kind must be one of 'auto', 'cuda', 'cpu'"),
    ({"kind": "cpu", "address": "tcp://127.0.0.1:8786"}, "not both"),
    ({"n_workers": 0}, "n_workers must be an integer >= 1"),
    ({"threads_per_worker": 1.5}, "threads_per_worker must be an integer >= 1"),
    ({"kind": "cpu", "rmm_pool_size": "1GB"}, "a cpu cluster has none"),
    # with address, the workers are already running: these were ignored (the old code connected, and Client
    # waited for a scheduler at that address)
    ({"address": "tcp://127.0.0.1:8786", "n_workers": 4}, r"n_workers=4 would be ignored.*--nworkers"),
    ({"address": "tcp://127.0.0.1:8786", "memory_limit": "2GB", "spill": False},
     r"memory_limit='2GB', spill=False would be ignored"),
    ({"address": "tcp://127.0.0.1:8786", "torch_rmm": True}, r"torch_rmm=True would be ignored"),
])
def test_bad_arguments_are_refused_before_anything_starts(kwargs, needle) -> None:
    with pytest.raises(ValueError, match=needle), gp.distributed.cluster(**kwargs):
        pass


@pytest.mark.parametrize(("kwargs", "needle"), [
    # the old code passed these to Dask: spill/torch_rmm were read as truthy, memory_limit=True as 1 byte,
    # memory_limit=-1 failed as "Nanny failed to start" after the workers were launched
    ({"spill": "no"}, r"spill must be True or False, got 'no' \(str\)"),
    ({"spill": 1}, r"spill must be True or False, got 1 \(int\)"),
    ({"torch_rmm": "yes"}, r"torch_rmm must be True or False"),
    ({"memory_limit": True}, r"memory_limit must be None, 'auto', a positive integer of bytes.*got True \(bool\)"),
    ({"memory_limit": -1}, r"memory_limit must be .*got -1 \(int\)"),
    ({"memory_limit": 0}, r"memory_limit must be .*got 0 \(int\)"),
    ({"memory_limit": "lots"}, r"memory_limit must be .*'4GB', got 'lots' \(str\); Dask cannot read it"),
    ({"memory_limit": "-1GB"}, r"memory_limit must be .*got '-1GB'"),
    ({"memory_limit": 1.5}, r"memory_limit must be .*got 1\.5 \(float\); a float is a fraction"),
    ({"memory_limit": float("nan")}, r"memory_limit must be .*got nan"),
    ({"memory_limit": [1]}, r"memory_limit must be .*got \[1\]"),
    ({"address": 1}, r"address must be a non-empty string or None, got 1 \(int\)"),
    ({"address": ""}, r"address must be a non-empty string or None"),
    ({"n_workers": True}, r"n_workers must be an integer >= 1 or None, got True"),
    ({"threads_per_worker": "2"}, r"threads_per_worker must be an integer >= 1 or None, got '2'"),
    ({"kind": None}, r"kind must be one of"),
])
@pytest.mark.parametrize("kind", ["cpu", "cuda"])
def test_cluster_arguments_follow_the_argument_rules(monkeypatch, kwargs, needle, kind) -> None:
    import distributed

    def must_not_start(*args, **kw):
        pytest.fail(f"a cluster or client was started for a bad argument: {args} {kw}")

    monkeypatch.setattr(distributed, "LocalCluster", must_not_start)
    monkeypatch.setattr(distributed, "Client", must_not_start)
    try:
        import dask_cuda
    except ImportError:
        pass
    else:
        monkeypatch.setattr(dask_cuda, "LocalCUDACluster", must_not_start)
    kwargs = {"kind": kind, **kwargs}
    with pytest.raises(ParameterError, match=r"^gp\.distributed\.cluster: " + needle), \
            gp.distributed.cluster(**kwargs):
        pass


@pytest.mark.parametrize("memory_limit", [None, "auto", 2**30, np.int64(2**30), 0.5, np.float32(0.25), 1.0, "4GB",
                                          "512 MiB"])
def test_cluster_accepts_the_memory_limits_dask_reads(monkeypatch, memory_limit) -> None:
    import distributed

    seen = {}

    class Started(Exception):
        pass

    def fake_cluster(**kw):
        seen.update(kw)
        raise Started

    monkeypatch.setattr(distributed, "LocalCluster", fake_cluster)
    with pytest.raises(Started), gp.distributed.cluster(kind="cpu", n_workers=1, memory_limit=memory_limit):
        pass
    assert seen["memory_limit"] == ("auto" if memory_limit is None else memory_limit)


@pytest.mark.skipif(importlib.util.find_spec("dask_cuda") is not None, reason="dask-cuda is installed here")
def test_cuda_cluster_without_dask_cuda_says_what_to_install() -> None:
    with pytest.raises(BackendUnavailableError, match=r"dask-cuda.*gpupipe\[gpu\]"), gp.distributed.cluster(kind="cuda"):
        pass


def test_world_reads_torchrun_environment(monkeypatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert gp.distributed.world() == (1, 3)
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(ValueError, match="RANK=3 and WORLD_SIZE=3"):
        gp.distributed.world()
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert gp.distributed.world() == (0, 1)


def test_world_size_without_rank_is_refused(monkeypatch) -> None:
    # Every process of the job would get (0, 2) and read rank 0's shard; torch's env:// refuses it as well.
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ParameterError, match=r"WORLD_SIZE=2 is set but RANK is not.*torchrun"):
        gp.distributed.world()
    monkeypatch.setenv("WORLD_SIZE", "1")  # a one-process job: rank 0 is the only place
    assert gp.distributed.world() == (0, 1)


def test_share_rmm_pool_without_cuda_raises_backend_unavailable() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is usable here; the gpu test covers this")
    with pytest.raises(BackendUnavailableError, match="CUDA device"):
        gp.distributed.share_rmm_pool_with_torch()


@pytest.mark.gpu
@pytest.mark.slow
def test_cuda_cluster_has_one_worker_per_gpu_with_torch_on_rmm() -> None:
    pytest.importorskip("dask_cuda")
    pytest.importorskip("cudf")
    import torch

    def allocate_through_torch() -> int:
        import rmm.statistics
        import torch

        rmm.statistics.enable_statistics()
        x = torch.ones(1 << 20, device="cuda")
        used = rmm.statistics.get_statistics().current_bytes
        del x
        return used

    with gp.use_backend("cudf"), gp.distributed.cluster(kind="auto", torch_rmm=True, rmm_pool_size="1GB") as client:
        assert len(client.scheduler_info()["workers"]) == torch.cuda.device_count()
        # torch's allocation went through RMM on every worker
        assert all(v >= 4 << 20 for v in client.run(allocate_through_torch).values())


@pytest.mark.gpu
def test_share_rmm_pool_with_torch_routes_torch_allocations_through_rmm() -> None:
    pytest.importorskip("rmm")
    # A fresh process: PyTorch's allocator can only be replaced before its first GPU allocation.
    code = textwrap.dedent("""
        import rmm.mr, rmm.statistics, torch
        import gpupipe as gp
        allocator = gp.distributed.share_rmm_pool_with_torch("256MB")
        rmm.statistics.enable_statistics()
        x = torch.ones(1 << 20, device="cuda")
        assert rmm.statistics.get_statistics().current_bytes >= 4 << 20
        pool = rmm.mr.get_current_device_resource()
        # a second call changes nothing: reinitialising would free the pool under x
        assert gp.distributed.share_rmm_pool_with_torch() is allocator
        assert rmm.mr.get_current_device_resource() is pool
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


@pytest.mark.gpu
def test_share_rmm_pool_after_torch_used_cuda_refuses_before_touching_rmm() -> None:
    pytest.importorskip("rmm")
    code = textwrap.dedent("""
        import rmm.mr, torch
        import gpupipe as gp
        x = torch.ones(8, device="cuda")            # torch's own allocator is now in use
        before = rmm.mr.get_current_device_resource()
        try:
            gp.distributed.share_rmm_pool_with_torch("256MB")
        except gp.GpupipeError as exc:
            assert "first thing" in str(exc), exc
        else:
            raise AssertionError("no error")
        assert rmm.mr.get_current_device_resource() is before   # RMM was not reinitialised
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
