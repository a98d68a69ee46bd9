"""Which op's fitted table stands behind each output column: the lookups of ``Workflow.table``,
``Workflow.vocabulary`` and ``Workflow.inverse_transform``.

An op with fitted tables (Categorify's vocabularies, TargetEncoding's and JoinGroupby's statistics)
has ``table(key)`` and ``table_keys(columns)`` (output column → key). A column keeps its source
through a ``Rename``; any other op that writes the name replaces it (``Categorify >> Clip`` no
longer reads back through the vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..ops.base import Op
from ..ops.rename import Rename
from ._graph import Step

__all__ = ["TableSource", "table_sources"]


@dataclass(frozen=True)
class TableSource:
    """The op whose table stands behind an output column, the key its ``table`` takes, and the dtype the
    op's input column had at fit (None when an earlier op produced that column)."""

    op: Op
    key: Any
    input_dtype: str | None


def table_sources(steps: Sequence[Step], outputs: Sequence[str], input_dtypes: dict[str, str]) -> dict[str, TableSource]:
    """Output column → its :class:`TableSource`, for the output columns that have one, in output order."""
    origin: dict[str, TableSource] = {}
    produced_so_far: set[str] = set()
    for st in steps:
        produced = list(st.op.output_columns(st.columns))
        if isinstance(st.op, Rename):
            moved = [(new, origin.pop(old, None)) for old, new in zip(st.columns, produced, strict=True)]
            for new, src in moved:
                if src is None:
                    origin.pop(new, None)
                else:
                    origin[new] = src
        else:
            for name in produced:
                origin.pop(name, None)
            keys = getattr(st.op, "table_keys", None)
            if keys is not None:
                for name, key in keys(st.columns).items():
                    raw = key if isinstance(key, str) and key not in produced_so_far else None
                    origin[name] = TableSource(st.op, key, input_dtypes.get(raw) if raw is not None else None)
        produced_so_far.update(produced)
    return {name: origin[name] for name in outputs if name in origin}
