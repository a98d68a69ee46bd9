"""Selectors, the ``cols >> op`` graph, the Workflow (fit / transform / output schema) and its saving."""

from __future__ import annotations

from .node import Node
from .workflow import Workflow

__all__ = ["Node", "Workflow"]
