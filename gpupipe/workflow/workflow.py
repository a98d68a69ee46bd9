"""The Workflow: nodes of ops fitted on a frame or a ``gp.Dataset``, then applied to new data.

Semantics
---------
* Nodes run in the order given, over **one working frame**: each op sees the frame as the ops
  before it (in earlier nodes too) left it, and the names its node has so far. So a row-dropping
  op (``Filter``, ``Dropna``) keeps every column aligned, and a node may read a column an earlier
  node produced.
* The output holds each node's final columns, in node order, then the label. Two nodes producing
  the same name, or a node producing the label's name, is a :class:`~gpupipe.errors.SchemaError`
  at construction.
* Output dtypes follow :attr:`Workflow.output_schema` exactly: ``cont`` columns are float32 (NaN
  where a value is missing), ``cat`` columns int64, the label float32. Columns whose role no op
  decided are continuous. The output has a fresh ``0..n-1`` index.
* The label is required at fit (checked there: every value must be a finite number, else
  :class:`~gpupipe.errors.DataError` naming it). At transform it is passed through when present
  and checked the same way; data without it (serving) gives an output without it.
* ``fit`` on a frame runs each op's ``fit`` on the frame as transformed by the ops before it.
  ``fit`` on a ``gp.Dataset`` streams partitions: every op whose inputs are ready is fitted in
  the same pass (partials per partition, combined), so a workflow takes as many passes over the
  data as its longest chain of statistic ops, not one per op.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..backend import frame as F
from ..errors import DataError, NotFittedError, SchemaError
from ..ops.base import Op, StatOp
from ..schema import ColumnSchema, Schema
from .node import Node

__all__ = ["Workflow"]


@dataclass(frozen=True)
class _Step:
    node: int
    op: Op
    columns: list[str]

    def where(self) -> str:
        return f"{self.op!r} (node {self.node})"


class Workflow:
    """Feature engineering as fitted, saveable steps: ``gp.Workflow(node, node, ..., label=...)``.

    Parameters
    ----------
    *nodes : Node, str or list of str
        ``cols >> op >> op`` chains; a bare name or list of names passes those columns through
        (as continuous float32 unless earlier ops made them categorical).
    label : str, optional
        The target column, passed through as float32.

    Examples
    --------
    >>> import pandas as pd
    >>> import gpupipe as gp
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0], "n": [1, 2, 3], "y": [0, 1, 0]})
    >>> wf = gp.Workflow(["x"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(), "n", label="y")
    >>> out = wf.fit_transform(df)
    >>> list(out.columns), wf.output_schema.cont, wf.output_schema.label
    (['x', 'n', 'y'], ['x', 'n'], 'y')
    >>> str(out["x"].dtype)
    'float32'
    """

    def __init__(self, *nodes: Any, label: str | None = None) -> None:
        if not nodes:
            raise ValueError('a Workflow needs at least one node, e.g. gp.Workflow(["a", "b"] >> ops.Normalize())')
        if len(nodes) == 1 and isinstance(nodes[0], (list, tuple)) and nodes[0] and isinstance(nodes[0][0], Node):
            nodes = tuple(nodes[0])  # Workflow([node1, node2]) reads as Workflow(node1, node2)
        self.nodes: list[Node] = [Node.coerce(n) for n in nodes]
        if label is not None and not isinstance(label, str):
            msg = f"label must be a column name (str), got {type(label).__name__} {label!r:.40}"
            raise SchemaError(msg)
        self.label = label
        self._check_graph()
        self._fitted = False
        self._input_dtypes: dict[str, str] = {}
        self._schema: Schema | None = None

    # ------------------------------------------------------------------ structure
    def _check_graph(self) -> None:
        seen: dict[int, int] = {}
        for i, node in enumerate(self.nodes):
            for op in node.ops:
                if id(op) in seen:
                    msg = (f"the same {op!r} instance is used in node {seen[id(op)]} and node {i}; its statistics "
                           f"would be overwritten. Create one op per use")
                    raise ValueError(msg)
                seen[id(op)] = i
        # Columns an op *adds* (names not among its inputs: joined, derived, encoded columns) may be
        # consumed by a later node, which then owns them: `["dest"] >> JoinExternal(airports)` followed by
        # `["dest_lat"] >> Normalize()` is the natural way to transform what a join brought in. Rewriting a
        # column that an earlier node transformed in place is refused: the later node would silently see the
        # transformed values where the user most likely meant the raw column.
        owner: dict[str, int] = {}
        added: set[str] = set()
        outputs: list[list[str]] = []
        for i, node in enumerate(self.nodes):
            for op, cols in node.steps():
                produced = op.output_columns(cols)
                rewritten = [c for c in produced if c in owner and owner[c] != i]
                refused = [c for c in rewritten if c not in added]
                if refused:
                    msg = (f"{op!r} in node {i} ({node!r}) would rewrite {refused}, the output of node "
                           f"{owner[refused[0]]}; rename first, e.g. `{refused} >> ops.Rename(postfix=\"_2\") "
                           f">> {op!r}`")
                    raise SchemaError(msg)
                for c in rewritten:  # consumed: the earlier node no longer outputs it
                    outputs[owner[c]].remove(c)
                    del owner[c]
                added.update(c for c in produced if c not in cols)
            mine: list[str] = []
            for name in node.output_columns():
                if name in owner:
                    msg = (f"output column {name!r} is produced by node {owner[name]} ({self.nodes[owner[name]]!r}) "
                           f"and node {i} ({node!r}); rename one, e.g. `>> ops.Rename(postfix=\"_2\")`")
                    raise SchemaError(msg)
                owner[name] = i
                mine.append(name)
            outputs.append(mine)
        self._node_outputs = outputs
        if self.label is not None and self.label in owner:
            msg = (f"node {owner[self.label]} ({self.nodes[owner[self.label]]!r}) outputs a column named like the "
                   f"label {self.label!r}; the label is passed through unchanged. Rename that output")
            raise SchemaError(msg)

    def _steps(self) -> list[_Step]:
        return [_Step(i, op, cols) for i, node in enumerate(self.nodes) for op, cols in node.steps()]

    @property
    def output_columns(self) -> list[str]:
        """Names of the output columns, in order (the label last)."""
        names = [n for cols in self._node_outputs for n in cols]
        return [*names, self.label] if self.label is not None else names

    @property
    def ops(self) -> list[Op]:
        """Every op, in the order they run."""
        return [st.op for st in self._steps()]

    def __repr__(self) -> str:
        body = ",\n    ".join(repr(n) for n in self.nodes)
        label = f",\n    label={self.label!r}" if self.label is not None else ""
        return f"Workflow(\n    {body}{label},\n)"

    # ------------------------------------------------------------------ checks
    def _check_columns(self, dtypes: dict[str, Any], stage: str) -> dict[str, str]:
        """Check every column the plan reads is there (SchemaError naming it); return the input dtypes read."""
        have = list(dtypes)
        available = set(have)
        shown = have if len(have) <= 30 else [*have[:30], "..."]
        used: dict[str, str] = {}
        for i, node in enumerate(self.nodes):
            steps = node.steps() or [(None, list(node.selection))]
            for op, cols in steps:
                # required_columns (a target) are read by fit only: serving data has no target
                fitting = stage in ("fit", "fit_transform")
                need = list(cols) + (list(op.required_columns(cols)) if op is not None and fitting else [])
                missing = [c for c in need if c not in available]
                if missing:
                    who = f"{op!r} in node {i}" if op is not None else f"node {i}"
                    msg = (f"{who} ({node!r}) needs column(s) {missing}, which the data given to {stage} lacks; "
                           f"it has {shown}")
                    raise SchemaError(msg)
                used.update({c: str(dtypes[c]) for c in need if c in dtypes and c not in used})
                if op is not None:
                    available.update(op.output_columns(cols))
        if self.label is not None:
            if self.label in dtypes:
                if F.kind(dtypes[self.label]) not in F.NUMERIC_KINDS:
                    msg = (f"label column {self.label!r} has dtype {dtypes[self.label]}; a label must be numeric "
                           f"(0/1 for binary tasks). Encode it before the workflow")
                    raise SchemaError(msg)
                used[self.label] = str(dtypes[self.label])
            elif stage in ("fit", "fit_transform"):
                msg = f"label column {self.label!r} is not in the data given to {stage}; it has {shown}"
                raise SchemaError(msg)
        if self._input_dtypes and stage == "transform":
            for c, was in self._input_dtypes.items():
                now = used.get(c)
                if now is not None and _family(now) != _family(was):
                    msg = (f"column {c!r} has dtype {now} at transform but was {was} when the workflow was fitted; "
                           f"cast it back to {was} (or refit)")
                    raise SchemaError(msg)
                if now is not None and F.kind(now) == "datetime" and _timezone(now) != _timezone(was):
                    # DateParts takes fields in the column's timezone: the same instants in another zone
                    # would silently give other hours and days.
                    fix = (f".dt.tz_convert({_timezone(was)!r})" if _timezone(now) and _timezone(was)
                           else f".dt.tz_localize({_timezone(was)!r})" if _timezone(was) else ".dt.tz_localize(None)")
                    msg = (f"column {c!r} has dtype {now} at transform but was {was} when the workflow was fitted; "
                           f"its timezone changed. Convert it back (series{fix}) or refit")
                    raise SchemaError(msg)
        return used

    def _check_frame(self, data: Any, stage: str) -> Any:
        from ..backend import backend_of

        try:
            backend_of(data)
        except TypeError:
            msg = (f"Workflow.{stage} expects a pandas or cuDF DataFrame or a gp.Dataset, got "
                   f"{type(data).__module__}.{type(data).__qualname__}; convert it with gp.from_pandas/gp.from_arrow")
            raise DataError(msg) from None
        if not hasattr(data, "columns"):
            msg = f"Workflow.{stage} expects a DataFrame, got a {type(data).__name__}; use series.to_frame()"
            raise DataError(msg)
        from ..io.convert import check_column_names

        check_column_names(data.columns, f"Workflow.{stage}")
        if len(data) == 0:
            msg = f"Workflow.{stage} got an empty frame (0 rows, columns {list(data.columns)[:30]}); give it data"
            raise DataError(msg)
        return F.normalize(data, self._read_columns())

    def _read_columns(self) -> list[str]:
        """Every column name the workflow may read from its input (selections, targets, join keys, the label)."""
        names: dict[str, None] = {}
        for node in self.nodes:
            names.update(dict.fromkeys(node.selection))
            for op, cols in node.steps():
                names.update(dict.fromkeys(op.required_columns(cols)))
        if self.label is not None:
            names[self.label] = None
        return list(names)

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError("this Workflow is not fitted yet; call wf.fit(data) (or gp.Workflow.load(directory))")

    # ------------------------------------------------------------------ running on one frame
    def _run_frame(self, frame: Any, mode: str) -> Any:
        """Apply the steps to one frame; ``mode`` is "fit", "fit_transform" or "transform"."""
        working = frame.reset_index(drop=True)
        steps = self._steps()
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
                own_frame = op.changes_rows or type(op).transform_frame is not Op.transform_frame
                if mode == "fit_transform" and not own_frame:
                    # fit_transform, not fit + transform: TargetEncoding's training output is out-of-fold
                    working = _assign(working, op.fit_transform(working, cols), st)
                    continue
                op.fit(working, cols)
            if feeds_fit is not None and not feeds_fit[i]:
                continue
            working = op.transform_frame(working, cols)
            if op.changes_rows and mode != "transform" and len(working) == 0:
                msg = f"{st.where()} removed every row; nothing is left to fit on. Loosen it or check the data"
                raise DataError(msg)
        return working

    def _output(self, working: Any, with_label: bool) -> Any:
        from ._frames import check_label, finalize_output

        schema = self._schema_for(with_label)
        if with_label and self.label is not None:
            check_label(working, self.label)
        return finalize_output(working, schema)

    def _schema_for(self, with_label: bool) -> Schema:
        assert self._schema is not None
        if with_label or self.label is None:
            return self._schema
        return Schema(c for c in self._schema if c.role != "label")

    # ------------------------------------------------------------------ public API
    def fit(self, data: Any) -> Workflow:
        """Fit every op's statistics on ``data`` (a pandas/cuDF frame or a ``gp.Dataset``).

        Returns
        -------
        Workflow
            ``self``.

        Raises
        ------
        SchemaError
            A selected or required column (or the label) is missing, or has a dtype an op cannot take.
        DataError
            Empty data, a null/NaN/infinite label, or values an op cannot take (negative input to LogOp...).
        """
        self._fitted = False
        dataset = _as_dataset(data)
        if dataset is not None:
            self._fit_dataset(dataset)
        else:
            frame = self._check_frame(data, "fit")
            used = self._check_columns(dict(frame.dtypes), "fit")
            if self.label is not None:
                from ._frames import check_label

                check_label(frame, self.label)
            self._run_frame(frame, "fit")
            self._input_dtypes = used
        self._finish_fit()
        return self

    def fit_transform(self, data: Any) -> Any:
        """Fit on ``data`` and return it transformed.

        On a frame each op's ``fit_transform`` runs (ops whose training output differs from their
        inference output, like TargetEncoding's out-of-fold means, rely on it). On a
        ``gp.Dataset`` this is ``fit`` followed by a lazy ``transform``.
        """
        dataset = _as_dataset(data)
        if dataset is not None:
            special = [op for op in self.ops if getattr(op, "fit_transform_differs", False)]
            if special:
                msg = (f"fit_transform on a gp.Dataset is fit + transform, so {special} produce their "
                       "inference-time output on the training data; fit_transform an in-memory frame for "
                       "their training-time output")
                warnings.warn(msg, UserWarning, stacklevel=2)
            return self.fit(dataset).transform(dataset)
        self._fitted = False
        frame = self._check_frame(data, "fit_transform")
        used = self._check_columns(dict(frame.dtypes), "fit_transform")
        if self.label is not None:
            from ._frames import check_label

            check_label(frame, self.label)
        working = self._run_frame(frame, "fit_transform")
        self._input_dtypes = used
        self._finish_fit()
        return self._output(working, with_label=self.label is not None)

    def transform(self, data: Any) -> Any:
        """Apply the fitted workflow: a frame gives a frame, a ``gp.Dataset`` a lazy ``gp.Dataset``.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        SchemaError
            A column the workflow reads is missing, or its dtype changed kind since fit.
        DataError
            Empty input, a null/NaN/infinite label (when present), or values an op cannot take.
        """
        self._check_fitted()
        dataset = _as_dataset(data)
        if dataset is not None:
            return self._transform_dataset(dataset)
        frame = self._check_frame(data, "transform")
        self._check_columns(dict(frame.dtypes), "transform")
        working = self._run_frame(frame, "transform")
        return self._output(working, with_label=self.label is not None and self.label in frame.columns)

    @property
    def output_schema(self) -> Schema:
        """Role, dtype and cardinality of each output column (the interface for tensors, loaders and models)."""
        self._check_fitted()
        assert self._schema is not None
        return self._schema

    @property
    def is_fitted(self) -> bool:
        return self._fitted

    def save(self, directory: Any) -> Any:
        """Save as ``directory/workflow.json`` + ``directory/artifacts/*.parquet``, atomically. See :mod:`gpupipe.workflow.serialize`."""
        from .serialize import save_workflow

        return save_workflow(self, directory)

    @classmethod
    def load(cls, directory: Any) -> Workflow:
        """Load a saved workflow, verifying every artifact's sha256. See :mod:`gpupipe.workflow.serialize`."""
        from .serialize import load_workflow

        return load_workflow(directory)

    # ------------------------------------------------------------------ schema
    def _finish_fit(self) -> None:
        self._schema = self._build_schema(self._input_dtypes)
        self._fitted = True

    def _build_schema(self, input_dtypes: dict[str, str]) -> Schema:
        from ..ops.base import ColumnInfo

        info: dict[str, ColumnInfo] = {c: ColumnInfo(str(d)) for c, d in input_dtypes.items()}
        origin: dict[str, str] = {}
        for st in self._steps():
            new = st.op.output_info(st.columns, info)
            info.update(new)
            origin.update({name: type(st.op).__name__ for name in new})
        cols = []
        for node_cols in self._node_outputs:
            for name in node_cols:
                ci = info[name]
                props = {"op": origin[name]} if name in origin else {}
                if ci.role == "cat":
                    cols.append(ColumnSchema(name, "cat", "int64", ci.cardinality, properties=props))
                    continue
                if ci.role not in (None, "cont"):
                    msg = f"column {name!r}: an op gave it role {ci.role!r}; roles are 'cont' and 'cat'"
                    raise SchemaError(msg)
                if F.kind(ci.dtype) not in F.NUMERIC_KINDS:
                    msg = (f"output column {name!r} has dtype {ci.dtype}, which a model cannot take as continuous; "
                           f"encode it (ops.Categorify for text, ops.DateParts for timestamps) or drop it")
                    raise SchemaError(msg)
                cols.append(ColumnSchema(name, "cont", "float32", properties=props))
        if self.label is not None:
            cols.append(ColumnSchema(self.label, "label", "float32"))
        return Schema(cols)

    # ------------------------------------------------------------------ datasets
    def _fit_dataset(self, ds: Any) -> None:
        used = self._check_columns(ds.dtypes, "fit")
        steps = self._steps()
        pending = {i for i, st in enumerate(steps) if st.op.stateful}
        validated = False
        while pending or not validated:
            plan, batch, custom = _plan_pass(steps, pending) if pending else ([], [], None)
            if custom is not None and validated:
                # An op with its own fit gets a lazy view of the data as the steps before it leave it.
                view = ds.map_partitions(partial(_run_prefix, steps, custom))
                steps[custom].op.fit(view, steps[custom].columns)
                pending.discard(custom)
                continue
            if custom is not None:
                plan, batch = [], []  # validate (rows, label) in a pass of its own first
            label = None if validated else self.label
            results = ds.map_partials(partial(_run_pass, steps, plan, label))
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
                op.fitted_ = True
                pending.discard(i)
        self._input_dtypes = used

    def _transform_dataset(self, ds: Any) -> Any:
        from ._frames import empty_output

        dtypes = ds.dtypes
        self._check_columns(dtypes, "transform")
        with_label = self.label is not None and self.label in dtypes
        meta = empty_output(ds.backend, self._schema_for(with_label))
        # The function holds this workflow: refitting it before computing changes the result.
        return ds.map_partitions(partial(_transform_partition, self, with_label), meta=meta)


# ---------------------------------------------------------------------- helpers (module level: picklable)
def _family(dtype_name: Any) -> str:
    """What must not change between fit and transform: numbers stay numbers (int/float/bool alike), text
    stays text, timestamps stay timestamps."""
    k = F.kind(dtype_name)
    return "numeric" if k in F.NUMERIC_KINDS else k


def _timezone(dtype_name: str) -> str | None:
    """The timezone of a datetime dtype's name (``"datetime64[ns, UTC]"`` → ``"UTC"``), None when naive."""
    inner = str(dtype_name).partition("[")[2].rstrip("]")
    return inner.partition(",")[2].strip() or None


def _as_dataset(data: Any) -> Any:
    from ..io.dataset import Dataset

    if isinstance(data, Dataset):
        return data
    if hasattr(data, "__dask_graph__") and hasattr(data, "npartitions"):
        return Dataset(data)
    return None


def _feeds_fit(steps: Sequence[_Step]) -> list[bool]:
    """Per step: whether a later op's fit reads what its transform produces (so fit must run it).

    A later statistic op depends on a step when it reads one of the step's outputs (through any
    chain of steps between them), or when the step drops rows or rewrites the frame in its own way
    (``transform_frame`` overridden), which every later op sees.
    """
    needed: set[str] = set()  # columns read by ops fitted after this point, or by steps feeding them
    later_fit = False
    feeds = [False] * len(steps)
    for i in range(len(steps) - 1, -1, -1):
        op, cols = steps[i].op, steps[i].columns
        reads = set(cols) | set(op.required_columns(cols))
        whole = op.changes_rows or type(op).transform_frame is not Op.transform_frame
        feeds[i] = later_fit and (whole or bool(needed.intersection(op.output_columns(cols))))
        if feeds[i] or op.stateful:
            needed |= reads
        later_fit = later_fit or op.stateful
    return feeds


def _columnwise_run(steps: Sequence[_Step], start: int, mode: str, feeds_fit: list[bool] | None) -> int:
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


def _run_by_column(working: Any, run: Sequence[_Step]) -> Any:
    """Apply a chain of column-wise ops a column at a time: each op sees a one-column frame, as it
    would see that column in the whole frame, and only one column's intermediates are alive at once
    (13 x 5M-row int32/float64 intermediates of the Criteo chain made ~0.3 GB of the peak)."""
    columns = list(run[0].columns)
    done = {}
    for c in columns:
        part = working[[c]]
        for st in run:
            part = st.op.transform_frame(part, [c])
        done[c] = part[c]
    result = working.copy(deep=False)
    for c in columns:
        result[c] = done[c]
    return result


def _assign(working: Any, out: Any, st: _Step) -> Any:
    if len(out) != len(working):
        msg = f"{st.where()} returned {len(out)} rows for {len(working)}; a non-row-dropping op must keep every row"
        raise DataError(msg)
    result = working.copy(deep=False)
    for name in out.columns:
        result[name] = out[name]
    return result


def _plan_pass(steps: Sequence[_Step], pending: set[int]) -> tuple[list[tuple[str, int]], list[int], int | None]:
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
        reads = set(st.columns) | set(op.required_columns(st.columns))
        outs = op.output_columns(st.columns)
        blocked = bool(reads & tainted)
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


def _run_pass(steps: Sequence[_Step], plan: Sequence[tuple[str, int]], label: str | None,
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
            partials.append(op.partial_fit(part, st.columns) if len(part) else None)
        else:
            part = st.op.transform_frame(part, st.columns)
    return rows, partials


def _run_prefix(steps: Sequence[_Step], upto: int, part: Any) -> Any:
    part = part.reset_index(drop=True)
    for st in steps[:upto]:
        part = st.op.transform_frame(part, st.columns)
    return part


def _transform_partition(wf: Workflow, with_label: bool, part: Any) -> Any:
    working = wf._run_frame(part, "transform")
    return wf._output(working, with_label)
