"""Batches for training: torch DataLoader semantics, gathered in bulk on the data's device.

How a batch is made
-------------------
The feature columns are staged once into two row-major matrices, ``cont`` [N, C] float32 and
``cat`` [N, K] int64 (one copy of the features, on the data's device; a single column is a view,
not a copy). Each epoch draws one permutation of the row indices; each batch is then three bulk
``index_select`` calls (cont rows, cat rows, label) through a slice of that permutation. No
per-row Python, no per-row ``__getitem__``, no collate. Unshuffled single-process loaders need
no gather at all: their batches are slices (views) of the staged matrices, which may themselves be
views of the frame's own buffers (a single column of a role's dtype is not copied). So do not modify
batches in place (clone them first), and do not change the frame while the Loader is in use: an
unshuffled Loader would show the change in later batches, unchecked, where a shuffled one keeps the
values it staged.

On the CPU the gathers are NumPy ``take`` calls into each batch's fresh tensors: they release the
GIL and never start an OpenMP team, so gather threads neither change nor depend on torch's
intra-op thread count (``torch.set_num_threads`` in a worker thread sets the count of the whole
process, and of every thread that has not used torch's pool yet). The training loop's thread
count stays the caller's choice (``gp.train(threads=...)``).

Why this layout: ``scripts/bench_loader.py`` measures the options side by side (torch's DataLoader
over a TensorDataset, per-column gathers, ``torch.take``, row-major ``index_select`` with and
without ``out=`` buffers, and a contiguous copy of the same bytes as the bound); the figures of
the last run are in the README ("Tensors and Loader") and ``docs/bench/loader.md``. A row-major
gather moves one contiguous run of 52 (cont) and 208 (cat) bytes per row instead of 39 scattered
4-8 byte reads, which is what makes it several times faster than per-column gathers. Each batch
is a fresh tensor: gathering into reused ``out=`` buffers would invalidate a batch once the next
one is gathered. Intra-op (OpenMP) threads collapse when the cores are shared with other work,
hence gathers that use none, shared between the calling thread and helper threads (see ``workers``).

Order and sharding
------------------
The index order of an epoch is exactly torch's ``DistributedSampler``'s: with ``shuffle``, a
``torch.randperm`` drawn from a generator seeded with ``seed + epoch``; the list is padded by
repeating its head until it divides by ``world_size``, and rank ``r`` takes every
``world_size``-th index from ``r``. So ranks are disjoint (apart from the padding repeats),
together cover every row, and all get the same number of batches, which DDP needs. With
``world_size=1`` the order is that of ``DataLoader(dataset, sampler=DistributedSampler(dataset,
num_replicas=1, rank=0, seed=seed))`` after ``set_epoch(epoch)``. The permutation is drawn on the
CPU, so CPU and GPU runs see the same batches; on a GPU it is uploaded once per epoch (4 bytes per
row), the only host → device copy of an epoch, and nothing is read back.

The epoch advances by one at every ``iter(loader)``; ``set_epoch(e)`` sets the epoch the next
iteration uses, as with ``DistributedSampler``.

Datasets
--------
A ``gp.Dataset`` is streamed partition by partition: the next partition is computed, turned
into tensors and staged in a background thread while the current one is batched. With
``shuffle``, partitions are visited in a random order (per epoch) and rows are shuffled within
each partition; batches keep their full size across partition boundaries (the tail of one
partition is joined with the head of the next). With ``world_size > 1`` every rank reads every
partition and takes its ``DistributedSampler`` share of the epoch's row order (the partitions'
orders one after the other): rank ``r`` the rows at positions ``r, r + world_size, ...``, the
order padded once, at its end, by repeating its head. So ranks stay disjoint apart from at most
``world_size - 1`` padding rows, and equal in length, however many (or small) the partitions.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DataError, GpupipeError, SchemaError, oom_advice
from ..schema import ColumnSchema, Schema
from . import audit
from .convert import TensorTable, is_frame, not_a_frame_hint, resolve_schema, to_tensors

if TYPE_CHECKING:
    import torch

__all__ = ["Batch", "Loader"]


@dataclass
class Batch:
    """One batch: ``cont`` [B, C] float32, ``cat`` [B, K] int64, ``label`` [B] float32 or ``None``.

    Groups without columns are empty tensors ([B, 0]). Unpacks as ``cont, cat, label = batch``.
    """

    cont: torch.Tensor
    cat: torch.Tensor
    label: torch.Tensor | None

    def __len__(self) -> int:
        return int(self.cont.shape[0])

    def __iter__(self) -> Iterator[torch.Tensor | None]:
        return iter((self.cont, self.cat, self.label))

    @property
    def device(self) -> torch.device:
        return self.cont.device

    def to(self, device: Any, non_blocking: bool = False) -> Batch:
        """This batch on ``device``."""
        return Batch(self.cont.to(device, non_blocking=non_blocking), self.cat.to(device, non_blocking=non_blocking),
                     None if self.label is None else self.label.to(device, non_blocking=non_blocking))


@dataclass
class _Staged:
    """Row-major features of one table (or partition), ready for bulk gathers."""

    cont: torch.Tensor
    cat: torch.Tensor
    label: torch.Tensor | None

    @property
    def rows(self) -> int:
        return int(self.cont.shape[0])

    def gather(self, idx: torch.Tensor, record: bool = True) -> Batch:
        """Rows ``idx`` as a batch; ``record``: counted in the audit here (else by whoever hands it on)."""
        if self.cont.device.type == "cpu":
            out = Batch(_take_rows(self.cont, idx), _take_rows(self.cat, idx),
                        None if self.label is None else _take_rows(self.label, idx))
        else:
            out = Batch(self.cont.index_select(0, idx), self.cat.index_select(0, idx),
                        None if self.label is None else self.label.index_select(0, idx))
        if record and audit._recording():
            audit.record_gather(_batch_bytes(out))
        return out

    def slice(self, start: int, stop: int) -> Batch:
        return Batch(self.cont[start:stop], self.cat[start:stop],
                     None if self.label is None else self.label[start:stop])


_NUMPY_DTYPES: set[Any] = set()


def _take_rows(matrix: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows ``idx`` of a CPU tensor in a fresh tensor, gathered by NumPy: the GIL is released and no
    OpenMP team is started, whatever torch's thread count (``index_select`` would start one per call
    and need one intra-op thread per gathering thread). ``idx`` holds valid row numbers (int64)."""
    import numpy as np
    import torch

    if not _NUMPY_DTYPES:
        _NUMPY_DTYPES.update({torch.float16, torch.float32, torch.float64, torch.int8, torch.int16, torch.int32,
                              torch.int64, torch.uint8, torch.bool})
    if matrix.dtype not in _NUMPY_DTYPES:  # bfloat16 and the like: NumPy has no such dtype
        return matrix.index_select(0, idx)
    out = torch.empty((int(idx.shape[0]), *matrix.shape[1:]), dtype=matrix.dtype)
    # mode="clip": no bounds check (the indices come from epoch_indices) and no buffered copy of out
    np.take(matrix.numpy(), idx.numpy(), axis=0, out=out.numpy(), mode="clip")
    return out


