"""What a pipeline run returns (:class:`PipelineResult`) and the stage names it times (:data:`STAGES`).

The ready pipelines (``pipelines/``) return a :class:`PipelineResult` from ``run``; ``gpupipe bench``
reads its timings, metrics and row counts, and orders its reports by :data:`STAGES`. Any runner
handed to :func:`~gpupipe.bench.run_bench` may return one.

Examples
--------
>>> from gpupipe.bench import PipelineResult
>>> r = PipelineResult("toy", "pandas", "cpu", timings={"read": 0.5, "total": 0.5})
>>> r.to_dict()["timings"]
{'read': 0.5, 'total': 0.5}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STAGES", "PipelineResult"]

#: Stage names, in order, shared by the pipelines and ``gpupipe bench``'s reports.
STAGES = ("read", "fit", "transform", "to_tensors", "loader_epoch", "train", "evaluate", "baseline")


@dataclass
class PipelineResult:
    """Outcome of one pipeline run.

    Attributes
    ----------
    pipeline : str
        Pipeline name (``"flights-delay"``, ``"criteo-ctr"``).
    backend, device : str
        Where the frames lived and where the model trained (``"pandas"``/``"cuda:0"`` is the hybrid path).
    rows : dict
        Row counts per split (``train``, ``val``).
    metrics : dict
        Validation metrics of the trained model (``auc``, ``logloss``, ``accuracy``).
    baseline : dict
        The classic-ML baseline's validation metrics (same metric functions).
    timings : dict
        Seconds per stage (names from :data:`STAGES`) plus ``total``; the device is synchronised at each boundary.
    audit : dict
        Host<->device traffic per stage: ``{stage: {"h2d_bytes": .., "d2h_bytes": .., ...}}``.
    history : list
        Per-epoch training records.
    """

    pipeline: str
    backend: str
    device: str
    rows: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain dicts and lists (``dataclasses.asdict``)."""
        return asdict(self)

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to ``path`` as indented JSON (parent directories created); returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=2, default=float))
        return p
