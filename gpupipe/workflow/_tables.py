"""Which op's fitted table stands behind each output column: the lookups of ``Workflow.table``,
``Workflow.vocabulary`` and ``Workflow.inverse_transform``.

An op with fitted tables (Categorify's vocabularies, TargetEncoding's and JoinGroupby's statistics)
has ``table(key)`` and ``table_keys(columns)`` (output column → key). Sources are followed by
working-frame column (the plan's ``Step.writes`` and ``Step.physical``), so they obey the node
rules exactly: a column keeps its source through a ``Rename``, any other op that writes the column
replaces it (``Categorify >> Clip`` no longer reads back through the vocabulary), and another node
that reads the same name reads the raw column, not this node's ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ops.base import Op
from ..ops.rename import Rename
from ._graph import Plan

__all__ = ["TableSource", "table_sources"]


@dataclass(frozen=True)
class TableSource:
    """The op whose table stands behind an output column, the key its ``table`` takes, and the dtype the
    op's input column had at fit (as the output schema derives it: an input column's dtype, or the dtype the
    op that added or rewrote the column gives)."""

    op: Op
    key: Any
    input_dtype: str | None


def table_sources(plan: Plan, input_dtypes: dict[str, str]) -> dict[str, TableSource]:
    """Output column → its :class:`TableSource`, for the output columns that have one, in output order."""
    from ..ops.base import ColumnInfo

    origin: dict[str, TableSource] = {}  # working-frame column -> the table behind its values
    # working-frame column -> its dtype as the schema derives it (a column an op added or renamed keeps its width)
    info: dict[str, ColumnInfo] = {c: ColumnInfo(str(d)) for c, d in input_dtypes.items()}
    for st in plan.steps:
        produced = list(st.op.output_columns(st.columns))
        seen = {c: info[st.physical(c)] for c in st.columns if st.physical(c) in info}
        before = {c: seen[c].dtype for c in seen}
        info.update({st.writes.get(n, n): ci for n, ci in st.op.output_info(st.columns, seen).items()})
        if isinstance(st.op, Rename):
            moved = [(st.writes.get(new, new), origin.get(st.physical(old)))
                     for old, new in zip(st.columns, produced, strict=True)]
            for phys, src in moved:
                if src is None:
                    origin.pop(phys, None)
                else:
                    origin[phys] = src
        else:
            for name in produced:
                origin.pop(st.writes.get(name, name), None)
            keys = getattr(st.op, "table_keys", None)
            if keys is not None:
                for name, key in keys(st.columns).items():
                    dtype = before.get(key) if isinstance(key, str) else None
                    origin[st.writes.get(name, name)] = TableSource(st.op, key, dtype)
    return {name: origin[phys] for node in plan.outputs for name, phys in node if phys in origin}
