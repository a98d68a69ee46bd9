"""Pieces shared by the tabular models: the embedding-size rule, the input block, the registry.

This module imports torch; ``gpupipe.models`` is loaded lazily so ``import gpupipe`` does not.
Every model here is a ``torch.nn.Module`` with ``forward(cont, cat) -> logits [B]``, a ``task``
(``"binary"`` or ``"regression"``) and a JSON-able ``config`` from which ``type(model)(**config)``
rebuilds it; :func:`gpupipe.load_checkpoint` relies on that and on :data:`MODEL_CLASSES`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import DataError, ParameterError, SchemaError

if TYPE_CHECKING:
    from ..schema import Schema

__all__ = ["MODEL_CLASSES", "TASKS", "InputBlock", "TabularModel", "embedding_dim_rule", "register_model"]

TASKS = ("binary", "regression")

# class name -> class; filled by @register_model so checkpoints can name their model's class.
MODEL_CLASSES: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: make a model class loadable by :func:`gpupipe.load_checkpoint` by its name.

    The class must accept its own ``config`` as keyword arguments.
    """
    MODEL_CLASSES[cls.__name__] = cls
    return cls


def embedding_dim_rule(cardinality: int, max_dim: int = 64) -> int:
    """Embedding width for a categorical of ``cardinality`` ids: ``min(max_dim, round(1.6 * card ** 0.56))``.

    This is fastai's rule of thumb (with a lower cap, 64 instead of 600, so that click-log models
    with dozens of high-cardinality columns stay small); it is at least 1.

    Examples
    --------
    >>> from gpupipe.models import embedding_dim_rule
    >>> embedding_dim_rule(2), embedding_dim_rule(100), embedding_dim_rule(1_000_000)
    (2, 21, 64)
    """
    return max(1, min(int(max_dim), round(1.6 * float(cardinality) ** 0.56)))


def check_model_params(where: str, cardinalities: Any, n_cont: Any, hidden: Any, task: Any, dropout: Any,
                       batchnorm: Any, embedding_dim: Any, cat_names: Any, cont_names: Any) -> None:
    """ParameterError naming the model and the parameter, for the parameters every tabular model shares."""
    from .. import _validate as V

    _int_list(cardinalities, "cardinalities", where, 1, empty_ok=True)
    V.integer(n_cont, "n_cont", where, min_value=0)
    _int_list(hidden, "hidden", where, 1, empty_ok=True, what="layer widths")
    V.choice(task, TASKS, "task", where)
    V.number(dropout, "dropout", where, min_value=0)
    if float(dropout) >= 1:
        V.fail(where, "dropout", dropout, "a probability in [0, 1)")
    V.flag(batchnorm, "batchnorm", where)
    if embedding_dim is not None and not V.is_integer(embedding_dim):
        _int_list(embedding_dim, "embedding_dim", where, 1, empty_ok=True, what="widths",
                  accepted="None (the rule), a positive integer, or one positive integer per categorical column")
    elif embedding_dim is not None:
        V.integer(embedding_dim, "embedding_dim", where, min_value=1)
    V.name_list(cat_names, "cat_names", where, none_ok=True, empty_ok=True)
    V.name_list(cont_names, "cont_names", where, none_ok=True, empty_ok=True)


def _int_list(value: Any, name: str, where: str, min_value: int, *, empty_ok: bool = False, what: str = "integers",
              accepted: str = "") -> list[int]:
    from .. import _validate as V

    accepted = accepted or f"a list of {what} (integers >= {min_value})"
    items = V.sequence_of(value)
    if items is None or (not items and not empty_ok):
        V.fail(where, name, value, accepted)
    for v in items:  # type: ignore[union-attr]
        if not V.is_integer(v) or int(v) < min_value:
            V.fail(where, name, value, accepted, f"{v!r} is not an integer >= {min_value}")
    return [int(v) for v in items]  # type: ignore[union-attr]


def check_task(task: str) -> str:
    if task not in TASKS:
        msg = f"task {task!r} is not supported; choose one of {list(TASKS)}"
        raise ParameterError(msg)
    return task


