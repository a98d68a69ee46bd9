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
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STAGES", "PipelineResult", "check_out_dir", "write_outputs"]

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
        """Write :meth:`to_dict` to ``path`` as indented JSON (parent directories created), atomically (a
        temporary file beside it, renamed over it when complete); returns the path."""
        from .._files import atomic_write_file

        text = json.dumps(self.to_dict(), indent=2, default=float)
        return Path(atomic_write_file(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8")))


def check_out_dir(directory: str | os.PathLike[str], where: str, name: str = "out") -> None:
    """Refuse, before a run starts, an output directory its outputs could not be written to: a file or a place
    under one, or one this process cannot write (:class:`~gpupipe.errors.ParameterError` naming ``name``), or one
    whose ``workflow/`` or ``model/`` holds anything but a previous save
    (:class:`~gpupipe.errors.WorkflowFormatError`)."""
    from .. import _validate as V
    from ..training.checkpoint import checkpoint_target
    from ..workflow.serialize import workflow_target

    V.output_dir(directory, name, where)
    workflow_target(os.path.join(directory, "workflow"), where=where)
    checkpoint_target(os.path.join(directory, "model"), where=where)


def write_outputs(directory: str | os.PathLike[str], writers: Mapping[str, Callable[[Path], object]]) -> Path:
    """Write a run's outputs into ``directory`` together: ``writers`` maps each entry's name (``"result.json"``,
    ``"workflow"``...) to a function writing it at the path it is given.

    Every entry is first written to a temporary directory; only when all are written are they put in place
    (:func:`gpupipe._files.atomic_write_entries`), so an error, an interrupt or a killed process while writing
    leaves the previous run's outputs as they were, never this run's result beside the previous model. An
    entry its writer did not write (a workflow that cannot be saved) is removed, so none from a previous run
    is left beside this one's. Other files in ``directory`` are kept.

    Examples
    --------
    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "run")
    >>> _ = write_outputs(d, {"a.txt": lambda p: p.write_text("1"), "b.txt": lambda p: None})
    >>> sorted(os.listdir(d))
    ['a.txt']
    """
    from .._files import atomic_write_entries

    def write(tmp: Path) -> None:
        for entry, writer in writers.items():
            writer(tmp / entry)

    atomic_write_entries(directory, write, replaces=list(writers))
    return Path(directory)
