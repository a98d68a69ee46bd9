"""Click-through-rate prediction on a synthetic Criteo-shaped click log.

``gp.datasets.criteo(rows, seed)`` generates the log (label; 13 heavy-tailed counts with ~20%
nulls; 26 Zipf-distributed ids over vocabularies of 10 to 1,000,000 with ~5% nulls). The
workflow is the classic one: counts → FillMissing(0) → Clip(0) → LogOp → Normalize, ids →
Categorify with rare ids (fewer than ``freq_threshold`` training occurrences) folded into the
out-of-vocabulary id, so embedding tables stay proportional to what the data can teach. The
model is a Deep & Cross Network (DCN-v2), which suits click logs' feature crosses. Validation is
a seeded random 10% of rows.

Examples
--------
>>> from pipelines import criteo_ctr                    # doctest: +SKIP
>>> criteo_ctr.run(rows=200_000).metrics["auc"] > 0.6   # doctest: +SKIP
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gpupipe as gp
from gpupipe import ops

from ._runner import Spec, run_pipeline

__all__ = ["COUNTS", "DEFAULT_ROWS", "IDS", "load", "run", "spec", "workflow"]

COUNTS = tuple(f"I{i}" for i in range(1, 14))
IDS = tuple(f"C{i}" for i in range(1, 27))
VAL_FRACTION = 0.1
#: rows of the synthetic log when ``run`` is not given ``rows``
DEFAULT_ROWS = 500_000


def workflow(freq_threshold: int = 10) -> gp.Workflow:
    """The classic Criteo feature workflow."""
    return gp.Workflow(
        list(COUNTS) >> ops.FillMissing(fill_value=0) >> ops.Clip(lower=0) >> ops.LogOp() >> ops.Normalize(),
        list(IDS) >> ops.Categorify(freq_threshold=freq_threshold),
        label="label",
    )


def load(rows: int, seed: int = 0) -> tuple[Any, Any]:
    """(train, val) frames of the synthetic log on the active backend; a seeded 10% of rows is validation."""
    import numpy as np

    frame = gp.datasets.criteo(rows, seed=seed)
    # The split is drawn on the host from the seed alone (no data read back), then used on either backend.
    val = np.random.default_rng([seed, 99]).random(len(frame)) < VAL_FRACTION
    xp = gp.backend.array_namespace(frame)
    mask = xp.asarray(val)
    return frame[~mask], frame[mask]


def run(backend: str | None = None, epochs: int = 1, rows: int | None = None, seed: int = 0, *,
        device: str | None = None, progress: bool = True, out: str | Path | None = None,
        baseline: str | None = "logistic", freq_threshold: int = 10, embedding_dim: int = 16, batch_size: int = 4096,
        lr: float = 2e-3) -> gp.bench.PipelineResult:
    """Run the Criteo CTR pipeline end to end (default 500,000 rows).

    Parameters are those of :func:`pipelines.flights_delay.run`; ``freq_threshold`` is Categorify's and
    ``embedding_dim`` the width of every id embedding (26 columns: a fixed small width keeps the cross
    layers cheap).

    Returns
    -------
    PipelineResult
    """
    return run_pipeline(spec(rows, seed, baseline=baseline, freq_threshold=freq_threshold,
                             embedding_dim=embedding_dim, batch_size=batch_size, lr=lr),
                        backend=backend, device=device, epochs=epochs, seed=seed, progress=progress, out=out)


def spec(rows: int | None = None, seed: int = 0, *, baseline: str | None = "logistic", freq_threshold: int = 10,
         embedding_dim: int = 16, batch_size: int = 4096, lr: float = 2e-3) -> Spec:
    """What :func:`run` runs: data, workflow, model and training settings (parameters as :func:`run`'s)."""
    n = DEFAULT_ROWS if rows is None else int(rows)
    return Spec(
        data=f"synthetic Criteo-shaped click log, {n:,} rows (gp.datasets.criteo, seed {seed})",
        name="criteo-ctr",
        load=lambda: load(n, seed),
        workflow=lambda: workflow(freq_threshold),
        model=lambda schema: gp.models.DCNv2.from_schema(schema, cross_layers=2, hidden=(128, 64), low_rank=32,
                                                         embedding_dim=embedding_dim),
        batch_size=batch_size,
        lr=lr,
        baseline=baseline,
        baseline_params={"max_iter": 200},
    )