def schema_features(schema: Schema) -> tuple[list[str], list[str], list[int]]:
    """(cont names, cat names, cardinalities) of a schema, checked to be non-empty."""
    from ..schema import Schema

    if not isinstance(schema, Schema):
        msg = (f"from_schema expects a gpupipe.Schema (e.g. wf.output_schema), got "
               f"{type(schema).__module__}.{type(schema).__qualname__}")
        raise SchemaError(msg)
    cont, cat = schema.cont, schema.cat
    if not cont and not cat:
        msg = f"{schema!r} has no cont or cat column, so a model has no input; give the Workflow some features"
        raise SchemaError(msg)
    cards = schema.cardinalities
    return cont, cat, [cards[c] for c in cat]


def resolve_embedding_dims(
    cardinalities: Sequence[int], embedding_dim: int | Sequence[int] | None, cat_names: Sequence[str]
) -> list[int]:
    """One width per categorical: the rule, one fixed width, or an explicit list."""
    if embedding_dim is None:
        return [embedding_dim_rule(c) for c in cardinalities]
    if isinstance(embedding_dim, numbers.Integral) and not isinstance(embedding_dim, bool):  # NumPy ints too
        if embedding_dim < 1:
            raise ParameterError(f"embedding_dim must be a positive int, got {embedding_dim}")
        return [int(embedding_dim)] * len(cardinalities)
    dims = [int(d) for d in embedding_dim]
    if len(dims) != len(cardinalities) or any(d < 1 for d in dims):
        msg = (f"embedding_dim lists {len(dims)} widths {dims} for {len(cardinalities)} categorical "
               f"columns {list(cat_names)}; give one positive width per column, an int, or None for the rule")
        raise ParameterError(msg)
    return dims


