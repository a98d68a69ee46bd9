"""The workflow's graph: its steps in run order, which node owns each output column, and the data checks.

Everything here reads the nodes and never runs an op's ``fit`` or ``transform``: construction
(:func:`check_graph`) and the column/dtype checks before any data is touched (:func:`check_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..backend import frame as F
from ..errors import SchemaError
from ..ops.base import Op
from ..ops.node import Node

__all__ = ["Step", "check_columns", "check_graph", "plan_steps", "read_columns"]


@dataclass(frozen=True)
class Step:
    """One op of one node, with the names of the columns it reads (as the node has them at that point)."""

    node: int
    op: Op
    columns: list[str]

    def where(self) -> str:
        return f"{self.op!r} (node {self.node})"


def plan_steps(nodes: Sequence[Node]) -> list[Step]:
    """Every op of every node, in the order they run."""
    return [Step(i, op, cols) for i, node in enumerate(nodes) for op, cols in node.steps()]


def check_graph(nodes: Sequence[Node], label: str | None) -> list[list[str]]:
    """Check the nodes form a valid workflow and return each node's output column names.

    Raises ``ValueError`` for an op instance used twice and :class:`~gpupipe.errors.SchemaError` for
    two nodes producing one name, a node rewriting another node's output, or an output named like the label.
    """
    seen: dict[int, int] = {}
    for i, node in enumerate(nodes):
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
    for i, node in enumerate(nodes):
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
                msg = (f"output column {name!r} is produced by node {owner[name]} ({nodes[owner[name]]!r}) "
                       f"and node {i} ({node!r}); rename one, e.g. `>> ops.Rename(postfix=\"_2\")`")
                raise SchemaError(msg)
            owner[name] = i
            mine.append(name)
        outputs.append(mine)
    if label is not None and label in owner:
        msg = (f"node {owner[label]} ({nodes[owner[label]]!r}) outputs a column named like the "
               f"label {label!r}; the label is passed through unchanged. Rename that output")
        raise SchemaError(msg)
    return outputs


def check_columns(nodes: Sequence[Node], label: str | None, dtypes: dict[str, Any], stage: str,
                  fitted_dtypes: dict[str, str]) -> dict[str, str]:
    """Check every column the plan reads is in ``dtypes`` (SchemaError naming it); return the input dtypes read.

    At ``stage == "transform"`` each column read must also keep the kind (and a datetime its timezone) it
    had at fit (``fitted_dtypes``).
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
                available.update(op.output_columns(cols))
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