def _batch_bytes(b: Batch) -> int:
    n = b.cont.numel() * 4 + b.cat.numel() * 8
    return n + (0 if b.label is None else b.label.numel() * 4)


def _stack(tt: TensorTable, names: list[str], dtype: torch.dtype, what: str) -> torch.Tensor:
    """[N, len(names)] row-major matrix: a view for one column, one copy otherwise."""
    import torch

    n = tt.num_rows
    if not names:
        return torch.empty((n, 0), dtype=dtype, device=tt.device)
    if len(names) == 1:
        return tt[names[0]].unsqueeze(1)
    out = torch.stack([tt[c] for c in names], dim=1)
    audit.record_event("staging", out.element_size() * out.numel(), f"{what} [{n}, {len(names)}]",
                       "row-major matrix for bulk gathers")
    return out


class _Records:
    """One CPU table's rows as records of 4-byte slots, ``[N, C + K (+ 1)]``: the continuous features
    (float32), the categorical ids (int32 bits; only when every id fits) and the label (float32).

    A shuffled batch is then one gather of contiguous ``4 * (C + K + 1)``-byte rows (160 bytes for
    Criteo's 13 + 26 + 1, 2.5 cache lines) instead of three gathers from three matrices (52 + 208 + 4
    bytes in 7 lines), followed by three copies out of the gathered block while it is in cache,
    the ids widened to int64 on the way. The records are allocated with transparent huge pages advised
    (``madvise(MADV_HUGEPAGE)``; a long-lived matrix read at random pays for them many times over: one
    TLB entry per 2 MiB instead of per 4 KiB).
    """

    def __init__(self, records: Any, n_cont: int, n_cat: int, has_label: bool) -> None:
        self.records = records
        self.n_cont, self.n_cat, self.has_label = n_cont, n_cat, has_label

    @property
    def rows(self) -> int:
        return int(self.records.shape[0])

    def _split(self, block: Any) -> Batch:
        import numpy as np
        import torch

        n, c, k = block.shape[0], self.n_cont, self.n_cat
        cont = torch.empty((n, c), dtype=torch.float32)
        cat = torch.empty((n, k), dtype=torch.int64)
        if c:
            # each row's floats as one opaque 4*c-byte item: one strided loop of n copies instead of n
            # loops of c floats (half the time for Criteo's 13)
            item = f"V{4 * c}"
            np.copyto(cont.numpy().view(np.uint8).view(item), block.view(np.uint8)[:, :4 * c].view(item))
        np.copyto(cat.numpy(), block.view(np.int32)[:, c:c + k])  # ids widened to int64 on the way
        label = None
        if self.has_label:
            label = torch.empty(n, dtype=torch.float32)
            np.copyto(label.numpy(), block[:, c + k])
        return Batch(cont, cat, label)

    def gather(self, idx: torch.Tensor, record: bool = True) -> Batch:
        """Rows ``idx`` as a batch; ``record``: counted in the audit here (else by whoever hands it on)."""
        import numpy as np

        # mode="clip": no bounds check (the indices come from epoch_indices); the GIL is released
        out = self._split(np.take(self.records, idx.numpy(), axis=0, mode="clip"))
        if record and audit._recording():
            audit.record_gather(_batch_bytes(out))
        return out

    def slice(self, start: int, stop: int) -> Batch:
        return self._split(self.records[start:stop])


