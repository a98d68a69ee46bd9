"""The polars-gpu entry (cudf-polars' GPU engine) against the CPU polars entry (gpu-marked; not run without
cudf-polars and a CUDA device).

The GPU engine runs the same lazy queries as the CPU entry (:mod:`pipelines.polars_prep`); its output must
be the CPU entry's: categorical ids, row counts, column order and dtypes exactly, floats within the bench's
tolerance (``rtol=FLOAT_RTOL, atol=FLOAT_ATOL``: the GPU adds float64 statistics in another order, and the
outputs are float32). ``raise_on_fail=True`` makes any query the GPU engine cannot run an error here rather
than a silent CPU fallback.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.gpu]

ROWS = 20_000


@pytest.fixture(scope="module")
def gpu_engine():
    from gpupipe.bench import harness

    ok, why = harness.backend_availability("polars-gpu")
    if not ok:
        pytest.skip(f"polars-gpu unavailable: {why}")


@pytest.mark.parametrize("pipeline", ["flights-delay", "criteo-ctr"])
def test_gpu_engine_output_equals_the_cpu_polars_entry(gpu_engine, pipeline):
    import polars as pl

    from pipelines import _polars_bench, polars_prep

    cpu = polars_prep.prepare(pipeline, ROWS, seed=0, engine="cpu")
    gpu = polars_prep.prepare(pipeline, ROWS, seed=0, engine="gpu")
    assert gpu.schema == cpu.schema
    for split in ("train", "val"):
        want, got = getattr(cpu, split), getattr(gpu, split)
        assert got.columns == want.columns and got.height == want.height, split
        assert got.schema == want.schema, split
        for col in cpu.schema:
            g = got[col.name].cast(pl.Float64).to_numpy()
            w = want[col.name].cast(pl.Float64).to_numpy()
            if col.role == "cat":
                np.testing.assert_array_equal(g, w, err_msg=f"{split} ids {col.name}")
            else:
                np.testing.assert_allclose(g, w, rtol=_polars_bench.FLOAT_RTOL, atol=_polars_bench.FLOAT_ATOL,
                                           equal_nan=True, err_msg=f"{split} {col.name}")
    # and the bench's own check against gpupipe's Workflow passes on the GPU engine
    assert _polars_bench.verify(pipeline, ROWS, 0, engine="gpu")["engine"] == "gpu"


def test_polars_gpu_entry_runs_and_trains_on_cuda(gpu_engine):
    from gpupipe.bench import run_bench
    from pipelines import bench_runners

    res = run_bench("criteo-ctr", rows=[ROWS], backends=["polars", "polars-gpu"], repeats=1, warmup=0,
                    progress=False, runners=bench_runners("criteo-ctr"))
    by = {r["backend"]: r for r in res["runs"]}
    assert by["polars-gpu"]["status"] == "ok", by["polars-gpu"].get("reason")
    assert by["polars-gpu"]["device"].startswith("cuda")
    assert abs(by["polars-gpu"]["metrics"]["auc"] - by["polars"]["metrics"]["auc"]) <= 0.015
