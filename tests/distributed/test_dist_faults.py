"""Faults: a Dask worker process killed in the middle of a Workflow fit; the fit still completes, unchanged."""

from __future__ import annotations

import os
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
