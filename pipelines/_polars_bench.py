"""``gpupipe bench``'s ``polars`` and ``polars-gpu`` entries.

Each is a :class:`PolarsRunner`: the pipeline's data preparation written in Polars
(:mod:`pipelines.polars_prep`; ``polars-gpu`` collects the same queries with cudf-polars' GPU
engine), then the stages every other entry runs, with the pipeline's own settings
(``<pipeline>.spec``), through the same function as the pipelines' own runs
(:func:`pipelines._runner.model_stages`): ``gp.to_tensors`` → ``gp.Loader`` (one timed loader-only
epoch) → ``gp.train`` → ``gp.evaluate`` → the classic-ML baseline (on the CPU fitted in a second
thread during training). Only the preparation differs, so the totals compare.

Before anything is timed, :meth:`PolarsRunner.verify` (called by the harness once per rows value)
prepares the same rows both ways and checks the Polars frames against the gpupipe Workflow's output
on pandas (:func:`compare`): the same columns in the same order, the same schema (roles, dtypes,
cardinalities), categorical ids and row counts exactly equal, floats within
``rtol=FLOAT_RTOL, atol=FLOAT_ATOL`` with missing values in the same places. A difference raises
:class:`OutputMismatch`, which the harness reports as the entry's error instead of a timing.

Examples
--------
>>> from pipelines._polars_bench import PolarsRunner
>>> PolarsRunner("criteo-ctr", engine="gpu").device
'cuda'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import gpupipe as gp

from ._runner import _audit_dict, _stage, model_stages

__all__ = ["FLOAT_ATOL", "FLOAT_RTOL", "OutputMismatch", "PolarsRunner", "compare", "run", "verify"]

#: Tolerance of the float columns (float32 outputs of float64 statistics). On the CPU the Polars
#: entry has matched gpupipe bit for bit on both pipelines; the slack is for a GPU's reduction order.
FLOAT_RTOL, FLOAT_ATOL = 1e-5, 1e-6


class OutputMismatch(AssertionError):
    """The Polars preparation's output differs from the gpupipe Workflow's (what differs is in the message)."""


def _module(pipeline: str) -> Any:
    from . import PIPELINES

    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; choose from {sorted(PIPELINES)}")
    return importlib.import_module(PIPELINES[pipeline])


@dataclass(frozen=True)
class PolarsRunner:
    """A ``gpupipe bench`` runner: ``runner(rows, seed, epochs) -> PipelineResult``, with ``verify(rows, seed)``."""

    pipeline: str
    engine: str = "cpu"

    @property
    def device(self) -> str:
        """Where the model trains: ``cuda`` beside the GPU engine, else ``cpu``."""
        return "cuda" if self.engine == "gpu" else "cpu"

    def __call__(self, rows: int | None, seed: int, epochs: int) -> gp.bench.PipelineResult:
        return run(self.pipeline, rows, seed, epochs, engine=self.engine, device=self.device)

    def verify(self, rows: int | None, seed: int) -> dict[str, Any]:
        return verify(self.pipeline, rows, seed, engine=self.engine)


class _AuditedTimer:
    """A StageTimer whose stages are also watched by ``gp.audit.transfers`` (as the pipelines' own runs)."""

    def __init__(self, timer: Any, audits: dict[str, Any], cuda: bool) -> None:
        self.timer, self.audits, self.cuda = timer, audits, cuda

    def stage(self, name: str) -> Any:
        return _stage(self.timer, self.audits, name, self.cuda)


def run(pipeline: str, rows: int | None = None, seed: int = 0, epochs: int = 1, *, engine: str = "cpu",
        device: str = "cpu") -> gp.bench.PipelineResult:
    """Run ``pipeline`` with its preparation in Polars and everything after it as the pipeline's own run.

    Stages: ``read``, ``fit``, ``transform`` (Polars, :func:`pipelines.polars_prep.prepare`), then
    ``to_tensors``, ``loader_epoch``, ``train``, ``evaluate`` and ``baseline`` with the settings of
    ``<pipeline>.spec(rows, seed)``.
    """
    import torch

    from . import polars_prep

    spec = _module(pipeline).spec(rows, seed)
    timer = gp.bench.StageTimer()
    audits: dict[str, Any] = {}
    torch_device = torch.device(device)
    cuda = torch_device.type == "cuda"
    audited = _AuditedTimer(timer, audits, cuda)
    stage = audited.stage
    with gp.use_backend("pandas"):  # the Polars frames are host memory: tensors come from them as from pandas
        prep = polars_prep.prepare(pipeline, rows, seed, engine=engine, timer=audited)
        schema = prep.schema
        # scikit-learn, as on the pandas entry, on pandas views of the Polars columns
        stages = model_stages(spec, schema, prep.train, prep.val,
                              lambda: (gp.from_arrow(prep.train), gp.from_arrow(prep.val)),
                              stage=stage, device=str(torch_device), frames_on_gpu=False, seed=seed,
                              epochs=epochs, progress=False)
    timings = dict(timer.times)
    timings["total"] = timer.total()
    return gp.bench.PipelineResult(
        pipeline=pipeline, backend="polars-gpu" if engine == "gpu" else "polars", device=str(torch_device),
        rows={"train": prep.train.height, "val": prep.val.height, "loader_epoch": stages.rows_seen},
        metrics={k: float(v) for k, v in stages.metrics.items()}, baseline=stages.baseline, timings=timings,
        audit={k: _audit_dict(v) for k, v in audits.items()},
        history=[dict(h) for h in stages.result.history],
        extra={"engine": engine, "epochs": epochs, "seed": seed, "batch_size": spec.batch_size, "lr": spec.lr,
               "baseline_kind": spec.baseline, "tensor_copies": stages.copies,
               "baseline_fit_seconds": stages.fit_seconds, "baseline_overlapped": stages.overlapped},
    )


def reference(pipeline: str, rows: int | None = None, seed: int = 0) -> tuple[Any, Any, gp.Schema]:
    """(train, validation, schema): the gpupipe Workflow's output for these rows, on pandas."""
    spec = _module(pipeline).spec(rows, seed)
    with gp.use_backend("pandas"):
        train, val = spec.load()
        wf = spec.workflow()
        train_out = wf.fit_transform(train)
        val_out = wf.transform(val)
    return train_out, val_out, wf.output_schema


def verify(pipeline: str, rows: int | None = None, seed: int = 0, *, engine: str = "cpu") -> dict[str, Any]:
    """Prepare ``rows`` with Polars and with the gpupipe Workflow and check the outputs equal (untimed).

    Returns
    -------
    dict
        What was compared and the largest float difference seen (``max_abs_diff``, ``max_rel_diff``);
        ``summary`` is one line for the report.

    Raises
    ------
    OutputMismatch
        Naming every column that differs, and how.
    """
    from . import polars_prep

    prep = polars_prep.prepare(pipeline, rows, seed, engine=engine)
    ref_train, ref_val, ref_schema = reference(pipeline, rows, seed)
    problems: list[str] = []
    if prep.schema != ref_schema:
        problems.append(f"schema: Polars {prep.schema!r} vs gpupipe {ref_schema!r}")
    parts = {}
    for split, expected, actual in (("train", ref_train, prep.train), ("val", ref_val, prep.val)):
        parts[split] = compare(expected, actual, ref_schema)
        problems += [f"{split}: {p}" for p in parts[split]["problems"]]
    if problems:
        raise OutputMismatch(f"the Polars preparation ({engine} engine) differs from gpupipe's Workflow output: "
                             + "; ".join(problems[:12]) + (f"; and {len(problems) - 12} more" if len(problems) > 12 else ""))
    max_abs = max(p["max_abs_diff"] for p in parts.values())
    max_rel = max(p["max_rel_diff"] for p in parts.values())
    n_cat = len(ref_schema.cat)
    n_float = len(ref_schema.names) - n_cat
    return {
        "reference": "the pipeline's gpupipe Workflow on pandas, same rows and seed",
        "engine": engine,
        "rows": {"train": prep.train.height, "val": prep.val.height},
        "columns": len(ref_schema.names),
        "ids": f"{n_cat} categorical columns equal exactly",
        "floats": {"columns": n_float, "rtol": FLOAT_RTOL, "atol": FLOAT_ATOL,
                   "max_abs_diff": max_abs, "max_rel_diff": max_rel},
        "summary": (f"output checked equal to gpupipe's before timing: {prep.train.height:,} + {prep.val.height:,} "
                    f"rows x {len(ref_schema.names)} columns, schema equal, {n_cat} id columns exact, {n_float} float "
                    f"columns max |diff| {max_abs:.3g} (tolerance rtol {FLOAT_RTOL:g}, atol {FLOAT_ATOL:g})"),
    }


def compare(expected: Any, actual: Any, schema: gp.Schema, *, rtol: float = FLOAT_RTOL,
            atol: float = FLOAT_ATOL) -> dict[str, Any]:
    """Compare a gpupipe output frame (pandas) with a Polars one, column by column.

    ``cat`` columns must be Int64 and equal exactly; the others Float32, missing in the same rows, and
    within ``|a - e| <= atol + rtol * |e|``. Returns ``problems`` (empty when equal) and the largest
    absolute and relative float differences.

    Examples
    --------
    >>> import pandas as pd, polars as pl
    >>> from gpupipe.schema import ColumnSchema, Schema
    >>> s = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("c", "cat", "int64", 5)])
    >>> e = pd.DataFrame({"x": pd.Series([0.5, 1.0], dtype="float32"), "c": [3, 4]})
    >>> compare(e, pl.DataFrame({"x": [0.5, 1.0], "c": [3, 2]}, schema={"x": pl.Float32, "c": pl.Int64}), s)["problems"]
    ["column 'c': 1 of 2 ids differ (first at row 1: gpupipe 4, Polars 2)"]
    """
    import numpy as np
    import polars as pl

    problems: list[str] = []
    max_abs = max_rel = 0.0
    if list(expected.columns) != actual.columns:
        problems.append(f"columns differ: gpupipe {list(expected.columns)} vs Polars {actual.columns}")
    if len(expected) != actual.height:
        problems.append(f"row counts differ: gpupipe {len(expected):,} vs Polars {actual.height:,}")
        return {"problems": problems, "max_abs_diff": float("nan"), "max_rel_diff": float("nan")}
    for col in schema:
        name = col.name
        if name not in actual.columns or name not in expected.columns:
            continue
        got = actual[name]
        want_dtype = pl.Int64 if col.role == "cat" else pl.Float32
        if got.dtype != want_dtype:
            problems.append(f"column {name!r}: Polars dtype {got.dtype}, expected {want_dtype}")
            continue
        if col.role == "cat":
            e = expected[name].to_numpy(dtype="int64")
            if got.null_count():
                problems.append(f"column {name!r}: {got.null_count()} null id(s)")
                continue
            a = got.to_numpy()
            bad = np.flatnonzero(a != e)
            if len(bad):
                i = int(bad[0])
                problems.append(f"column {name!r}: {len(bad)} of {len(e)} ids differ (first at row {i}: "
                                f"gpupipe {int(e[i])}, Polars {int(a[i])})")
            continue
        e = expected[name].to_numpy(dtype="float64", na_value=np.nan)
        a = got.cast(pl.Float64).to_numpy()  # nulls become NaN
        missing_e, missing_a = np.isnan(e), np.isnan(a)
        if (missing_e != missing_a).any():
            problems.append(f"column {name!r}: missing in {int(missing_e.sum())} rows on gpupipe, "
                            f"{int(missing_a.sum())} on Polars, not the same rows")
            continue
        both = ~missing_e
        diff = np.abs(a[both] - e[both])
        if diff.size:
            max_abs = max(max_abs, float(diff.max()))
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(e[both] != 0, diff / np.abs(e[both]), np.where(diff == 0, 0.0, np.inf))
            max_rel = max(max_rel, float(rel.max()))
            far = np.flatnonzero(diff > atol + rtol * np.abs(e[both]))
            if len(far):
                i = int(far[0])
                problems.append(f"column {name!r}: {len(far)} value(s) outside tolerance (max |diff| "
                                f"{float(diff.max()):.3g}; e.g. gpupipe {e[both][i]!r}, Polars {a[both][i]!r})")
    return {"problems": problems, "max_abs_diff": max_abs, "max_rel_diff": max_rel}
