"""The runners ``gpupipe bench`` times for each ready pipeline (handed to :func:`gpupipe.bench.run_bench`).

Examples
--------
>>> from pipelines import bench_runners
>>> runners = bench_runners("criteo-ctr")
>>> sorted(runners), runners["naive"].reason
(['cudf', 'hybrid', 'naive', 'pandas', 'polars', 'polars-gpu'], 'no naive reference exists for criteo-ctr (only for flights-delay)')
"""

from __future__ import annotations

import importlib
from typing import Any

import gpupipe as gp

__all__ = ["bench_runners"]


def bench_runners(pipeline: str) -> dict[str, gp.bench.Runner | gp.bench.Unavailable]:
    """One runner per backend of :data:`gpupipe.bench.BACKENDS` for the ready pipeline named ``pipeline``.

    ``cudf`` runs the pipeline on cuDF, ``hybrid`` on pandas with CUDA training, ``pandas`` on the
    CPU, ``polars`` and ``polars-gpu`` prepare the data with Polars (CPU engine; cudf-polars' GPU
    engine with CUDA training) and train as the pipeline does (:class:`pipelines._polars_bench.PolarsRunner`,
    whose ``verify`` checks the Polars output equal to the Workflow's before the harness times it),
    and ``naive`` runs :mod:`pipelines.naive` (flights-delay only). Where the pipeline cannot
    run on a backend the entry is a :class:`gpupipe.bench.Unavailable` saying why (no naive
    reference, or the pipeline module does not import); whether the machine can run the backend
    is :func:`~gpupipe.bench.run_bench`'s check.

    Raises
    ------
    ValueError
        If ``pipeline`` is not one of :data:`pipelines.PIPELINES`.
    """
    from . import PIPELINES

    name = PIPELINES.get(pipeline)
    if name is None:
        raise ValueError(f"unknown pipeline {pipeline!r}; choose from {sorted(PIPELINES)}")
    runners: dict[str, Any]
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        why = gp.bench.Unavailable(f"{name} cannot be imported ({type(exc).__name__}: {exc})")
        runners = {"cudf": why, "hybrid": why, "pandas": why, "polars": why, "polars-gpu": why}
    else:
        from ._polars_bench import PolarsRunner

        runners = {"cudf": _pipeline_runner(module, "cudf", None), "hybrid": _pipeline_runner(module, "pandas", "cuda"),
                   "pandas": _pipeline_runner(module, "pandas", "cpu"), "polars": PolarsRunner(pipeline, "cpu"),
                   "polars-gpu": PolarsRunner(pipeline, "gpu")}
    if pipeline == "flights-delay":
        runners["naive"] = _naive
    else:
        runners["naive"] = gp.bench.Unavailable(f"no naive reference exists for {pipeline} (only for flights-delay)")
    return runners


def _pipeline_runner(module: Any, backend: str, device: str | None) -> Any:
    def runner(rows: int | None, seed: int, epochs: int) -> gp.bench.PipelineResult:
        return module.run(backend=backend, epochs=epochs, rows=rows, seed=seed, device=device, progress=False)

    return runner


def _naive(rows: int | None, seed: int, epochs: int) -> gp.bench.PipelineResult:
    from . import naive

    return naive.run(rows=rows, seed=seed, epochs=epochs)