class InputBlock(nn.Module):
    """Embeddings of each categorical, concatenated with the (optionally batch-normed) continuous features."""

    def __init__(self, cardinalities: Sequence[int], dims: Sequence[int], n_cont: int, batchnorm: bool,
                 cat_names: Sequence[str] | None = None) -> None:
        super().__init__()
        self.cat_names = None if cat_names is None else list(cat_names)  # for errors only; not in the state dict
        self.embeddings = nn.ModuleList(
            nn.Embedding(int(c), int(d)) for c, d in zip(cardinalities, dims, strict=True)
        )
        self.cont_norm = nn.BatchNorm1d(n_cont) if (batchnorm and n_cont) else None
        self.n_cont = int(n_cont)
        self.out_dim = int(sum(dims)) + self.n_cont

    def forward(self, cont: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        try:
            parts = [emb(cat[:, i]) for i, emb in enumerate(self.embeddings)]
        except IndexError as exc:  # the CPU's bounds check; on a GPU an id past a table is a device-side assert
            raise self._id_error(cat) from exc
        if self.n_cont:
            x = cont.float()
            parts.append(self.cont_norm(x) if self.cont_norm is not None else x)
        return torch.cat(parts, dim=1)

    def _id_error(self, cat: torch.Tensor) -> Exception:
        """The DataError naming the first categorical column with ids outside its embedding table."""
        for i, emb in enumerate(self.embeddings):
            ids = cat[:, i]
            outside = (ids < 0) | (ids >= emb.num_embeddings)
            n = int(outside.sum())
            if n:
                what = (f"categorical column {self.cat_names[i]!r}" if self.cat_names
                        else f"categorical column {i} (cat[:, {i}])")
                lo, hi = int(ids[outside].min()), int(ids[outside].max())
                msg = (f"{what} holds {n} id{'s' if n != 1 else ''} outside 0..{emb.num_embeddings - 1} ("
                       f"{lo if lo == hi else f'from {lo} to {hi}'}), but its embedding table has "
                       f"{emb.num_embeddings} rows; encode the data with the Workflow the model was built from "
                       f"(gp.Loader(wf.transform(frame), schema=wf.output_schema)), or build the model from the "
                       f"data's schema")
                return DataError(msg)
        return DataError(f"a batch's categorical ids do not fit the model's embedding tables (cat of shape "
                         f"{tuple(cat.shape)}, tables of {[e.num_embeddings for e in self.embeddings]} rows)")


def mlp(in_dim: int, hidden: Sequence[int], dropout: float, batchnorm: bool) -> tuple[nn.Sequential, int]:
    """Linear → (BatchNorm) → ReLU → (Dropout) per hidden width; returns (module, output width)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers.append(nn.Linear(width, int(h)))
        if batchnorm:
            layers.append(nn.BatchNorm1d(int(h)))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(float(dropout)))
        width = int(h)
    return nn.Sequential(*layers), width


class TabularModel(nn.Module):
    """Base of gpupipe's models: feature names, task, JSON config and input checks."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        self._config = json_config(config)
        # The Schema the model was built from (set by from_schema, saved in checkpoints); not part of config.
        self.schema: Schema | None = None
        self.task = check_task(str(config["task"]))
        self.cardinalities = [int(c) for c in config["cardinalities"]]
        self.n_cont = int(config["n_cont"])
        cat_names = config.get("cat_names")
        cont_names = config.get("cont_names")
        #: whether the columns are known by name (from_schema, or names given): loaders are then matched by name
        self.named = bool(cat_names or cont_names)
        self.cat_names = list(cat_names) if cat_names else [f"cat_{i}" for i in range(len(self.cardinalities))]
        self.cont_names = list(cont_names) if cont_names else [f"cont_{i}" for i in range(self.n_cont)]
        if len(self.cat_names) != len(self.cardinalities) or len(self.cont_names) != self.n_cont:
            msg = (f"{type(self).__name__}: {len(self.cat_names)} cat_names for {len(self.cardinalities)} "
                   f"cardinalities, {len(self.cont_names)} cont_names for n_cont={self.n_cont}; they must match")
            raise ParameterError(msg)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-able dict: ``type(model)(**model.config)`` rebuilds the model."""
        return dict(self._config)

    def check_batch(self, cont: torch.Tensor | None, cat: torch.Tensor | None) -> None:
        """Check a batch's widths against the model's columns, on shapes only (no device sync)."""
        got_cont = int(cont.shape[1]) if cont is not None and cont.dim() == 2 else 0
        got_cat = int(cat.shape[1]) if cat is not None and cat.dim() == 2 else 0
        if got_cont != self.n_cont or got_cat != len(self.cardinalities):
            msg = (f"{type(self).__name__} was built for {self.n_cont} continuous columns {self.cont_names} and "
                   f"{len(self.cardinalities)} categorical columns {self.cat_names}, but a batch has "
                   f"cont of shape {None if cont is None else tuple(cont.shape)} and cat of shape "
                   f"{None if cat is None else tuple(cat.shape)}; build the model from the loader's schema")
            raise SchemaError(msg)

    def extra_repr(self) -> str:
        return f"task={self.task!r}, n_cont={self.n_cont}, n_cat={len(self.cardinalities)}"

    @classmethod
    def _from_schema(cls, schema: Schema, **params: Any) -> TabularModel:
        """Build ``cls`` for a schema's cont and cat columns (in order) and remember the schema."""
        cont, cat, cards = schema_features(schema)
        model = cls(cards, len(cont), cat_names=cat, cont_names=cont, **params)
        model.schema = schema
        return model

    def _build_inputs(self, embedding_dim: int | Sequence[int] | None, batchnorm: bool) -> int:
        """Create the embeddings + continuous input block; return its output width."""
        self.embedding_dims = resolve_embedding_dims(self.cardinalities, embedding_dim, self.cat_names)
        self.inputs = InputBlock(self.cardinalities, self.embedding_dims, self.n_cont, batchnorm,
                                 self.cat_names if self.named else None)
        return int(self.inputs.out_dim)


def base_config(cardinalities: Sequence[int], n_cont: int, hidden: Sequence[int], task: str, dropout: float,
                batchnorm: bool, embedding_dim: int | Sequence[int] | None, cat_names: Sequence[str] | None,
                cont_names: Sequence[str] | None) -> dict[str, Any]:
    """The constructor arguments every tabular model shares, normalised to JSON types."""
    return {
        "cardinalities": [int(c) for c in cardinalities], "n_cont": int(n_cont),
        "hidden": [int(h) for h in hidden], "task": task, "dropout": float(dropout), "batchnorm": bool(batchnorm),
        "embedding_dim": None if embedding_dim is None else int(embedding_dim)
        if isinstance(embedding_dim, numbers.Integral) else [int(d) for d in embedding_dim],
        "cat_names": None if cat_names is None else list(cat_names),
        "cont_names": None if cont_names is None else list(cont_names),
    }


def json_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Config with tuples turned into lists, so that it round-trips through JSON unchanged."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
