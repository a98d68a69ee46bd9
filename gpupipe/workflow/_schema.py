"""The output schema of a fitted workflow, derived from its ops' ``output_info`` and the input dtypes."""

from __future__ import annotations

from ..backend import frame as F
from ..errors import SchemaError
from ..schema import ColumnSchema, Schema
from ._graph import Plan

__all__ = ["build_schema", "without_label"]


def build_schema(plan: Plan, label: str | None, input_dtypes: dict[str, str]) -> Schema:
    """Role, dtype and cardinality of each output column, in node order, then the label.

    ``cat`` columns are int64 with the cardinality their op gives; every other output must be
    numeric and becomes a float32 ``cont`` column (SchemaError naming it otherwise).
    """
    from ..ops.base import ColumnInfo

    # keyed by working-frame column, as the steps read and write them
    info: dict[str, ColumnInfo] = {c: ColumnInfo(str(d)) for c, d in input_dtypes.items()}
    origin: dict[str, str] = {}
    lost: dict[str, str] = {}  # a column of ids whose cardinality an op dropped -> that op (a Rename passes it on)
    for st in plan.steps:
        seen = {c: info[st.physical(c)] for c in st.columns if st.physical(c) in info}
        new = st.op.output_info(st.columns, seen)
        inherited = [lost[st.physical(c)] for c in st.columns if st.physical(c) in lost]
        for name, ci in new.items():
            phys = st.writes.get(name, name)
            info[phys] = ci
            origin[phys] = type(st.op).__name__
            lost.pop(phys, None)
            if ci.role == "cat" and ci.cardinality is None:
                lost[phys] = inherited[0] if inherited else repr(st.op)
    cols = []
    for node in plan.outputs:
        for name, phys in node:
            ci = info[phys]
            props = {"op": origin[phys]} if phys in origin else {}
            if ci.role == "cat" and ci.cardinality is None:
                msg = (f"output column {name!r}: {lost.get(phys, 'an op')} turned its categorical ids into values that "
                       "are no longer ids an embedding can index (no cardinality); apply it before the op that makes "
                       "the ids, or leave it out")
                raise SchemaError(msg)
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
    if label is not None:
        cols.append(ColumnSchema(label, "label", "float32"))
    return Schema(cols)


def without_label(schema: Schema) -> Schema:
    """``schema`` less its label column (the output of data given without a label)."""
    return schema.without_label()
