"""The training loop: ``gp.train``, ``gp.evaluate``, ``gp.predict``.

Everything runs on the loader's device. The loop never waits for the device inside an epoch:
the running loss is summed into a device tensor and read once at the epoch's end; batch sizes
(for the progress bar's rows/s) come from tensor shapes, which the host already knows; and
validation predictions stay on the device until the metrics are read back in one transfer.
A NaN loss is therefore detected at the end of the epoch it occurs in.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import DataError, ParameterError, SchemaError, oom_advice
from ._adam import Adam
from .metrics import HIGHER_IS_BETTER, compute_metrics

__all__ = ["EarlyStopping", "TrainResult", "evaluate", "predict", "train"]

#: name -> decoupled weight decay (AdamW). Both step through torch's own Adam update functions without a
#: torch.optim.Optimizer, whose first call imports torch._dynamo (see _adam.py): the same weights, bit for bit.
_OPTIMIZERS = {"adam": False, "adamw": True}


@dataclass
class EarlyStopping:
    """Stop when a validation metric has not improved for ``patience`` epochs.

    Parameters
    ----------
    metric : str, optional
        ``"auc"``, ``"logloss"``, ``"accuracy"``, ``"rmse"`` or ``"mae"``; default ``auc`` for
        binary tasks and ``rmse`` for regression.
    patience : int, default 2
        Epochs in a row without improvement after which training stops (0 behaves as 1).
    min_delta : float, default 0.0
        The smallest change that counts as an improvement.
    restore_best : bool, default True
        Put the best epoch's weights back into the model when training ends.
    """

    metric: str | None = None
    patience: int = 2
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self) -> None:
        from .. import _validate as V

        self.patience = V.integer(self.patience, "patience", "EarlyStopping", min_value=0)
        V.choice(self.metric, sorted(HIGHER_IS_BETTER), "metric", "EarlyStopping", none_ok=True,
                 none_means="auc for binary tasks, rmse for regression")
        self.min_delta = V.number(self.min_delta, "min_delta", "EarlyStopping", min_value=0)
        self.restore_best = V.flag(self.restore_best, "restore_best", "EarlyStopping")


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (with the best epoch's weights when early stopping restored them).
    history : list of dict
        One dict per epoch: ``epoch`` (from 1), ``train_loss``, ``rows``, ``seconds`` (training
        only), ``rows_per_s``, and with validation ``val_<metric>`` and ``val_seconds``.
    metrics : dict
        Validation metrics of the returned model (of the best epoch when weights were restored);
        empty without validation data.
    best_epoch : int or None
        The epoch whose validation metric was best (the last epoch without validation data).
    stopped_early : bool
    seconds : float
        Wall time of the whole call.
    loss_curve : list of float
        The training loss of every step, in order, across epochs (read from the device once per epoch).
    """

    model: torch.nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    loss_curve: list[float] = field(default_factory=list)

    @property
    def train_loss(self) -> float | None:
        """The last epoch's mean training loss."""
        return self.history[-1]["train_loss"] if self.history else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no model)."""
        return {"history": [dict(h) for h in self.history], "metrics": dict(self.metrics),
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early, "seconds": self.seconds}


# ----------------------------------------------------------------------------- helpers
def _device_of(loader: Any) -> torch.device:
    dev = getattr(loader, "device", None)
    return torch.device(dev) if dev is not None else torch.device("cpu")


def _unwrapped(model: Any) -> Any:
    """The model inside a DistributedDataParallel/DataParallel wrapper (whose own attributes hide
    ``task``, ``check_batch`` and the registered class a checkpoint needs); else ``model``."""
    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    return model.module if isinstance(model, wrappers) else model


def _rank0_decides(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank of a torch.distributed job (``flag`` itself in one process). Ranks validating on
    shards of their own get other metrics; deciding each for itself, one rank stopped early (or kept other best
    weights) while the others went on into a DDP all-reduce it never joined, and waited for ever."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    box = [bool(flag)]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])


def _is_main_process() -> bool:
    """Rank 0 of a torch.distributed job, or a single process: the one that writes checkpoints."""
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _task_of(model: Any, task: str | None) -> str:
    task = task or getattr(_unwrapped(model), "task", None) or "binary"
    if task not in ("binary", "regression"):
        raise ParameterError(f"task {task!r} is not supported; choose 'binary' or 'regression'")
    return task


def _check_loader(loader: Any, what: str, need_label: bool) -> None:
    if loader is None:
        raise DataError(f"no {what} data given; pass a gp.Loader")
    schema = getattr(loader, "schema", None)
    if need_label and schema is not None and getattr(schema, "label", None) is None:
        msg = (f"the {what} loader's schema has no label column ({schema!r}); training and scoring need one: "
               f"pass label=... to the Workflow (or a schema with a 'label' column)")
        raise SchemaError(msg)
    n = None
    with contextlib.suppress(TypeError):  # plain iterables have no len()
        n = len(loader)
    if n == 0 or getattr(loader, "num_rows", None) == 0:
        msg = (f"the {what} loader yields no batches (num_rows={getattr(loader, 'num_rows', None)}, "
               f"len={n}); check the data is not empty and that drop_last with batch_size > rows is not dropping everything")
        raise DataError(msg)


def _check_model_fits(model: Any, loader: Any, what: str) -> Any:
    """The loader, checked against the columns the model was built for before any batch (SchemaError if they differ).

    A model reads batches by position: ``batch.cat[:, k]`` feeds its k-th embedding table. So a model
    that knows its columns by name (built with ``from_schema``) is matched with the loader's schema by
    name: the same continuous and categorical columns (in another order, the batches are rearranged into
    the model's: the loader returned wraps them), and categorical ids that fit its tables (a column from
    the same kind of encoder with another cardinality holds another vocabulary, so its ids mean other
    values). A model built without names is held to the cardinalities, by position. Comparing schemas
    proves every batch fits without reading any; an id past a table would otherwise be an IndexError on
    the CPU and a device-side assert (which kills the CUDA context) on a GPU.
    """
    schema = getattr(loader, "schema", None)
    inner = _unwrapped(model)
    cards = getattr(inner, "cardinalities", None)
    if schema is None or cards is None or not hasattr(schema, "cardinalities"):
        return loader
    advice = ("build the loader from the same Workflow's output (gp.Loader(frame, schema=model.schema)), or the "
              "model from the loader's schema (TabularMLP.from_schema(wf.output_schema))")
    named = getattr(inner, "named", False)
    order: dict[str, list[int] | None] = {"cont": None, "cat": None}
    if named:
        for role, mine, theirs in (("cat", list(inner.cat_names), list(schema.cat)),
                                   ("cont", list(inner.cont_names), list(schema.cont))):
            if mine == theirs:
                continue
            if sorted(mine) != sorted(theirs) or len(set(mine)) != len(mine):
                what_role = "categorical" if role == "cat" else "continuous"
                msg = (f"the {what} loader has {what_role} columns {theirs}, but the model was built for {mine} "
                       f"(missing {[c for c in mine if c not in theirs]}, extra {[c for c in theirs if c not in mine]}); "
                       f"{advice}")
                raise SchemaError(msg)
            order[role] = [theirs.index(c) for c in mine]  # the same columns in another order: rearranged
    have = schema.cardinalities
    wanted = list(inner.cat_names) if named else list(schema.cat)
    model_schema = getattr(inner, "schema", None)
    bad = {}
    for c, m in zip(wanted, cards, strict=False):
        d = have.get(c)
        if d is None:
            continue
        encoded_alike = (model_schema is not None and c in model_schema
                         and model_schema[c].properties.get("op") is not None
                         and model_schema[c].properties.get("op") == schema[c].properties.get("op"))
        # the same cardinality from another fit (a refit Workflow): ids of other values
        refit = encoded_alike and model_schema[c].other_fit(schema[c])
        if int(d) > int(m) or (encoded_alike and int(d) != int(m)) or refit:
            bad[c] = (int(d), int(m), refit)
    if bad:
        other = " (another fit of its vocabulary or other boundaries)"
        detail = ", ".join(f"{c!r}: data {d} ids, model {m}" + (other if refit else "") for c, (d, m, refit) in bad.items())
        if any(refit for _, _, refit in bad.values()):  # model.schema would pass the check, not fix the ids
            advice = ("the Workflow was fitted again, or its Bucketize boundaries changed, after the model was built, "
                      "so its ids name other values: "
                      "transform the data with the Workflow the model was trained with (the one saved with it), or "
                      "train a model on the refit Workflow's output")
        msg = (f"the {what} loader's categorical columns do not fit the model's embeddings ({detail}): more ids "
               f"than a table has, or another vocabulary of the same encoder. {advice}")
        raise SchemaError(msg)
    if order["cont"] is None and order["cat"] is None:
        return loader
    return _InModelOrder(loader, order["cont"], order["cat"])


class _InModelOrder:
    """A loader whose batches hold the model's columns in the model's order (one column gather per batch)."""

    def __init__(self, loader: Any, cont: list[int] | None, cat: list[int] | None) -> None:
        self._loader, self._cont, self._cat = loader, cont, cat

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def __iter__(self) -> Any:
        from ..tensors.loader import Batch

        cont_idx = cat_idx = None
        for batch in self._loader:
            if cont_idx is None:
                dev = batch.cont.device
                cont_idx = None if self._cont is None else torch.tensor(self._cont, device=dev)
                cat_idx = None if self._cat is None else torch.tensor(self._cat, device=dev)
            yield Batch(batch.cont if cont_idx is None else batch.cont.index_select(1, cont_idx),
                        batch.cat if cat_idx is None else batch.cat.index_select(1, cat_idx), batch.label)


def _bad_binary_labels(label: torch.Tensor) -> torch.Tensor:
    """0-d bool tensor on the label's device: True if any label is not 0 or 1 (no host sync)."""
    return ((label != 0) & (label != 1)).any()


