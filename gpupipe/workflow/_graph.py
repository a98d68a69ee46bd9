"""The workflow's graph: its steps in run order, where each column lives, and the data checks.

Everything here reads the nodes and never runs an op's ``fit`` or ``transform``: construction
(:func:`plan`) and the column/dtype checks before any data is touched (:func:`check_columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backend import frame as F
from ..errors import ParameterError, SchemaError
from ..ops.base import Op
from ..ops.node import Node

__all__ = ["Plan", "Step", "check_columns", "plan", "private_name", "read_columns"]


#: Working-frame names of columns a node rewrote in place (``\x00<node>:<name>``) and of raw columns hidden
#: while a node sees its own version under their name (``\x00raw:<name>``). A column name holding a NUL
#: byte cannot come from a file or a frame a user built by hand, so these never meet a real column.
def private_name(node: int, name: str) -> str:
    return f"\x00{node}:{name}"


def _hidden_name(name: str) -> str:
    return f"\x00raw:{name}"


@dataclass(frozen=True)
class Step:
    """One op of one node: the names it reads (as its node has them), and where its columns live.

    The workflow runs over one working frame, but every node reads the **raw input columns** and the
    columns earlier nodes *added* (joined, derived, encoded: new names), never another node's in-place
    rewrite of a column. A rewrite (``["x"] >> ops.Normalize()``) is kept under a private working name
    visible only to its own node. ``view`` renames the working frame into what this step's node sees
    (its private columns under their public names, the raw columns they shadow out of the way);
    ``writes`` maps each output name to the working-frame column it is stored in.
    """

    node: int
    op: Op
    columns: list[str]
    view: dict[str, str] = field(default_factory=dict)
    writes: dict[str, str] = field(default_factory=dict)

    def where(self) -> str:
        return f"{self.op!r} (node {self.node})"

    def physical(self, name: str) -> str:
        """The working-frame column this step reads under ``name``."""
        for phys, pub in self.view.items():
            if pub == name:
                return phys
        return name

    @property
    def unview(self) -> dict[str, str]:
        return {pub: phys for phys, pub in self.view.items()}

    @property
    def reads(self) -> set[str]:
        """Working-frame columns the step reads (its columns and, at fit, its required columns)."""
        names = [*self.columns, *self.op.required_columns(self.columns)]
        return {self.physical(c) for c in names}

    @property
    def outs(self) -> set[str]:
        return set(self.writes.values())


@dataclass
class Plan:
    """The steps in run order and each node's outputs as ``(output name, working-frame column)``."""

    steps: list[Step]
    outputs: list[list[tuple[str, str]]]

    @property
    def output_names(self) -> list[str]:
        return [name for node in self.outputs for name, _ in node]


def plan(nodes: Sequence[Node], label: str | None) -> Plan:
    """Check the nodes form a valid workflow and lay its steps out over the working frame.

    Raises ``ValueError`` for an op instance used twice and :class:`~gpupipe.errors.SchemaError` for two
    ops adding one name, two nodes producing one output name, or an output named like the label.
    """
    seen: dict[int, int] = {}
    for i, node in enumerate(nodes):
        for op in node.ops:
            if id(op) in seen:
                msg = (f"the same {op!r} instance is used in node {seen[id(op)]} and node {i}; its statistics "
                       f"would be overwritten. Create one op per use")
                raise ParameterError(msg)
            seen[id(op)] = i
    added: dict[str, int] = {}  # a name an op added (not among its inputs) -> the node that added it
    owner: dict[str, int] = {}  # output name -> node that outputs it
    steps: list[Step] = []
    outputs: list[list[tuple[str, str]]] = []
    for i, node in enumerate(nodes):
        local: dict[str, str] = {}  # public -> working name, for what this node rewrote or added so far
        for op, cols in node.steps():
            view = {phys: pub for pub, phys in local.items() if phys != pub}
            view.update({pub: _hidden_name(pub) for pub, phys in local.items() if phys != pub})
            writes: dict[str, str] = {}
            for out in op.output_columns(cols):
                if op.changes_rows and out in cols:
                    writes[out] = local.get(out, out)  # rows dropped, values untouched: the same column
                elif out in local:
                    writes[out] = local[out]  # this node's own column again, later in its chain
                elif out in cols:
                    writes[out] = private_name(i, out)  # an in-place rewrite: this node's alone
                elif out in added:
                    msg = (f"{op!r} in node {i} ({node!r}) adds a column {out!r}, which {nodes[added[out]]!r} "
                           f"(node {added[out]}) adds too; rename one, e.g. `>> ops.Rename(postfix=\"_2\")`")
                    raise SchemaError(msg)
                else:
                    writes[out] = out  # a new name: later nodes may read it
                    added[out] = i
                if writes[out] != out or out in local:
                    local[out] = writes[out]
            steps.append(Step(i, op, list(cols), view, writes))
        # A later node that rewrites a column an earlier node added consumes it: only its version is output.
        mine: list[tuple[str, str]] = []
        for name in node.output_columns():
            if name in owner:
                j = owner[name]
                if name in added and added[name] == j and name in local and local[name] != name:
                    outputs[j] = [(n, p) for n, p in outputs[j] if n != name]
                else:
                    msg = (f"output column {name!r} is produced by node {j} ({nodes[j]!r}) and node {i} ({node!r}); "
                           f"rename one, e.g. `>> ops.Rename(postfix=\"_2\")`")
                    raise SchemaError(msg)
            owner[name] = i
            mine.append((name, local.get(name, name)))
        outputs.append(mine)
    if label is not None and label in owner:
        msg = (f"node {owner[label]} ({nodes[owner[label]]!r}) outputs a column named like the "
               f"label {label!r}; the label is passed through unchanged. Rename that output")
        raise SchemaError(msg)
    return Plan(steps, outputs)


