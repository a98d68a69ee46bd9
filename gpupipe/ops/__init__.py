"""Feature-engineering ops (one op per module). See :mod:`gpupipe.ops.base` for the contract."""

from __future__ import annotations

from .base import REGISTRY, ColumnInfo, Op, StatOp, register_op
from .categorify import Categorify

__all__ = ["REGISTRY", "Categorify", "ColumnInfo", "Op", "StatOp", "register_op"]
