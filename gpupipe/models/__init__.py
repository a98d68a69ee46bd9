"""Tabular models built from a Workflow's output schema.

``gp.models.TabularMLP`` (embeddings + MLP) and ``gp.models.DCNv2`` (deep & cross network, for
click logs). Both take ``forward(cont, cat)`` with ``cont`` [B, C] float32 and ``cat`` [B, K] int64
and return one logit (or regression value) per row, and carry a JSON ``config`` that
:func:`gpupipe.load_checkpoint` rebuilds them from. Importing this module imports torch.

Examples
--------
>>> import gpupipe as gp
>>> from gpupipe.schema import ColumnSchema, Schema
>>> s = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("c", "cat", "int64", 100)])
>>> gp.models.TabularMLP.from_schema(s).embedding_dims
[21]
"""

from __future__ import annotations

from ._base import MODEL_CLASSES, TASKS, TabularModel, embedding_dim_rule, register_model
from .dcn import DCNv2
from .mlp import TabularMLP

__all__ = ["MODEL_CLASSES", "TASKS", "DCNv2", "TabularMLP", "TabularModel", "embedding_dim_rule", "register_model"]