def _check_binary_labels_up_front(loader: Any, what: str) -> None:
    """The binary label check, before any training step, for a loader whose labels are one tensor already (an
    in-memory gp.Loader: one reduction on its device). Other loaders are checked as their batches pass (see
    _train_epoch), which costs an epoch of training, and changes the model's weights, before the error."""
    table = getattr(loader, "table", None)
    label = getattr(getattr(loader, "schema", None), "label", None)
    if table is None or label is None or not hasattr(table, "columns") or label not in table.columns:
        return
    if bool(_bad_binary_labels(table.columns[label])):
        raise _binary_label_error(what)


def _binary_label_error(what: str) -> DataError:
    return DataError(f"the {what} labels hold values other than 0 and 1, but the task is binary; encode the label as "
                     "0/1, or use task='regression' (a model built with task='regression')")


def _amp_context(device: torch.device, amp: bool | None) -> Any:
    """bf16 autocast: on by default on CUDA, off on CPU; ``amp=True``/``False`` forces it."""
    enabled = device.type == "cuda" if amp is None else bool(amp)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def _label_of(batch: Any, what: str) -> torch.Tensor:
    label = getattr(batch, "label", None)
    if label is None:
        msg = f"a {what} batch has no label; build the loader from a schema with a label column"
        raise SchemaError(msg)
    return label


