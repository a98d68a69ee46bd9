"""DCNv2: a deep & cross network (Wang et al., 2021) for click logs with many categorical columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ._base import TabularModel, base_config, check_model_params, mlp, register_model

if TYPE_CHECKING:
    from ..schema import Schema

__all__ = ["CrossLayer", "DCNv2"]


class CrossLayer(nn.Module):
    """``x_{l+1} = x_0 * (W x_l + b) + x_l``, with ``W`` full or of rank ``low_rank`` (``U V^T``)."""

    def __init__(self, dim: int, low_rank: int | None = None) -> None:
        super().__init__()
        if low_rank is None:
            self.proj: nn.Module = nn.Linear(dim, dim)
        else:
            self.proj = nn.Sequential(nn.Linear(dim, int(low_rank), bias=False), nn.Linear(int(low_rank), dim))

    def forward(self, x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x0 * self.proj(x) + x


@register_model
class DCNv2(TabularModel):
    """Deep & Cross Network v2: explicit feature crosses plus an MLP; one logit per row.

    The input is the same as :class:`TabularMLP`'s (an embedding per categorical, sized by
    :func:`~gpupipe.models.embedding_dim_rule` unless ``embedding_dim`` is given, concatenated with
    the continuous features). ``cross_layers`` cross layers model bounded-degree feature
    interactions, which suit click logs; ``structure="stacked"`` feeds the cross output into the
    MLP, ``"parallel"`` concatenates the two before the output layer.

    Parameters
    ----------
    cardinalities, n_cont, task, dropout, batchnorm, embedding_dim, cat_names, cont_names
        As for :class:`TabularMLP`.
    cross_layers : int, default 3
    hidden : sequence of int, default (256, 128)
        The deep part; empty for a cross network alone.
    low_rank : int, optional
        Rank of each cross layer's weight (DCN-Mix style saving); ``None`` for a full matrix.
    structure : {"stacked", "parallel"}, default "stacked"

    Examples
    --------
    >>> import torch
    >>> from gpupipe.schema import ColumnSchema, Schema
    >>> from gpupipe.models import DCNv2
    >>> s = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("c", "cat", "int64", 10)])
    >>> DCNv2.from_schema(s, cross_layers=2, hidden=(8,))(torch.zeros(3, 1), torch.ones(3, 1, dtype=torch.int64)).shape
    torch.Size([3])
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_cont: int,
        cross_layers: int = 3,
        hidden: Sequence[int] = (256, 128),
        task: str = "binary",
        low_rank: int | None = None,
        structure: str = "stacked",
        dropout: float = 0.0,
        batchnorm: bool = False,
        embedding_dim: int | Sequence[int] | None = None,
        cat_names: Sequence[str] | None = None,
        cont_names: Sequence[str] | None = None,
    ) -> None:
        from .. import _validate as V

        check_model_params("DCNv2", cardinalities, n_cont, hidden, task, dropout, batchnorm, embedding_dim,
                           cat_names, cont_names)
        V.choice(structure, ("stacked", "parallel"), "structure", "DCNv2")
        V.integer(cross_layers, "cross_layers", "DCNv2", min_value=0)
        V.integer(low_rank, "low_rank", "DCNv2", min_value=1, none_ok=True, none_means="a full-rank matrix")
        config: dict[str, Any] = {
            **base_config(cardinalities, n_cont, hidden, task, dropout, batchnorm, embedding_dim, cat_names,
                          cont_names),
            "cross_layers": int(cross_layers), "low_rank": None if low_rank is None else int(low_rank),
            "structure": structure,
        }
        super().__init__(config)
        d = self._build_inputs(embedding_dim, batchnorm)
        self.cross = nn.ModuleList(CrossLayer(d, config["low_rank"]) for _ in range(int(cross_layers)))
        self.structure = structure
        self.deep, width = mlp(d, config["hidden"], dropout, batchnorm)
        self.head = nn.Linear(width if structure == "stacked" else d + width, 1)

    @classmethod
    def from_schema(
        cls,
        schema: Schema,
        cross_layers: int = 3,
        hidden: Sequence[int] = (256, 128),
        task: str = "binary",
        low_rank: int | None = None,
        structure: str = "stacked",
        dropout: float = 0.0,
        batchnorm: bool = False,
        embedding_dim: int | Sequence[int] | None = None,
    ) -> DCNv2:
        """Build the model for a Workflow's output schema (its cont and cat columns, in order)."""
        return cls._from_schema(schema, cross_layers=cross_layers, hidden=hidden, task=task, low_rank=low_rank,
                                structure=structure, dropout=dropout, batchnorm=batchnorm,
                                embedding_dim=embedding_dim)  # type: ignore[return-value]

    def forward(self, cont: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        x0 = self.inputs(cont, cat)
        x = x0
        for layer in self.cross:
            x = layer(x0, x)
        out = self.deep(x) if self.structure == "stacked" else torch.cat([x, self.deep(x0)], dim=1)
        return self.head(out).squeeze(-1)
