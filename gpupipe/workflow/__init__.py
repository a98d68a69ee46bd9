"""Selectors, the ``cols >> op`` graph, the Workflow (fit / transform / output schema) and its saving.

``workflow.py`` is the front end (the public :class:`Workflow`); behind it ``_graph.py`` checks the
graph and the data's columns, ``_execute.py`` runs the steps on a frame and plans the passes of a
``gp.Dataset`` fit, ``_schema.py`` derives the output schema, and ``serialize.py`` encodes a
workflow's spec (:meth:`Workflow.to_spec`) as JSON + parquet and decodes it back.
"""

from __future__ import annotations

from ..ops.node import Node
from .workflow import Workflow

__all__ = ["Node", "Workflow"]