def _progress(loader: Any, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    epoch_rows = getattr(loader, "_epoch_rows", None)  # this rank's rows (gp.Loader), not every rank's
    total = epoch_rows() if callable(epoch_rows) else getattr(loader, "num_rows", None)
    bs = getattr(loader, "batch_size", None)
    try:
        if total is not None and bs:
            total = min(int(total), len(loader) * int(bs))  # drop_last shortens the epoch
    except TypeError:
        pass
    return tqdm(total=total, desc=desc, unit="rows", unit_scale=True, disable=not enabled, leave=True,
                dynamic_ncols=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _outputs(model: Any, loader: Any, device: torch.device, amp: bool | None, with_labels: bool,
             what: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Model outputs (float32, on device) for every batch, and the labels; one concatenation at the end."""
    was_training = model.training
    model.eval()
    outs: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    checked = False
    try:
        with torch.inference_mode(), _amp_context(device, amp):
            for batch in loader:
                if not checked and hasattr(_unwrapped(model), "check_batch"):
                    _unwrapped(model).check_batch(batch.cont, batch.cat)
                    checked = True
                outs.append(model(batch.cont, batch.cat).float().reshape(-1))
                if with_labels:
                    labels.append(_label_of(batch, what).reshape(-1))
    finally:
        model.train(was_training)
    if not outs:
        raise DataError(f"the {what} loader yielded no batches; check the data is not empty")
    return torch.cat(outs), (torch.cat(labels) if with_labels else None)


def _scores(out: torch.Tensor, task: str) -> torch.Tensor:
    return torch.sigmoid(out) if task == "binary" else out


def _check_model_arg(model: Any, where: str) -> None:
    """ParameterError unless ``model`` is a torch module whose forward takes ``(cont, cat)``."""
    import inspect

    from .. import _validate as V

    accepted = "a torch.nn.Module whose forward takes (cont, cat), e.g. gp.models.TabularMLP.from_schema(schema)"
    if not isinstance(model, torch.nn.Module):
        hint = "load a saved model with gp.load_checkpoint(directory)" if isinstance(model, (str, os.PathLike)) else ""
        V.fail(where, "model", model, accepted, hint)
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL for p in params):
        V.fail(where, "model", model, accepted, f"{type(model).__name__}.forward takes {len(positional)} input(s)")


def _check_loader_arg(loader: Any, name: str, where: str, *, none_ok: bool = False) -> None:
    """ParameterError naming what was given unless ``loader`` is a gp.Loader or an iterable of batches
    (objects with ``.cont``, ``.cat`` and ``.label``): a frame, an array, a dict or None is refused with the fix."""
    import numbers

    from .. import _validate as V
    from ..tensors.loader import Loader

    if isinstance(loader, Loader) or (loader is None and none_ok):
        return
    accepted = "a gp.Loader (or an iterable of batches with .cont, .cat and .label)"
    hint = ""
    if hasattr(loader, "columns") or hasattr(loader, "iter_partitions") or type(loader).__name__ == "TensorTable":
        hint = "wrap it: gp.Loader(data, schema=wf.output_schema)"
    elif type(loader).__module__.startswith("pyarrow"):
        hint = "convert it with gp.from_arrow(...), then wrap it: gp.Loader(frame, schema=...)"
    bad = (loader is None or hint or isinstance(loader, (str, bytes, numbers.Number, Mapping))
           or hasattr(loader, "dtype") or not hasattr(loader, "__iter__"))
    if not bad and isinstance(loader, (list, tuple)):
        bad = not loader or not all(hasattr(b, "cont") and hasattr(b, "cat") for b in loader)
    if bad:
        V.fail(where, name, loader, accepted, hint)


def _has_batchnorm(model: Any) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(m, torch.nn.SyncBatchNorm)
               for m in model.modules())


def _one_row_batch_error(rows: int | None, batch_size: int | None, world_size: int) -> ParameterError:
    where = "gp.train: the model has BatchNorm layers, which cannot train on a batch of 1 row"
    if batch_size == 1:
        return ParameterError(f"{where}, and batch_size=1 makes every batch 1 row; pass batch_size >= 2 to the "
                              "gp.Loader")
    if rows is None:
        detail = "a training batch has 1 row"
    else:
        detail = (f"the last batch of each epoch has 1 row ({rows} rows per epoch"
                  + (" on each rank" if world_size > 1 else "") + f", batch_size={batch_size})")
    return ParameterError(f"{where}, and {detail}; pass drop_last=True to the gp.Loader (it drops that batch), or "
                          "choose a batch_size that does not leave 1 row over")


def _check_one_row_batches(model: Any, loader: Any) -> None:
    """ParameterError before training when the model has BatchNorm layers and an epoch of ``loader`` holds a
    1-row batch (torch's BatchNorm raises "Expected more than 1 value per channel" at that batch, at the end of
    the first epoch). The rows come from the loader's size, batch_size, drop_last and world_size, without reading
    it; a loader of unknown size is checked at that batch instead (see _train_epoch)."""
    from .. import _validate as V

    if not _has_batchnorm(model):
        return
    bs = getattr(loader, "batch_size", None)
    if not V.is_integer(bs) or int(bs) < 1:
        return
    bs = int(bs)
    world = getattr(loader, "world_size", 1)
    world = int(world) if V.is_integer(world) and int(world) >= 1 else 1
    epoch_rows = getattr(loader, "_epoch_rows", None)
    if callable(epoch_rows):
        rows = epoch_rows()
    else:
        total = getattr(loader, "num_rows", None)
        rows = math.ceil(int(total) / world) if V.is_integer(total) else None
    if rows is None or rows < 1:
        return
    if bs == 1:
        raise _one_row_batch_error(rows, bs, world)
    if getattr(loader, "drop_last", False) is not True and rows % bs == 1:
        raise _one_row_batch_error(rows, bs, world)


def _check_no_rows_dropped(loader: Any, where: str = "gp.predict", param: str = "loader",
                           lost: str = "scores would be missing for them",
                           build: str = "gp.Loader(..., shuffle=False, drop_last=False)") -> None:
    """ParameterError when a ``drop_last`` loader's epoch ends in a short batch, which it drops: ``predict`` would
    return fewer scores than rows, with no row saying which are missing, and ``evaluate`` (or validation) would
    score a subset of the rows. Decided from the loader's size (a loader whose size is not known before reading it
    is refused, as it may drop rows); a loader without ``drop_last=True`` passes."""
    from .. import _validate as V

    if getattr(loader, "drop_last", False) is not True:
        return
    bs = getattr(loader, "batch_size", None)
    epoch_rows = getattr(loader, "_epoch_rows", None)
    rows = epoch_rows() if callable(epoch_rows) else None
    if rows is not None and V.is_integer(bs) and int(bs) >= 1 and rows % int(bs) == 0:
        return
    dropped = (f"it drops the last {rows % int(bs)} of its {rows} rows" if rows is not None and V.is_integer(bs)
               and int(bs) >= 1 else "it may drop the last rows")
    V.fail(where, f"{param}.drop_last", True, "False",
           f"{dropped} (a batch shorter than batch_size={bs}), so {lost}: build it with {build}")


# ----------------------------------------------------------------------------- public API
def predict(model: torch.nn.Module, loader: Iterable[Any], *, task: str | None = None,
            amp: bool | None = False) -> torch.Tensor:
    """Scores for every row of ``loader``, in its order, on its device.

    Probabilities of the positive class (float32) for binary models, predicted values for
    regression. ``amp`` defaults to off so scores keep full float32 precision.

    The scores are in the loader's row order, so the loader must not shuffle: build it with
    ``gp.Loader(data, shuffle=False, ...)`` (``shuffle=True`` is ``gp.Loader``'s default, for
    training). Score ``i`` is then row ``i`` of the data.

    Raises
    ------
    ParameterError
        ``loader.shuffle`` is True, ``loader.world_size`` is above 1 (a rank's share of the rows),
        or ``loader.drop_last`` is True and the loader's last batch is short, so that rows would get
        no score (all checked before any batch); or a bad argument.
    SchemaError
        The loader's columns do not fit the model's.

    Examples
    --------
    >>> import torch, gpupipe as gp
    >>> from types import SimpleNamespace as NS
    >>> model = gp.models.TabularMLP([5], 1, hidden=(4,))
    >>> batches = [NS(cont=torch.zeros(3, 1), cat=torch.ones(3, 1, dtype=torch.int64), label=torch.zeros(3))]
    >>> gp.predict(model, batches).shape
    torch.Size([3])
    """
    from .. import _validate as V

    _check_model_arg(model, "gp.predict")
    _check_loader_arg(loader, "loader", "gp.predict")
    if getattr(loader, "shuffle", False) is True:
        V.fail("gp.predict", "loader.shuffle", True, "False",
               "scores come in the loader's order, and a shuffling loader (gp.Loader's default) draws a random "
               "order, so they would match no row of the data: build it with gp.Loader(..., shuffle=False)")
    world = getattr(loader, "world_size", 1)
    if V.is_integer(world) and int(world) > 1:
        V.fail("gp.predict", "loader.world_size", int(world), "1",
               f"a rank's loader holds every {int(world)}th row from its rank on, padded by repeating rows "
               "(DistributedSampler's split), so score i would not be row i of the data: score on one process with "
               "gp.Loader(..., shuffle=False) (world_size=1), or give each rank its own rows with world_size=1 "
               "(gp.Dataset(files[rank::world_size]))")
    _check_no_rows_dropped(loader)
    V.choice(task, ["binary", "regression"], "task", "gp.predict", none_ok=True, none_means="the model's task")
    V.flag(amp, "amp", "gp.predict", none_ok=True, none_means="on for CUDA, off on the CPU")
    _check_loader(loader, "prediction", need_label=False)
    loader = _check_model_fits(model, loader, "prediction")
    device = _device_of(loader)
    model.to(device)
    out, _ = _outputs(model, loader, device, amp, with_labels=False, what="prediction")
    return _scores(out, _task_of(model, task))


def evaluate(model: torch.nn.Module, loader: Iterable[Any], *, task: str | None = None,
             amp: bool | None = False, threads: int | None = None) -> dict[str, float]:
    """Metrics of ``model`` on ``loader``: ``auc``, ``logloss``, ``accuracy`` (binary) or ``rmse``, ``mae``.

    Computed on the loader's device (see :mod:`gpupipe.training.metrics`), read back once, over every row of the
    loader: a ``drop_last=True`` loader whose last batch is short is a ``ParameterError`` before any batch.
    ``threads`` sets torch's intra-op threads for the call, as in :func:`train`.

    Examples
    --------
    >>> import torch, gpupipe as gp
    >>> from types import SimpleNamespace as NS
    >>> model = gp.models.TabularMLP([5], 1, hidden=(4,), task="regression")
    >>> batches = [NS(cont=torch.zeros(3, 1), cat=torch.ones(3, 1, dtype=torch.int64), label=torch.zeros(3))]
    >>> sorted(gp.evaluate(model, batches))
    ['mae', 'rmse']
    """
    from .. import _validate as V

    _check_model_arg(model, "gp.evaluate")
    _check_loader_arg(loader, "loader", "gp.evaluate")
    V.choice(task, ["binary", "regression"], "task", "gp.evaluate", none_ok=True, none_means="the model's task")
    V.flag(amp, "amp", "gp.evaluate", none_ok=True, none_means="on for CUDA, off on the CPU")
    threads = V.integer(threads, "threads", "gp.evaluate", min_value=1, none_ok=True,
                        none_means="torch's current count")
    _check_loader(loader, "evaluation", need_label=True)
    _check_no_rows_dropped(loader, "gp.evaluate", lost="the metrics would leave them out",
                           build="gp.Loader(..., drop_last=False)")
    device = _device_of(loader)
    model.to(device)
    task = _task_of(model, task)
    loader = _check_model_fits(model, loader, "evaluation")
    with intra_op_threads(threads):
        out, label = _outputs(model, loader, device, amp, with_labels=True, what="evaluation")
        if task == "binary" and bool(_bad_binary_labels(label)):
            raise _binary_label_error("evaluation")
        return compute_metrics(_scores(out, task), label, task)


@contextlib.contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op thread count (process-wide) set to ``n`` inside the block, restored after; ``None``
    leaves it alone."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _tensorboard(log_dir: str | os.PathLike | None) -> Any:
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warnings.warn(f"log_dir={str(log_dir)!r} was given but TensorBoard is not installed (pip install tensorboard); "
                      "training goes on without TensorBoard scalars", RuntimeWarning, stacklevel=3)
        return None
    return SummaryWriter(log_dir=str(log_dir))


def train(
    model: torch.nn.Module,
    loader: Iterable[Any],
    val: Iterable[Any] | None = None,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    seed: int = 0,
    early_stopping: EarlyStopping | int | bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    log_dir: str | os.PathLike | None = None,
    progress: bool = True,
    amp: bool | None = None,
    task: str | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train ``model`` on ``loader``'s batches, on the loader's device.

    Parameters
    ----------
    model : torch.nn.Module
        ``forward(cont, cat)`` returning one output per row, e.g. ``gp.models.TabularMLP``, or
        one wrapped in ``DistributedDataParallel`` (then only rank 0 writes ``checkpoint``; see
        docs/distributed.md).
    loader : gp.Loader (or any iterable of batches with ``.cont``, ``.cat``, ``.label``)
        ``set_epoch(e)`` is called before each epoch when the loader has it.
    val : loader, optional
        Scored after every epoch; its metrics go to ``history`` and ``result.metrics``.
    epochs : int, default 1
    lr, optimizer, weight_decay
        ``"adam"`` or ``"adamw"`` with this learning rate and weight decay.
    seed : int, default 0
        Seeds torch's RNG (dropout) for this call only; the global RNG state is restored after.
        The same seed, model initialisation and data give identical weights on the CPU.
    early_stopping : EarlyStopping, int or bool, optional
        An int is the patience on the default metric (``auc`` / ``rmse``); needs ``val``.
    checkpoint : path, optional
        Directory for :func:`save_checkpoint`: written after each epoch that improved the
        validation metric (each epoch without ``val``), with ``extra={"epoch", "metrics"}``. It holds
        the model's weights (BatchNorm statistics included), not the optimizer's state: ``train`` on a
        model loaded from it starts Adam afresh (zero moments, step 1) and counts epochs from 1 (a
        shuffling loader draws epoch 0's order again), so its weights are not those of one longer run.
    log_dir : path, optional
        TensorBoard scalars per epoch, when ``tensorboard`` is installed (a warning otherwise).
    progress : bool, default True
        A tqdm bar per epoch showing rows/s.
    amp : bool, optional
        bf16 autocast; default on for CUDA, off on CPU. Validation always runs in float32.
    task : {"binary", "regression"}, optional
        Defaults to ``model.task`` (and must equal it when the model has one: scoring and checkpoints go
        by it). Binary trains BCE-with-logits, regression MSE.
    threads : int, optional
        torch intra-op threads for this call (``torch.set_num_threads``, which is process-wide: torch
        work in other threads meanwhile uses the same count; the previous count is restored after, so
        do not run two ``train`` calls with different counts at once). Default: torch's current count
        (torch starts with one per core; in gpupipe only :func:`gpupipe.bench.run_bench` changes it, to
        the cores the process may use, and leaves it so). On the CPU, ``threads=1`` gives the same weights on any number of
        cores and never waits for a core another process holds; more threads pay off with large
        batches and wide layers on an idle machine.

    Returns
    -------
    TrainResult

    Raises
    ------
    ParameterError
        A bad argument; or the model has BatchNorm layers and the loader's epoch ends in a 1-row
        batch (computed from its rows, ``batch_size``, ``drop_last`` and ``world_size`` before
        training; the message says to pass ``drop_last=True`` or change ``batch_size``).
    SchemaError
        If the loader's schema has no label, or batches do not fit the model's columns.
    DataError
        If a loader is empty, the loss becomes NaN/inf, or the model's validation scores hold
        NaN/inf (the message says what to try); or, for a binary task, labels other than 0/1 (for an
        in-memory ``gp.Loader``, training or validation, before any step; for other loaders, at the
        end of the epoch that holds them).

    Examples
    --------
    >>> import torch, gpupipe as gp
    >>> from types import SimpleNamespace as NS
    >>> batches = [NS(cont=torch.randn(8, 2), cat=torch.randint(0, 4, (8, 1)), label=torch.tensor([0.0, 1.0] * 4))]
    >>> model = gp.models.TabularMLP([4], 2, hidden=(4,))
    >>> result = gp.train(model, batches, val=batches, epochs=2, progress=False)
    >>> len(result.history), sorted(result.metrics)
    (2, ['accuracy', 'auc', 'logloss'])
    """
    started = time.perf_counter()
    from .. import _validate as V

    where = "gp.train"
    _check_model_arg(model, where)
    _check_loader_arg(loader, "loader", where)
    _check_loader_arg(val, "val", where, none_ok=True)
    epochs = V.integer(epochs, "epochs", where, min_value=1)
    lr = V.number(lr, "lr", where, min_value=0, min_open=True)
    optimizer = V.choice(optimizer, sorted(_OPTIMIZERS), "optimizer", where)
    weight_decay = V.number(weight_decay, "weight_decay", where, min_value=0)
    seed = V.seed(seed, where)
    _check_early_stopping_arg(early_stopping, where)
    V.output_dir(checkpoint, "checkpoint", where, none_ok=True)
    V.path(log_dir, "log_dir", where, none_ok=True)
    progress = V.flag(progress, "progress", where)
    amp = V.flag(amp, "amp", where, none_ok=True, none_means="on for CUDA, off on the CPU")
    task = V.choice(task, ["binary", "regression"], "task", where, none_ok=True, none_means="the model's task")
    threads = V.integer(threads, "threads", where, min_value=1, none_ok=True, none_means="torch's current count")
    _check_loader(loader, "training", need_label=True)
    if val is not None:
        _check_loader(val, "validation", need_label=True)
        _check_no_rows_dropped(val, where, "val", "validation metrics would leave them out", "gp.Loader(..., drop_last=False)")
    _check_one_row_batches(model, loader)
    own = getattr(_unwrapped(model), "task", None)
    if task is not None and own is not None and task != own:
        V.fail(where, "task", task, f"None or the model's own task, {own!r}",
               f"the model was built with task={own!r}, which gp.predict, gp.evaluate, its checkpoint and "
               f"batch_predict go by: trained as {task!r}, its outputs would be read as another task's "
               f"(a regression value through a sigmoid); build the model with task={task!r}")
    task = _task_of(model, task)
    if task == "binary":
        _check_binary_labels_up_front(loader, "training")
        _check_binary_labels_up_front(val, "validation")
    loader = _check_model_fits(model, loader, "training")
    if val is not None:
        val = _check_model_fits(model, val, "validation")
    if checkpoint is not None and _is_main_process():
        # the first save comes after an epoch: a model it cannot save or a place holding other files is refused now
        from .checkpoint import check_checkpointable, checkpoint_target

        check_checkpointable(_unwrapped(model), where)
        checkpoint_target(checkpoint, where=where)
    stopper = _early_stopping(early_stopping, task)
    if stopper is not None and val is None:
        raise ParameterError("gp.train: early_stopping needs validation data: pass val=<loader>")
    monitor = stopper.metric if stopper is not None else ("auc" if task == "binary" else "rmse")
    higher = HIGHER_IS_BETTER[monitor]

    device = _device_of(loader)
    model.to(device)
    loss_fn = torch.nn.BCEWithLogitsLoss() if task == "binary" else torch.nn.MSELoss()
    writer = _tensorboard(log_dir)
    result = TrainResult(model=model)
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0

    fork_devices = [device] if device.type == "cuda" else []
    with intra_op_threads(threads):
        try:
            with torch.random.fork_rng(devices=fork_devices):
                torch.manual_seed(int(seed))
                opt = Adam(model.parameters(), lr=lr, weight_decay=weight_decay,
                           decoupled_weight_decay=_OPTIMIZERS[optimizer])
                for epoch in range(1, int(epochs) + 1):
                    if hasattr(loader, "set_epoch"):
                        loader.set_epoch(epoch - 1)
                    entry = _train_epoch(model, loader, opt, loss_fn, device, amp, progress,
                                         f"epoch {epoch}/{epochs}", epoch, binary=task == "binary")
                    result.loss_curve.extend(entry.pop("_curve"))
                    if val is not None:
                        t0 = time.perf_counter()
                        try:
                            metrics = evaluate(model, val, task=task)
                        except DataError as exc:  # NaN scores, bad labels: say when, keep the advice
                            raise DataError(f"validation after epoch {epoch}: {exc}") from exc
                        entry["val_seconds"] = time.perf_counter() - t0
                        entry.update({f"val_{k}": v for k, v in metrics.items()})
                    else:
                        metrics = {}
                    result.history.append(entry)
                    if writer is not None:
                        for k, v in entry.items():
                            if k != "epoch":
                                writer.add_scalar(k.replace("val_", "val/", 1) if k.startswith("val_") else f"train/{k}",
                                                  v, epoch)
                        writer.flush()

                    value = metrics.get(monitor) if metrics else None
                    improved = value is None or best_value is None or (
                        value > best_value + (stopper.min_delta if stopper else 0.0) if higher
                        else value < best_value - (stopper.min_delta if stopper else 0.0))
                    if value is not None and value != value:  # NaN metric never improves
                        if stopper is not None or checkpoint is not None:
                            raise _undefined_monitor_error(monitor, epoch, stopper is not None)
                        improved = best_value is None
                    if val is not None:
                        improved = _rank0_decides(improved)
                    if improved:
                        best_value, result.best_epoch, bad_epochs = value, epoch, 0
                        result.metrics = dict(metrics)
                        if stopper is not None and stopper.restore_best:
                            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                        if checkpoint is not None and _is_main_process():
                            from .checkpoint import save_checkpoint

                            save_checkpoint(_unwrapped(model), checkpoint, extra={"epoch": epoch, "metrics": metrics,
                                                                      "history": result.history})
                    else:
                        bad_epochs += 1
                        # patience=k: stop at the k-th epoch in a row without improvement (Keras', Lightning's
                        # and XGBoost's count; 0 stops at the first, as 1 does)
                        if stopper is not None and bad_epochs >= stopper.patience:
                            result.stopped_early = True
                            break
                if stopper is not None and stopper.restore_best and best_state is not None:
                    # result.metrics already holds the best epoch's metrics
                    if result.best_epoch != len(result.history):
                        model.load_state_dict(best_state)
                else:
                    result.metrics = dict(metrics)  # the returned weights are the last epoch's
                    if val is None:
                        result.best_epoch = len(result.history)
        finally:
            if writer is not None:
                writer.close()
    result.seconds = time.perf_counter() - started
    return result


def _undefined_monitor_error(monitor: str, epoch: int, stopping: bool) -> DataError:
    """The validation metric that picks the best epoch is NaN: the AUC of labels holding one class. Every later
    epoch would compare as no better than the first, so early stopping would stop and restore the first epoch's
    weights, and ``checkpoint=`` would keep the first epoch, whatever the training did."""
    uses = "early stopping" if stopping else "checkpoint= (written at each epoch that improves it)"
    return DataError(f"validation after epoch {epoch}: the {monitor} is undefined (NaN: the validation labels hold "
                     f"only one class), so {uses} cannot pick the best epoch by it (it would keep epoch 1 whatever "
                     "came later); validate on rows of both classes, or monitor another metric: "
                     "early_stopping=gp.EarlyStopping(metric='logloss')"
                     + ("" if stopping else " (with patience=epochs, every epoch is trained)"))


def _check_early_stopping_arg(spec: Any, where: str) -> None:
    from .. import _validate as V

    accepted = "None, True/False, a patience (integer >= 0) or an EarlyStopping(...)"
    if spec is None or isinstance(spec, (bool, EarlyStopping)):
        return
    if isinstance(spec, Mapping):
        try:
            EarlyStopping(**spec)
        except (TypeError, ValueError) as exc:
            V.fail(where, "early_stopping", spec, accepted, str(exc))
        return
    if not V.is_integer(spec) or int(spec) < 0:
        hint = "name the metric with EarlyStopping(metric=...)" if isinstance(spec, str) else ""
        V.fail(where, "early_stopping", spec, accepted, hint)


def _early_stopping(spec: EarlyStopping | int | bool | None, task: str) -> EarlyStopping | None:
    if spec is None or spec is False:
        return None
    if spec is True:
        stopper = EarlyStopping()
    elif isinstance(spec, numbers.Integral):
        stopper = EarlyStopping(patience=int(spec))
    elif isinstance(spec, EarlyStopping):
        stopper = spec
    elif isinstance(spec, Mapping):
        stopper = EarlyStopping(**spec)
    else:
        raise ParameterError(f"early_stopping must be an EarlyStopping, an int patience or None, got {type(spec).__name__}")
    if stopper.metric is None:
        stopper = EarlyStopping(metric="auc" if task == "binary" else "rmse", patience=stopper.patience,
                                min_delta=stopper.min_delta, restore_best=stopper.restore_best)
    allowed = ("auc", "logloss", "accuracy") if task == "binary" else ("rmse", "mae")
    if stopper.metric not in allowed:
        raise ParameterError(f"early stopping metric {stopper.metric!r} is not reported for a {task} task; use one of "
                             f"{list(allowed)}")
    return stopper


def _train_epoch(model: torch.nn.Module, loader: Iterable[Any], opt: Adam, loss_fn: Any,
                 device: torch.device, amp: bool | None, progress: bool, desc: str, epoch: int,
                 binary: bool = False) -> dict[str, float]:
    model.train()
    # Each step's loss stays on the device; the whole curve is read back once, at the epoch's end.
    step_losses: list[torch.Tensor] = []
    sizes: list[int] = []
    # Labels other than 0/1 under BCE train without complaint to a meaningless model: flag them on the
    # device (no sync per batch) and read the flag once, with the loss, at the end of the epoch.
    bad_labels = torch.zeros((), dtype=torch.bool, device=device)
    rows = 0
    checked = False
    bar = _progress(loader, desc, progress)
    t0 = time.perf_counter()
    try:
        for batch in loader:
            cont, cat = batch.cont, batch.cat
            label = _label_of(batch, "training")
            if not checked:
                if hasattr(_unwrapped(model), "check_batch"):
                    _unwrapped(model).check_batch(cont, cat)
                checked = True
            n = int(label.shape[0])  # host-side metadata: no device sync
            if binary:
                bad_labels |= _bad_binary_labels(label)
            with oom_advice(f"a training step on {device} (batch of {n:,} rows)", "train"):
                with _amp_context(device, amp):
                    try:
                        out = model(cont, cat)
                    except ValueError as exc:  # torch's BatchNorm on one row: say what to change
                        if n == 1 and "more than 1 value per channel" in str(exc):
                            raise _one_row_batch_error(None, getattr(loader, "batch_size", None), 1) from exc
                        raise
                loss = loss_fn(out.float().reshape(-1), label.reshape(-1).float())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            step_losses.append(loss.detach())
            sizes.append(n)
            rows += n
            bar.update(n)
        _sync(device)
        seconds = time.perf_counter() - t0
        if rows == 0:
            raise DataError("the training loader yielded no batches this epoch; check the data is not empty")
        curve = torch.stack(step_losses).double().tolist()  # the epoch's one device -> host read
        train_loss = math.fsum(v * k for v, k in zip(curve, sizes, strict=True)) / rows
        if binary and bool(bad_labels):
            raise _binary_label_error("training")
        bar.set_postfix(loss=f"{train_loss:.4f}")
    finally:
        bar.close()
    if not math.isfinite(train_loss):
        msg = (f"the training loss became {train_loss} in epoch {epoch}: lower the learning rate (lr), check the "
               f"inputs and labels for NaN/inf or huge values (normalise continuous columns, e.g. ops.Normalize), "
               f"or turn off amp")
        raise DataError(msg)
    return {"epoch": epoch, "train_loss": train_loss, "rows": rows, "seconds": seconds,
            "rows_per_s": rows / seconds if seconds > 0 else float("inf"), "_curve": curve}
