"""Faults: a Dask worker process killed in the middle of a Workflow fit; the fit still completes, unchanged."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import gpupipe as gp
from gpupipe import ops

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _frame(n: int = 8_000) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    x = rng.lognormal(1, 1, n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"x": x, "c": pd.array(rng.integers(0, 30, n), dtype="Int64"),
                         "y": rng.integers(0, 2, n).astype("float64")})


def _workflow() -> gp.Workflow:
    def slow_identity(col):  # gives the killer time to strike while partitions are being fitted
        time.sleep(0.2)
        return col

    return gp.Workflow(["x"] >> ops.LambdaOp(slow_identity) >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
                       ["c"] >> ops.Categorify(), label="y")


def test_fit_survives_a_killed_worker_with_the_same_statistics() -> None:
    import dask
    from distributed import get_task_stream

    df = _frame()
    with gp.use_backend("pandas"):
        reference = _workflow().fit(df)
        ds = gp.Dataset(df, partition_rows=400)  # 20 partitions, ~0.2 s each
        with gp.distributed.cluster(kind="cpu", n_workers=2) as client:
            # Dask reschedules the tasks of a dead worker until a task has been in flight on
            # `allowed-failures` dying workers; one death must stay within that budget.
            assert dask.config.get("distributed.scheduler.allowed-failures") >= 1
            pids = client.run(os.getpid)  # worker address -> pid
            victim, victim_pid = sorted(pids.items())[0]
            killed: dict[str, float] = {}

            def kill_mid_fit() -> None:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    processing = client.processing()
                    if processing.get(victim):  # the victim is running fit tasks right now
                        os.kill(victim_pid, signal.SIGKILL)
                        killed["at"] = time.monotonic()
                        return
                    time.sleep(0.02)

            killer = threading.Thread(target=kill_mid_fit, daemon=True)
            wf = _workflow()
            with get_task_stream(client) as stream:
                killer.start()
                wf.fit(ds)
                fit_done = time.monotonic()
            killer.join(5)
            assert "at" in killed and killed["at"] < fit_done, "the worker was not killed during the fit"
            # the victim process is gone; the fit's tasks finished on the surviving (and restarted) workers
            after = client.run(os.getpid)
            assert victim_pid not in after.values()
            assert {t["worker"] for t in stream.data} - {victim}

    # the same statistics as the undisturbed, in-memory fit: no partition lost or counted twice
    with gp.use_backend("pandas"):
        pdt.assert_frame_equal(wf.transform(df), reference.transform(df))
    assert wf.output_schema.cardinalities == reference.output_schema.cardinalities


# ---------------------------------------------------------------------- a partition that kills every worker it runs on
_CULPRIT_ID = 60  # first row of partition 6 (of 8): rows 20 to 29 of b.parquet


def _killer_of(culprit_id: int):
    """A function of a partition that SIGKILLs the worker process running it on the partition starting at
    ``culprit_id`` (as the kernel does to a process out of memory), and returns the partition otherwise."""

    def kill_one(part):
        if len(part) and int(part["id"].iloc[0]) == culprit_id:
            from distributed import get_worker

            get_worker()  # ValueError outside a Dask worker: never kill the test's own process
            time.sleep(0.3)  # any task the worker finished just before it is reported done first
            os.kill(os.getpid(), signal.SIGKILL)
        return part

    return kill_one


@pytest.fixture
def lone_worker():
    """A cluster of one worker process of one thread, sent one task at a time (worker-saturation 1.0), and whose
    scheduler fails a task on the first death of a worker running it (allowed-failures 0): a dying worker runs no
    other task that Dask would fail with the culprit, and the failure comes at once. Both settings are read when the
    scheduler starts, so the rest of the module keeps Dask's defaults. A fresh cluster for each test: one death per
    cluster, so no test waits on the nanny's restart of a worker (which, after many quick deaths, can leave a
    one-worker cluster without any)."""
    import dask
    import distributed  # noqa: F401  (its config defaults, which leaving dask.config.set would otherwise drop)

    with contextlib.ExitStack() as stack:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                              "distributed.scheduler.worker-saturation": 1.0}):
            client = stack.enter_context(gp.distributed.cluster(kind="cpu", n_workers=1))
        yield client


def _error_of(run, seconds: float = 60) -> BaseException:
    """What ``run()`` raises on the pandas backend, within ``seconds``: a cluster left without workers would have it
    wait for one for ever."""
    caught: list[BaseException] = []

    def target() -> None:
        try:
            with gp.use_backend("pandas"):
                run()
        except BaseException as exc:  # handed to the test
            caught.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no answer within {seconds} s"
    assert caught, "it raised nothing"
    return caught[0]


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    """a.parquet and b.parquet, 40 rows each in row groups of 10; ``id`` counts the rows of both from 0."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("killed")
    for k, name in enumerate(("a", "b")):
        ids = np.arange(40 * k, 40 * (k + 1))
        pq.write_table(pa.table({"id": ids, "x": ids * 0.5}), root / f"{name}.parquet", row_group_size=10)
    return root