def check_columns(nodes: Sequence[Node], label: str | None, dtypes: dict[str, Any], stage: str,
                  fitted_dtypes: dict[str, str], all_missing: Callable[[str], bool] | None = None) -> dict[str, str]:
    """Check every column the plan reads is in ``dtypes`` (SchemaError naming it); return the input dtypes read.

    At ``stage == "transform"`` each column read must also keep the kind (and a datetime its timezone) it
    had at fit (``fitted_dtypes``), unless ``all_missing(column)`` says it holds nothing but missing values:
    such a column carries no kind (serving data with nothing in it reads as float64 or object), and the ops
    take it as missing values of the kind they were fitted on.
    """
    have = list(dtypes)
    available = set(have)
    shown = have if len(have) <= 30 else [*have[:30], "..."]
    used: dict[str, str] = {}
    for i, node in enumerate(nodes):
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
                outs = op.output_columns(cols)
                clash = [c for c in outs if c not in cols and c in dtypes]
                if clash:
                    # Which would a later node mean by that name: the data's column or the op's? Neither guess
                    # is safe, so the name must change.
                    msg = (f"{op!r} in node {i} ({node!r}) adds column(s) {clash}, but the data given to {stage} "
                           f"already has column(s) of that name; rename one side (the data's column, or the op's "
                           f"output: e.g. JoinExternal(columns=[...]) or a Rename of the external frame first)")
                    raise SchemaError(msg)
                available.update(outs)
    if label is not None:
        if label in dtypes:
            if F.kind(dtypes[label]) not in F.NUMERIC_KINDS:
                msg = (f"label column {label!r} has dtype {dtypes[label]}; a label must be numeric "
                       f"(0/1 for binary tasks). Encode it before the workflow")
                raise SchemaError(msg)
            used[label] = str(dtypes[label])
        elif stage in ("fit", "fit_transform"):
            msg = f"label column {label!r} is not in the data given to {stage}; it has {shown}"
            raise SchemaError(msg)
    if fitted_dtypes and stage == "transform":
        for c, was in fitted_dtypes.items():
            now = used.get(c)
            changed = now is not None and (_family(now) != _family(was) or (
                F.kind(now) == "datetime" and _timezone(now) != _timezone(was)))
            if changed and all_missing is not None and all_missing(c):
                continue
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


def read_columns(nodes: Sequence[Node], label: str | None) -> list[str]:
    """Every column name the workflow may read from its input (selections, targets, join keys, the label)."""
    names: dict[str, None] = {}
    for node in nodes:
        names.update(dict.fromkeys(node.selection))
        for op, cols in node.steps():
            names.update(dict.fromkeys(op.required_columns(cols)))
    if label is not None:
        names[label] = None
    return list(names)


def _family(dtype_name: Any) -> str:
    """What must not change between fit and transform: numbers stay numbers (int/float/bool alike), text
    stays text, timestamps stay timestamps."""
    k = F.kind(dtype_name)
    return "numeric" if k in F.NUMERIC_KINDS else k


def _timezone(dtype_name: str) -> str | None:
    """The timezone of a datetime dtype's name (``"datetime64[ns, UTC]"`` → ``"UTC"``), None when naive."""
    inner = str(dtype_name).partition("[")[2].rstrip("]")
    return inner.partition(",")[2].strip() or None