def _huge_page_array(rows: int, width: int) -> Any:
    """An uninitialised float32 ``[rows, width]`` array; from 8 MiB up, in anonymous memory with
    transparent huge pages advised (where the platform has them)."""
    import contextlib
    import errno
    import mmap

    import numpy as np

    nbytes = rows * width * 4
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if nbytes < 8 << 20 or advice is None:
        return np.empty((rows, width), dtype=np.float32)
    try:
        buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except OSError as exc:
        if exc.errno != errno.ENOMEM:
            raise
        # what np.empty raises for the same request, so the caller's oom_advice names it as out of memory
        raise MemoryError(f"cannot allocate {nbytes:,} bytes for the loader's row records") from exc
    with contextlib.suppress(OSError):  # THP unsupported here: 4 KiB pages then
        buf.madvise(advice)
    return np.frombuffer(buf, dtype=np.float32).reshape(rows, width)


def _ids_fit_int32(columns: list[torch.Tensor]) -> bool:
    import torch

    for col in columns:
        if col.numel():
            lo, hi = torch.aminmax(col)
            if int(lo) < -(2**31) or int(hi) >= 2**31:
                return False
    return True


def _records(tt: TensorTable) -> _Records | None:
    """The table as :class:`_Records`, or None when it cannot be (ids beyond int32, dtypes other than
    the roles' float32 / integer)."""
    import numpy as np
    import torch

    sch = tt.schema
    label = sch.label
    cont = [tt[c] for c in sch.cont]
    cat = [tt[c] for c in sch.cat]
    lab = None if label is None else tt[label]
    if any(t.dtype != torch.float32 for t in cont) or (lab is not None and lab.dtype != torch.float32) \
            or any(t.dtype.is_floating_point or t.dtype.is_complex for t in cat) or not _ids_fit_int32(cat):
        return None
    n, c, k = tt.num_rows, len(cont), len(cat)
    width = c + k + (lab is not None)
    if width == 0:
        return None
    rec = _huge_page_array(n, width)
    ints = rec.view(np.int32)
    sources = [(rec, j, t.numpy()) for j, t in enumerate(cont)] + [(ints, c + j, t.numpy()) for j, t in enumerate(cat)]
    if lab is not None:
        sources.append((rec, c + k, lab.numpy()))
    step = 1 << 15  # rows per block: the block's records (5 MiB for Criteo) stay in cache while each column is written
    for start in range(0, n, step):
        stop = min(n, start + step)
        for dst, j, col in sources:
            np.copyto(dst[start:stop, j], col[start:stop], casting="unsafe")
    audit.record_event("staging", rec.nbytes, f"rows [{n}, {c}+{k}+{int(lab is not None)}]",
                       "row records for bulk gathers")
    return _Records(rec, c, k, lab is not None)


def _stage(tt: TensorTable, records: bool = False) -> _Staged | _Records:
    """The table ready for batches: as :class:`_Records` when ``records`` (CPU gathers), else as matrices
    (the device's ``index_select``, or views for sequential batches)."""
    import torch

    label = tt.schema.label
    with oom_advice(f"staging {tt.num_rows:,} rows of features on {tt.device}", "tensors"):
        if records and tt.device.type == "cpu":
            staged = _records(tt)
            if staged is not None:
                return staged
        return _Staged(_stack(tt, tt.schema.cont, torch.float32, "cont"),
                       _stack(tt, tt.schema.cat, torch.int64, "cat"), None if label is None else tt[label])


