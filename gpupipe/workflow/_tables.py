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
    op's input column had at fit (None when an earlier op produced that column)."""

    op: Op
    key: Any
    input_dtype: str | None


def table_sources(plan: Plan, input_dtypes: dict[str, str]) -> dict[str, TableSource]:
    """Output column → its :class:`TableSource`, for the output columns that have one, in output order."""
    origin: dict[str, TableSource] = {}  # working-frame column -> the table behind its values
    written: set[str] = set()  # working-frame columns some step has written (the rest are raw input columns)
    for st in plan.steps:
        produced = list(st.op.output_columns(st.columns))
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
                    source = st.physical(key) if isinstance(key, str) else None
                    raw = source is not None and source not in written
                    dtype = input_dtypes.get(source) if raw and source is not None else None
                    origin[st.writes.get(name, name)] = TableSource(st.op, key, dtype)
        written.update(st.writes.get(name, name) for name in produced)
    return {name: origin[phys] for node in plan.outputs for name, phys in node if phys in origin}
