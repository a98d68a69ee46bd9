"""TabularMLP: an embedding per categorical, continuous features concatenated, then an MLP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from ._base import TabularModel, base_config, check_model_params, mlp, register_model

if TYPE_CHECKING:
    from ..schema import Schema

__all__ = ["TabularMLP"]


@register_model
class TabularMLP(TabularModel):
    """Embedding MLP for tabular data; ``forward(cont, cat)`` returns one logit per row.

    Each categorical column gets an ``nn.Embedding(cardinality, dim)`` with ``dim`` from
    :func:`~gpupipe.models.embedding_dim_rule` (``min(64, round(1.6 * card ** 0.56))``) unless
    ``embedding_dim`` fixes it; the embeddings and the continuous features (optionally
    batch-normalised) are concatenated and fed through ``Linear → [BatchNorm] → ReLU → [Dropout]``
    per hidden width, then a ``Linear`` to one output.

    Parameters
    ----------
    cardinalities : sequence of int
        Embedding table size of each categorical column, in batch order.
    n_cont : int
        Number of continuous columns.
    hidden : sequence of int, default (256, 128)
    task : {"binary", "regression"}, default "binary"
        ``binary`` outputs a logit (trained with BCE-with-logits); ``regression`` a value (MSE).
    dropout : float, default 0.0
    batchnorm : bool, default False
        BatchNorm1d on the continuous inputs and after each hidden layer.
    embedding_dim : int or sequence of int, optional
        One width for all columns, one per column, or ``None`` for the rule.
    cat_names, cont_names : sequence of str, optional
        Column names, used in error messages and saved with checkpoints.

    Examples
    --------
    >>> import torch
    >>> from gpupipe.schema import ColumnSchema, Schema
    >>> from gpupipe.models import TabularMLP
    >>> s = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("c", "cat", "int64", 10),
    ...             ColumnSchema("y", "label", "float32")])
    >>> model = TabularMLP.from_schema(s, hidden=(8,))
    >>> model(torch.zeros(4, 1), torch.ones(4, 1, dtype=torch.int64)).shape
    torch.Size([4])
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_cont: int,
        hidden: Sequence[int] = (256, 128),
        task: str = "binary",
        dropout: float = 0.0,
        batchnorm: bool = False,
        embedding_dim: int | Sequence[int] | None = None,
        cat_names: Sequence[str] | None = None,
        cont_names: Sequence[str] | None = None,
    ) -> None:
        check_model_params("TabularMLP", cardinalities, n_cont, hidden, task, dropout, batchnorm, embedding_dim,
                           cat_names, cont_names)
        config = base_config(cardinalities, n_cont, hidden, task, dropout, batchnorm, embedding_dim, cat_names,
                             cont_names)
        super().__init__(config)
        width_in = self._build_inputs(embedding_dim, batchnorm)
        self.body, width = mlp(width_in, config["hidden"], dropout, batchnorm)
        self.head = nn.Linear(width, 1)

    @classmethod
    def from_schema(
        cls,
        schema: Schema,
        hidden: Sequence[int] = (256, 128),
        task: str = "binary",
        dropout: float = 0.0,
        batchnorm: bool = False,
        embedding_dim: int | Sequence[int] | None = None,
    ) -> TabularMLP:
        """Build the model for a Workflow's output schema (its cont and cat columns, in order)."""
        return cls._from_schema(schema, hidden=hidden, task=task, dropout=dropout, batchnorm=batchnorm,
                                embedding_dim=embedding_dim)  # type: ignore[return-value]

    def forward(self, cont: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.inputs(cont, cat))).squeeze(-1)