_RUNS = {
    "fit": lambda ds, out: gp.Workflow(["x"] >> ops.Normalize()).fit(ds.map_partitions(_killer_of(_CULPRIT_ID))),
    "map_partials": lambda ds, out: ds.map_partials(lambda p: len(_killer_of(_CULPRIT_ID)(p))),
    "num_rows": lambda ds, out: ds.map_partitions(_killer_of(_CULPRIT_ID)).num_rows,
    "to_frame": lambda ds, out: ds.map_partitions(_killer_of(_CULPRIT_ID)).to_frame(),
    "iter_partitions": lambda ds, out: list(ds.map_partitions(_killer_of(_CULPRIT_ID))),
    "to_parquet": lambda ds, out: ds.map_partitions(_killer_of(_CULPRIT_ID)).to_parquet(out),
    "transform_to_parquet": lambda ds, out: gp.Workflow(["x"] >> ops.Normalize()).fit(ds).transform(
        ds.map_partitions(_killer_of(_CULPRIT_ID))).to_parquet(out),
}


@pytest.mark.parametrize("run", list(_RUNS))
def test_a_partition_killing_every_worker_names_the_partition(lone_worker, two_files, tmp_path, run) -> None:
    from distributed.scheduler import KilledWorker

    from gpupipe.errors import WorkerDiedError

    with gp.use_backend("pandas"):
        ds = gp.Dataset(two_files, partition_rows=10)
    assert ds.num_partitions == 8
    err = _error_of(lambda: _RUNS[run](ds, tmp_path / "out"))
    assert isinstance(err, WorkerDiedError), repr(err)
    msg = str(err)
    assert isinstance(err.__cause__, KilledWorker)
    assert re.match(r"partition 6 of the dataset \(rows 20 to 29 of \S*[/\\]b\.parquet\): ", msg), msg
    assert re.findall(r"\bpartition (\d+)", msg) == ["6"], msg  # no other partition is named
    assert "a.parquet" not in msg
    # what to do: the worker's memory, smaller partitions, more tries per task (and how many were allowed)
    for advice in ("memory_limit", "partition_rows", "distributed.scheduler.allowed-failures"):
        assert advice in msg, msg
    assert "1 worker" in msg, msg
    assert isinstance(err, RuntimeError)


@pytest.mark.parametrize(("source", "named"), [
    ("frame", "partition 4 of the dataset (rows 60 to 74 of the frame): "),
    ("dask", "partition 4 of the dataset: "),  # a dask DataFrame's partitions: their number only
], ids=["frame", "dask"])
def test_a_partition_of_a_frame_killing_its_worker_names_its_rows(lone_worker, source, named) -> None:
    import dask.dataframe as dd
    from distributed.scheduler import KilledWorker

    from gpupipe.errors import WorkerDiedError

    frame = pd.DataFrame({"id": np.arange(100), "x": np.arange(100) * 0.5})
    data = frame if source == "frame" else dd.from_pandas(frame, chunksize=15, sort=False)
    with gp.use_backend("pandas"):
        ds = gp.Dataset(data, partition_rows=15).map_partitions(_killer_of(_CULPRIT_ID))
    assert ds.num_partitions == 7
    err = _error_of(ds.to_frame)
    assert isinstance(err, WorkerDiedError), repr(err)
    msg = str(err)
    assert isinstance(err.__cause__, KilledWorker)
    assert re.findall(r"\bpartition (\d+)", msg) == ["4"], msg
    assert msg.startswith(named), msg
