"""Ready pipelines built on gpupipe's public API.

>>> from pipelines import flights_delay          # doctest: +SKIP
>>> result = flights_delay.run(backend="auto", epochs=1)   # doctest: +SKIP
"""

from __future__ import annotations

from ._result import STAGES, PipelineResult

#: CLI name -> module name, for `gpupipe run NAME` and `gpupipe bench --pipeline NAME`.
PIPELINES = {"flights-delay": "pipelines.flights_delay", "criteo-ctr": "pipelines.criteo_ctr"}

__all__ = ["PIPELINES", "STAGES", "PipelineResult"]
