"""Running a workflow's steps: on one frame, and the multi-pass fit of a ``gp.Dataset``.

* :func:`run_frame` applies the steps to one frame for ``fit``, ``fit_transform`` or ``transform``;
  a fit transforms only what a later op's fit reads (:func:`_feeds_fit`), and a chain of one node's
  column-wise ops runs a column at a time (:func:`_run_by_column`).
* :func:`fit_dataset` streams partitions: every op whose inputs are ready is fitted in the same
  pass (partials per partition, combined; planned by :func:`_plan_pass`), so a workflow takes as
  many passes over the data as its longest chain of statistic ops, not one per op.

The functions are module-level so that Dask can pickle them with the steps they are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from ..backend import frame as F
from ..errors import DataError
from ..ops.base import Op, StatOp
from ._graph import Step

__all__ = ["as_dataset", "fit_dataset", "run_frame", "transform_step", "view"]


def as_dataset(data: Any) -> Any:
    """``data`` as a ``gp.Dataset`` when it is one (or a Dask collection), else None (an in-memory frame)."""
    from ..io.dataset import Dataset

    if isinstance(data, Dataset):
        return data
    if hasattr(data, "__dask_graph__") and hasattr(data, "npartitions"):
        return Dataset(data)
    return None


def view(frame: Any, st: Step) -> Any:
    """``frame`` as ``st``'s node sees it: its own rewrites under their names, the raw columns they shadow aside."""
    return frame.rename(columns=st.view) if st.view else frame


def _write(working: Any, out: Any, st: Step) -> Any:
    """``working`` with ``out``'s columns (an op's outputs, by name) stored where the step writes them."""
    if len(out) != len(working):
        msg = f"{st.where()} returned {len(out)} rows for {len(working)}; a non-row-dropping op must keep every row"
        raise DataError(msg)
    return F.with_columns(working, {st.writes.get(name, name): out[name] for name in out.columns})


def _own_frame(op: Op) -> bool:
    """Ops that drop rows or rewrite the frame their own way (their ``transform_frame``): they see it whole."""
    return op.changes_rows or type(op).transform_frame is not Op.transform_frame


def transform_step(working: Any, st: Step) -> Any:
    """Apply one fitted step to the working frame."""
    op = st.op
    seen = view(working, st)
    if _own_frame(op):
        result = op.transform_frame(seen, st.columns)
        return result.rename(columns=st.unview) if st.view else result
    op.check_fitted()
    return _write(working, op.transform(seen, st.columns), st)


def run_frame(steps: Sequence[Step], frame: Any, mode: str) -> Any:
    """Apply the steps to one frame; ``mode`` is "fit", "fit_transform" or "transform"."""
    with F.work_scope(frame):
        return _run_frame(steps, frame, mode)


def _run_frame(steps: Sequence[Step], frame: Any, mode: str) -> Any:
    working = frame.reset_index(drop=True)
    # fit transforms only what a later op's fit reads (Normalize's output is never computed
    # to fit a Categorify on other columns)
    feeds_fit = _feeds_fit(steps) if mode == "fit" else None
    nxt = 0
    while nxt < len(steps):
        i, st = nxt, steps[nxt]
        op, cols = st.op, st.columns
        run = _columnwise_run(steps, i, mode, feeds_fit)
        if run > 1:
            working = _run_by_column(working, steps[i:i + run])
            nxt = i + run
            continue
        nxt = i + 1
        if mode != "transform" and op.stateful:
            if mode == "fit_transform" and not _own_frame(op):
                # fit_transform, not fit + transform: TargetEncoding's training output is out-of-fold
                working = _write(working, op.fit_transform(view(working, st), cols), st)
                continue
            op.fit(view(working, st), cols)
        if feeds_fit is not None and not feeds_fit[i]:
            continue
        working = transform_step(working, st)
        if op.changes_rows and mode != "transform" and len(working) == 0:
            msg = f"{st.where()} removed every row; nothing is left to fit on. Loosen it or check the data"
            raise DataError(msg)
    return working


def fit_dataset(steps: Sequence[Step], ds: Any, label: str | None) -> None:
    """Fit every stateful op of ``steps`` on the partitions of ``ds``, checking rows and ``label`` on the way."""
    steps = list(steps)
    pending = {i for i, st in enumerate(steps) if st.op.stateful}
    validated = False
    while pending or not validated:
        plan, batch, custom = _plan_pass(steps, pending) if pending else ([], [], None)
        if custom is not None and validated:
            # An op with its own fit gets a lazy view of the data as the steps before it leave it.
            seen = ds.map_partitions(partial(_run_prefix, steps, custom))
            steps[custom].op.fit(seen, steps[custom].columns)
            pending.discard(custom)
            continue
        if custom is not None:
            plan, batch = [], []  # validate (rows, label) in a pass of its own first
        pass_label = None if validated else label
        results = ds.map_partials(partial(_run_pass, steps, plan, pass_label))
        if not validated:
            if sum(r[0] for r in results) == 0:
                msg = f"the dataset has no rows (columns {ds.columns[:30]}); nothing to fit on"
                raise DataError(msg)
            validated = True
        for k, i in enumerate(batch):
            st = steps[i]
            partials = [r[1][k] for r in results if r[1][k] is not None]
            if not partials:
                msg = f"{st.where()} saw no rows; a Filter/Dropna before it removed them all"
                raise DataError(msg)
            op = st.op
            assert isinstance(op, StatOp)
            op.finalize(op.combine(partials), st.columns)
            pending.discard(i)


