"""Ready pipelines built on gpupipe's public API.

>>> from pipelines import flights_delay          # doctest: +SKIP
>>> result = flights_delay.run(backend="auto", epochs=1)   # doctest: +SKIP

Each ``run`` returns a :class:`gpupipe.bench.PipelineResult` (re-exported here with :data:`STAGES`);
:func:`bench_runners` gives ``gpupipe bench`` its runners for a pipeline.
"""

from __future__ import annotations

from gpupipe.bench import STAGES, PipelineResult

from ._bench import bench_runners

#: CLI name -> module name, for `gpupipe run NAME` and `gpupipe bench --pipeline NAME`.
PIPELINES = {"flights-delay": "pipelines.flights_delay", "criteo-ctr": "pipelines.criteo_ctr"}

__all__ = ["PIPELINES", "STAGES", "PipelineResult", "bench_runners"]