def epoch_indices(n: int, *, epoch: int, seed: int, shuffle: bool, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Row indices of ``rank`` for ``epoch``: torch's ``DistributedSampler`` order (drop_last=False).

    int32 when ``n < 2**31``: ``torch.randperm`` draws the same permutation in either dtype, and in
    int32 twice as fast (14 vs 30 ms for 2M rows on the build machine: its swaps touch half the memory).

    Examples
    --------
    >>> from gpupipe.tensors.loader import epoch_indices
    >>> epoch_indices(5, epoch=0, seed=0, shuffle=False, rank=1, world_size=2).tolist()
    [1, 3, 0]
    """
    import torch

    dtype = torch.int32 if n < 2**31 else torch.int64
    if shuffle:
        g = torch.Generator()
        g.manual_seed(seed + epoch)
        indices = torch.randperm(n, generator=g, dtype=dtype)
    else:
        indices = torch.arange(n, dtype=dtype)
    if world_size > 1:
        total = math.ceil(n / world_size) * world_size
        pad = total - n
        if pad:
            reps = math.ceil(pad / n)
            indices = torch.cat([indices, indices.repeat(reps)[:pad]])
        indices = indices[rank:total:world_size]
    return indices


def _check_data(data: Any) -> None:
    """ParameterError naming what was given when ``data`` is not a frame, a dataset or a TensorTable."""
    if isinstance(data, TensorTable) or hasattr(data, "iter_partitions"):
        return
    if is_frame(data):
        return  # a pandas/cuDF DataFrame (to_tensors checks the rest)
    from .. import _validate as V

    V.fail("gp.Loader", "data", data, "a pandas or cuDF DataFrame, a gp.Dataset or a TensorTable",
           not_a_frame_hint(data))


def _check_table(tt: TensorTable) -> None:
    """A TensorTable given to the Loader (perhaps built by hand, perhaps with another schema) holds what its schema
    says, as :func:`to_tensors` makes it: continuous columns float32 and finite, categorical ids int64 within their
    cardinality, a finite float32 label. A SchemaError names a column of another dtype, a DataError one of other
    values (one reduction per column, on the table's device), before any batch."""
    import torch

    from .convert import _validate

    want = {"cont": torch.float32, "cat": torch.int64, "label": torch.float32}
    cards = tt.schema.cardinalities
    for col in tt.schema:
        t = tt[col.name]
        if t.dtype != want[col.role]:
            msg = (f"gp.Loader: TensorTable column {col.name!r} is {t.dtype} but its schema makes it {col.role} "
                   f"({want[col.role]}); build the table with gp.to_tensors(frame, schema=...), which converts each "
                   "column to its role's dtype")
            raise SchemaError(msg)
        _validate(col.name, col.role, cards.get(col.name), t)


def _infer_part(label: str | None, part: Any) -> tuple[int, Schema]:
    return len(part), Schema.infer(part, label=label)


def _infer_dataset_schema(ds: Any, label: str | None) -> tuple[Schema, list[int]]:
    """The schema :meth:`Schema.infer` gives the whole dataset, and each partition's rows, in one pass.

    Roles and dtypes come from the partitions (the same in each, else a SchemaError); each categorical
    cardinality is the largest over all partitions (``max id + 1`` of the whole column), so every
    partition's ids fit it. ``map_partials`` computes the partitions in parallel when the dataset has it."""
    import functools

    fn = functools.partial(_infer_part, label)
    if callable(getattr(ds, "map_partials", None)):
        found = list(ds.map_partials(fn))
    else:
        found = [fn(part) for part in ds.iter_partitions()]
    if not found:
        msg = "the dataset has no partitions; nothing to load"
        raise DataError(msg)
    first = found[0][1]
    roles = [(c.name, c.role) for c in first]
    cards = dict(first.cardinalities)
    for i, (_, sch) in enumerate(found[1:], start=1):
        if [(c.name, c.role) for c in sch] != roles:
            differ = [f"{a.name!r}: {a.role} ({a.dtype}) in partition 0, {b.role} ({b.dtype}) in partition {i}"
                      for a, b in zip(first, sch, strict=False) if (a.name, a.role) != (b.name, b.role)]
            detail = "; ".join(differ) or "other columns"
            msg = (f"the schema inferred from the dataset's partitions differs between them ({detail}); "
                   "pass the schema: gp.Loader(dataset, schema=wf.output_schema)")
            raise SchemaError(msg)
        for name, card in sch.cardinalities.items():
            cards[name] = max(cards[name], card)
    schema = Schema(ColumnSchema(c.name, c.role, c.dtype, cards.get(c.name), c.properties) for c in first)
    return schema, [int(n) for n, _ in found]


class _Shard:
    """One rank's share of a dataset's epoch, as ``DistributedSampler`` splits the epoch's whole row order (the
    partitions' orders one after the other): rank ``r`` takes the rows at positions ``r, r + world_size, ...``,
    and the order is padded by repeating its head until it divides by ``world_size``. Padding each partition
    instead would repeat up to ``world_size - 1`` rows per partition (every row of one-row partitions).

    Fed the partitions in the epoch's order (:meth:`take`), it keeps the rows seen so far and the first
    ``world_size - 1`` rows of the epoch; :meth:`padding` is then this rank's padding row, if it has one."""

    def __init__(self, rank: int, world_size: int, on_device: Any) -> None:
        self.rank, self.world_size, self.on_device = rank, world_size, on_device
        self.rows = 0
        self.head: list[Batch] = []

    def take(self, staged: _Staged | _Records, order: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a partition whose rows come in ``order`` (all of them, on the CPU)."""
        w = self.world_size
        if w == 1:
            return order
        n = int(order.shape[0])
        if self.rows < w - 1 and n:
            self.head.append(staged.gather(self.on_device(order[:w - 1 - self.rows])))
        first = (self.rank - self.rows) % w  # the partition's first row sits at position self.rows of the epoch
        self.rows += n
        return order[first::w]

    def padding(self) -> Batch | None:
        """This rank's padding row: the epoch's row at position ``(rank - rows % world_size) % rows``, for the ranks
        that ``rows`` (not a multiple of ``world_size``) leaves one row short; else None."""
        n, w = self.rows, self.world_size
        if w == 1 or n == 0 or self.rank < n % w or n % w == 0:
            return None
        k = (self.rank - n % w) % n
        head = _concat(self.head)
        return Batch(head.cont[k:k + 1], head.cat[k:k + 1], None if head.label is None else head.label[k:k + 1])


def _part_seed(seed: int, epoch: int, part: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, epoch, part]).generate_state(1)[0])


class Loader:
    """Iterate over batches of a frame, a gp.Dataset or a TensorTable, with DataLoader semantics.

    Parameters
    ----------
    data : pandas/cuDF/Polars DataFrame, gp.Dataset or TensorTable
        A frame goes through :func:`gpupipe.to_tensors` (zero-copy where it can). A dataset
        (anything with ``iter_partitions()`` and ``num_partitions``) is streamed partition by
        partition, the next one prepared in a background thread.
    batch_size : int, default 65536
        Rows per batch; must be positive.
    shuffle : bool, default True
        Draw a new order every epoch.
    seed : int, default 0
        With ``shuffle``, epoch ``e`` uses the order drawn from ``seed + e``: identical for
        identical ``(seed, epoch)`` on every run and every device.
    drop_last : bool, default False
        Drop the last batch of an epoch when it is shorter than ``batch_size``.
    schema : Schema or Workflow, optional
        Roles of the columns (``wf.output_schema``). Default: the TensorTable's schema, or one
        inferred with :meth:`gpupipe.Schema.infer` (``label`` names the label column). For a
        dataset the inference reads every partition once, when the Loader is built (in
        parallel where the dataset can): each categorical cardinality is ``max id + 1`` over the
        whole dataset, not over one partition, so no later partition holds an id past its
        embedding table; the partition sizes found on the way make ``len(loader)`` known. Pass
        ``schema=wf.output_schema`` to skip that pass (and to get the Workflow's cardinalities).
    device : str or torch.device, optional
        Where batches live. Default: the data's device. ``"cuda"`` with pandas data is hybrid
        mode (each column uploaded once, batches gathered on the GPU).
    rank, world_size : int, default 0, 1
        This process's share of the rows, as torch's ``DistributedSampler`` splits them.
    label : str, optional
        Name of the label column when the schema is inferred.
    workers : int, optional
        Helper threads that gather shuffled CPU batches ahead of the consumer, in turn with the
        calling thread, which gathers its share itself (default 1 with two cores or more, else 0;
        0 gathers every batch in the calling thread). Gathers use NumPy: no OpenMP team, torch's
        thread count untouched. Batches still come in order. CUDA batches are gathered by
        asynchronous kernels and need none.

    Attributes
    ----------
    schema : Schema
    device : torch.device
    num_rows : int or None
        Rows of the data (all ranks); ``None`` for a dataset whose length is not known until it
        has been read once.
    epoch : int
        The epoch the next iteration uses.

    Raises
    ------
    ParameterError
        An argument of the wrong type or value, checked before any work: ``batch_size`` not a
        positive integer, ``shuffle="no"`` (flags are bools), ``rank`` outside ``[0, world_size)``,
        ``device="gpu"``...; also data that is not a frame, dataset or TensorTable.
    BackendUnavailableError
        ``device`` is a CUDA device and none is usable here.
    SchemaError
        ``label`` (schema inferred) is not a column of the data; a dataset whose partitions give
        different roles to a column (schema inferred); a TensorTable column whose dtype is not its
        role's (float32 continuous and label, int64 categorical).
    DataError
        The data has no rows; a continuous column or the label holds NaN, nulls or ±inf (the
        message names the column and how to fill or drop them: ops.FillMissing / ops.FillMedian,
        ops.Dropna), or a categorical id lies outside ``[0, cardinality)``. A frame is checked
        when the Loader is built, before any batch (a TensorTable too, against the schema it is
        given: it may be built by hand or come with another schema); a dataset's partition when
        it is read, before its first batch.

    Examples
    --------
    >>> import numpy as np, pandas as pd, gpupipe as gp
    >>> df = pd.DataFrame({"x": np.arange(10, dtype="float32"), "c": np.arange(10) % 3,
    ...                    "y": np.ones(10, dtype="float32")})
    >>> loader = gp.Loader(df, batch_size=4, schema=gp.Schema.infer(df, label="y"), seed=1)
    >>> len(loader), [len(b) for b in loader]
    (3, [4, 4, 2])
    >>> batch = next(iter(loader))
    >>> batch.cont.shape, batch.cat.dtype, batch.label.shape
    (torch.Size([4, 1]), torch.int64, torch.Size([4]))
    """

    def __init__(self, data: Any, batch_size: int = 65536, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, schema: Any = None, device: Any = None, rank: int = 0,
                 world_size: int = 1, *, label: str | None = None, workers: int | None = None) -> None:
        import torch

        from .. import _validate as V
        from .convert import check_schema_param

        where = "gp.Loader"
        batch_size = V.integer(batch_size, "batch_size", where, min_value=1)
        shuffle = V.flag(shuffle, "shuffle", where)
        seed = V.seed(seed, where)
        drop_last = V.flag(drop_last, "drop_last", where)
        world_size = V.integer(world_size, "world_size", where, min_value=1)
        rank = V.integer(rank, "rank", where, min_value=0, max_value=world_size - 1)
        workers = V.integer(workers, "workers", where, min_value=0, none_ok=True,
                            none_means="1 with two cores or more, else 0; 0 gathers in the calling thread only")
        device = V.device(device, where)  # before any work: no pinned allocation for a missing device
        label = V.string(label, "label", where, none_ok=True)
        check_schema_param(schema, "schema", where)
        _check_data(data)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        if workers is None:
            workers = 1 if (os.cpu_count() or 1) >= 2 else 0
        self.workers = workers
        self._dataset = None
        self._staged: _Staged | _Records | None = None
        self._part_rows: list[int] | None = None
        if hasattr(data, "iter_partitions") and not isinstance(data, TensorTable):
            self._dataset = data
            self._part_rows = _known_partition_rows(data)
            sch = self._dataset_schema(data, schema)
            if sch is None:
                sch, self._part_rows = _infer_dataset_schema(data, label)
            self.schema = sch
            self.device = torch.device(device) if device is not None else self._dataset_device(data)
            self._order_kw = _order_keyword(data)
        else:
            if isinstance(data, TensorTable) and schema is not None:
                sch = resolve_schema(None, schema)
                if sch != data.schema:
                    data = TensorTable({c: data[c] for c in sch.names}, sch, data.copies)
            if isinstance(data, TensorTable) and not data._checked:
                _check_table(data)  # a frame is checked by to_tensors; a table may come unchecked
            tt = to_tensors(data, schema=schema, device=device, label=label)
            self.schema = tt.schema
            self.device = tt.device
            self.table = tt
            # sequential single-process batches are views of matrices; every other order is gathered
            self._staged = _stage(tt, records=shuffle or world_size > 1)
        if self._staged is not None and self._staged.rows == 0:
            msg = "the loader's data has no rows; check the filter steps that produced it"
            raise DataError(msg)

    @property
    def num_rows(self) -> int | None:
        """Rows of the data, all ranks together; ``None`` for a dataset not read yet whose size is unknown."""
        if self._staged is not None:
            return self._staged.rows
        if self._part_rows is not None:
            return sum(self._part_rows)
        return None

    def _partition_rows(self) -> list[int]:
        """Rows of each partition: known after one epoch, else asked of the dataset (may read it)."""
        if self._part_rows is None:
            sizes = getattr(self._dataset, "map_partials", None)
            if not callable(sizes):
                msg = ("the number of batches of this dataset is not known before it has been read once "
                       "(it does not report its partition sizes); iterate over it once first")
                raise TypeError(msg)
            self._part_rows = [int(n) for n in sizes(len)]
        return self._part_rows

    # -- DataLoader protocol -------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next iteration (as ``DistributedSampler.set_epoch``); a non-negative integer."""
        from .. import _validate as V

        epoch = V.integer(epoch, "epoch", "Loader.set_epoch", min_value=0)
        with _EPOCH_LOCK:
            self.epoch = epoch

    def _rank_rows(self, n: int) -> int:
        return math.ceil(n / self.world_size) if self.world_size > 1 else n

    def _batches_for(self, rows: int) -> int:
        return rows // self.batch_size if self.drop_last else math.ceil(rows / self.batch_size)

    def __len__(self) -> int:
        if self._staged is not None:
            return self._batches_for(self._rank_rows(self._staged.rows))
        return self._batches_for(self._rank_rows(sum(self._partition_rows())))

    def _epoch_rows(self) -> int | None:
        """Rows of this rank's epoch before ``drop_last`` (padding included); ``None`` for a dataset whose
        partition sizes are not known without reading it."""
        if self._staged is not None:
            return self._rank_rows(self._staged.rows)
        if self._part_rows is not None:
            return self._rank_rows(sum(self._part_rows))
        return None

    def __iter__(self) -> Iterator[Batch]:
        with _EPOCH_LOCK:  # two threads starting epochs at once get one each, never the same
            epoch = self.epoch
            self.epoch += 1
        if self._staged is not None:
            return self._iter_table(self._staged, epoch)
        return self._iter_dataset(epoch)

    def __repr__(self) -> str:
        src = "dataset" if self._dataset is not None else "table"
        return (f"Loader({src}, rows={self.num_rows}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last}, device={self.device}, "
                f"rank={self.rank}/{self.world_size})")

    # -- in-memory ---------------------------------------------------------------------------
    def _order_on_device(self, order: torch.Tensor) -> torch.Tensor:

        if self.device.type == "cpu":
            return order
        # int32 below 2**31 rows (epoch_indices' dtype) halves the one upload of the epoch; index_select takes it
        return order.to(self.device, non_blocking=True)

    def _iter_table(self, staged: _Staged | _Records, epoch: int) -> Iterator[Batch]:
        b = self.batch_size
        if not self.shuffle and self.world_size == 1:
            # Sequential order: batches are views of the staged matrices; nothing to gather.
            n = staged.rows
            stop = n - n % b if self.drop_last else n
            for start in range(0, stop, b):
                yield staged.slice(start, start + b)
            return
        order = epoch_indices(staged.rows, epoch=epoch, seed=self.seed, shuffle=self.shuffle,
                              rank=self.rank, world_size=self.world_size)
        order = self._order_on_device(order)
        m = int(order.shape[0])
        stop = m - m % b if self.drop_last else m
        slices = (order[start:start + b] for start in range(0, stop, b))
        if self.device.type == "cpu" and self.workers > 0:
            yield from _gather_ahead(staged, slices, self.workers)
        else:
            # CUDA gathers are asynchronous kernel launches already: nothing to overlap on the host.
            for idx in slices:
                yield staged.gather(idx)

    # -- datasets ----------------------------------------------------------------------------
    @staticmethod
    def _dataset_schema(ds: Any, schema: Any) -> Schema | None:
        """The schema given (or the dataset's own); None when it is to be inferred from the data."""
        if schema is not None:
            return resolve_schema(None, schema)
        own = getattr(ds, "schema", None) or getattr(ds, "output_schema", None)
        if isinstance(own, Schema):
            return own
        # No schema given: infer it from every partition, in one pass (see _infer_dataset_schema).
        return None

    @staticmethod
    def _dataset_device(ds: Any) -> torch.device:
        import torch

        from ..backend import backend_status, get_backend

        backend = getattr(ds, "backend", None)
        name = getattr(backend, "name", backend)
        if name is None:
            name = get_backend().name
        device = next((s.device for s in backend_status() if s.name == name and s.available), "cpu")
        return torch.device(device)

    def _partitions(self, order: list[int]) -> Iterator[tuple[int, Any]]:
        ds = self._dataset
        if self._order_kw is not None:
            yield from zip(order, ds.iter_partitions(**{self._order_kw: order}), strict=True)
        elif callable(getattr(ds, "get_partition", None)) or callable(getattr(ds, "to_dask", None)):
            # Random access (gp.Dataset: its dask frame's get_partition), so partitions can come shuffled.
            get = ds.get_partition if callable(getattr(ds, "get_partition", None)) else ds.to_dask().get_partition
            for i in order:
                part = get(i)
                if hasattr(part, "compute"):
                    part = part.compute().reset_index(drop=True)
                yield i, part
        else:
            # Sequential access only: partitions come in their stored order.
            yield from enumerate(ds.iter_partitions())

    def _prepare(self, parts: Iterator[tuple[int, Any]], epoch: int,
                 shard: _Shard) -> tuple[int, int, _Staged | _Records, torch.Tensor] | None:
        """Next partition → tensors → staged matrices → this rank's row order (runs in the worker thread,
        one partition after the other, so ``shard`` advances in the epoch's partition order)."""
        item = next(parts, None)
        if item is None:
            return None
        i, frame = item
        try:
            tt = to_tensors(frame, schema=self.schema, device=self.device)
            staged = _stage(tt, records=True)
        except GpupipeError as exc:  # name the partition: the row numbers in the message count within it
            from ..io.dataset import _in_partition

            describe = getattr(self._dataset, "_partition_name", None)  # a gp.Dataset's: with its file and rows
            _in_partition(exc, describe(i) if describe is not None else f"partition {i} of the dataset")
            exc.args = (f"{exc} (rows counted from the partition's first row)", *exc.args[1:])
            raise
        order = epoch_indices(staged.rows, epoch=epoch, seed=_part_seed(self.seed, epoch, i), shuffle=self.shuffle)
        if staged.rows == 0:
            order = order[:0]
        order = shard.take(staged, order)
        return i, staged.rows, staged, self._order_on_device(order)

    def _iter_dataset(self, epoch: int) -> Iterator[Batch]:
        import torch

        ds = self._dataset
        nparts = int(ds.num_partitions)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + epoch)
            part_order = torch.randperm(nparts, generator=g).tolist()
        else:
            part_order = list(range(nparts))
        parts = self._partitions(part_order)
        b = self.batch_size
        carry: list[Batch] = []
        carried = 0
        rows_seen: dict[int, int] = {}
        shard = _Shard(self.rank, self.world_size, self._order_on_device)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpupipe-loader")
        # each partition is prepared in a copy of the consumer's context at the time: its audit blocks, its backend
        prepare = functools.partial(self._prepare, parts, epoch, shard)
        try:
            fut: Future | None = pool.submit(contextvars.copy_context().run, prepare)
            while fut is not None:
                prepared = fut.result()
                if prepared is None:
                    break
                fut = pool.submit(contextvars.copy_context().run, prepare)  # the next partition, in the background
                part, rows, staged, order = prepared
                rows_seen[part] = rows
                m = int(order.shape[0])
                start = 0
                if carried:
                    take = min(b - carried, m)
                    carry.append(staged.gather(order[:take]))
                    carried += take
                    start = take
                    if carried == b:
                        yield _concat(carry)
                        carry, carried = [], 0
                while m - start >= b:
                    yield staged.gather(order[start:start + b])
                    start += b
                if start < m:
                    carry.append(staged.gather(order[start:]))
                    carried += m - start
            pad = shard.padding()  # DistributedSampler's: the epoch's head repeated, at most one row per rank
            if pad is not None:
                carry.append(pad)
                carried += len(pad)
                if carried == b:
                    yield _concat(carry)
                    carry, carried = [], 0
            if carried and not self.drop_last:
                yield _concat(carry)
            self._part_rows = [rows_seen[i] for i in sorted(rows_seen)]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


#: held while a Loader reads and advances its epoch (iter) or sets it (set_epoch)
_EPOCH_LOCK = threading.Lock()
#: batches each helper thread may have gathered ahead of the consumer
_AHEAD = 4


def _gather_ahead(staged: _Staged | _Records, slices: Iterator[torch.Tensor], workers: int) -> Iterator[Batch]:
    """Yield the batches of ``slices`` in order, gathered by the calling thread and ``workers`` helper
    threads in turn: batch ``j`` by the calling thread when ``j % (workers + 1) == 0``, else by helper
    ``j % (workers + 1) - 1``, each helper up to :data:`_AHEAD` batches ahead.

    The gathers use NumPy (no OpenMP team): parallel batches need no barrier, which keeps throughput
    when other processes share the cores (an OpenMP team waiting on a busy core was measured 5-20x
    slower than single-threaded gathers on the loaded 2-core build machine), and a helper's gathers
    overlap the training step that consumes the previous batch. The calling thread gathers its share
    itself rather than waiting: with one helper on two cores that took the Loader benchmark from
    12-16M to 18-24M rows/s (a hand-off per batch costs more than a gather's share of a step).
    Helpers are joined before the generator finishes, so no gather runs after it, and the first
    error (in batch order) is raised in the calling thread. A batch counts in the transfer audit when
    it is handed to the consumer, in the consumer's context, whichever thread gathered it.
    """
    import queue

    order = list(slices)
    n = workers + 1
    done: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(workers)]
    room = [threading.Semaphore(_AHEAD) for _ in range(workers)]
    stop = threading.Event()

    def helper(k: int) -> None:
        for j in range(k + 1, len(order), n):
            room[k].acquire()
            if stop.is_set():
                return
            try:
                done[k].put(staged.gather(order[j], record=False))
            except BaseException as exc:  # raised in the calling thread, in batch order
                done[k].put(exc)
                return

    threads = [threading.Thread(target=helper, args=(k,), name=f"gpupipe-gather_{k}", daemon=True)
               for k in range(workers)]
    for t in threads:
        t.start()
    try:
        for j in range(len(order)):
            k = j % n - 1
            if k < 0:
                yield staged.gather(order[j])
                continue
            got = done[k].get()
            room[k].release()
            if isinstance(got, BaseException):
                raise got
            if audit._recording():
                audit.record_gather(_batch_bytes(got))
            yield got
    finally:
        stop.set()
        for r in room:
            r.release()
        for t in threads:
            if t is not threading.current_thread():  # an abandoned iterator may be collected in a helper thread
                t.join()


def _concat(pieces: list[Batch]) -> Batch:
    import torch

    if len(pieces) == 1:
        return pieces[0]
    label = None if pieces[0].label is None else torch.cat([p.label for p in pieces])
    return Batch(torch.cat([p.cont for p in pieces]), torch.cat([p.cat for p in pieces]), label)


def _order_keyword(ds: Any) -> str | None:
    """The keyword through which ``ds.iter_partitions`` accepts a partition order, if any."""
    try:
        params = inspect.signature(ds.iter_partitions).parameters
    except (TypeError, ValueError):
        return None
    for kw in ("order", "partitions", "indices"):
        if kw in params:
            return kw
    return None


def _known_partition_rows(ds: Any) -> list[int] | None:
    for attr in ("partition_rows_", "partition_lengths", "partition_sizes"):
        value = getattr(ds, attr, None)
        if value is not None and not callable(value):
            try:
                return [int(v) for v in value]
            except (TypeError, ValueError):
                return None
    return None
