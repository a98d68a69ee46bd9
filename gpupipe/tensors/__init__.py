"""Frames → PyTorch: zero-copy tensors, a fast Loader, and the transfer audit.

``gp.to_tensors`` turns a frame into a :class:`TensorTable` (one tensor per column, sharing the
frame's memory), ``gp.Loader`` batches it with torch DataLoader semantics, and
``gp.audit.transfers()`` reports what was copied and what crossed the host↔device bus.
"""

from __future__ import annotations

from . import audit
from .convert import TensorTable, to_tensors
from .loader import Batch, Loader

__all__ = ["Batch", "Loader", "TensorTable", "audit", "to_tensors"]