def _feeds_fit(steps: Sequence[Step]) -> list[bool]:
    """Per step: whether a later op's fit reads what its transform produces (so fit must run it).

    A later statistic op depends on a step when it reads one of the step's outputs (through any
    chain of steps between them), or when the step drops rows or rewrites the frame in its own way
    (``transform_frame`` overridden), which every later op sees.
    """
    needed: set[str] = set()  # columns read by ops fitted after this point, or by steps feeding them
    later_fit = False
    feeds = [False] * len(steps)
    for i in range(len(steps) - 1, -1, -1):
        op = steps[i].op
        feeds[i] = later_fit and (_own_frame(op) or bool(needed & steps[i].outs))
        if feeds[i] or op.stateful:
            needed |= steps[i].reads
        later_fit = later_fit or op.stateful
    return feeds


def _columnwise_run(steps: Sequence[Step], start: int, mode: str, feeds_fit: list[bool] | None) -> int:
    """How many steps from ``start`` form a chain of one node's column-wise ops that can run one
    column at a time (ops to fit are not part of one, nor are steps a fit skips)."""
    end = start
    while end < len(steps):
        st = steps[end]
        if st.node != steps[start].node or not st.op.columnwise or list(st.columns) != list(steps[start].columns):
            break
        if mode != "transform" and st.op.stateful:
            break
        if feeds_fit is not None and not feeds_fit[end]:
            break
        end += 1
    return end - start


def _run_by_column(working: Any, run: Sequence[Step]) -> Any:
    """Apply a chain of column-wise ops a column at a time: each op sees a one-column frame, as it
    would see that column in the whole frame, and only the intermediates of the columns in flight are
    alive at once, one column per thread (13 x 5M-row int32/float64 intermediates of the Criteo chain
    made ~0.3 GB of the peak when they were all alive)."""
    first, last = run[0], run[-1]
    columns = list(first.columns)
    sources = [first.physical(c) for c in columns]
    named = dict(zip(sources, columns, strict=True))

    def chain(series: Any, c: str) -> Any:
        part = series.to_frame(c)
        for st in run:
            part = st.op.transform_frame(part, [c])
        return part[c]

    if len(named) == len(columns):
        # the columns' chains are independent: the backend may run them on threads (pandas: one per core
        # for long columns; NumPy and pandas release the GIL), results in column order as a serial loop's
        outs = F.map_columns(working, sources, lambda series: chain(series, named[series.name]))
    else:  # two names read one stored column: one at a time
        outs = [chain(working[s], c) for s, c in zip(sources, columns, strict=True)]
    return F.with_columns(working, {last.writes[c]: out for c, out in zip(columns, outs, strict=True)})


def _plan_pass(steps: Sequence[Step], pending: set[int]) -> tuple[list[tuple[str, int]], list[int], int | None]:
    """Which pending ops one pass can fit: ``(plan, batch, None)``, or ``([], [], i)`` when op ``i``
    (every stateful op before it fitted) has its own ``fit`` and needs a pass of its own.

    An op is ready when nothing it reads comes from an op not yet fitted ("tainted" columns);
    steps reading tainted columns are skipped in this pass, and a skipped row-dropping step ends it.
    """
    tainted: set[str] = set()
    plan: list[tuple[str, int]] = []
    batch: list[int] = []
    for i, st in enumerate(steps):
        op = st.op
        outs = st.outs
        blocked = bool(st.reads & tainted)
        if i in pending:
            if not blocked and isinstance(op, StatOp) and type(op).fit is StatOp.fit:
                plan.append(("partial", i))
                batch.append(i)
            elif not blocked and not any(j in pending for j in range(i)):
                return [], [], i
        elif not blocked:
            plan.append(("transform", i))
            continue
        tainted.update(outs)  # not fitted (or fitted only at the end of) this pass
        if op.changes_rows:
            break
    while plan and plan[-1][0] == "transform":
        plan.pop()
    return plan, batch, None


def _run_pass(steps: Sequence[Step], plan: Sequence[tuple[str, int]], label: str | None,
              part: Any) -> tuple[int, list[Any]]:
    """One partition's share of a fit pass: (its rows, a partial per planned op, None where no rows reached it)."""
    part = part.reset_index(drop=True)
    rows = len(part)
    if label is not None and rows:
        from ._frames import check_label

        check_label(part, label)
    partials: list[Any] = []
    for action, i in plan:
        st = steps[i]
        if action == "partial":
            op = st.op
            assert isinstance(op, StatOp)
            partials.append(op.partial_fit(view(part, st), st.columns) if len(part) else None)
        else:
            part = transform_step(part, st)
    return rows, partials


def _run_prefix(steps: Sequence[Step], upto: int, part: Any) -> Any:
    """A partition as step ``upto`` sees it, after the steps before it."""
    part = part.reset_index(drop=True)
    for st in steps[:upto]:
        part = transform_step(part, st)
    return view(part, steps[upto])
