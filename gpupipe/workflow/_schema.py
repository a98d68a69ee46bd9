"""The output schema of a fitted workflow, derived from its ops' ``output_info`` and the input dtypes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..backend import frame as F
from ..errors import SchemaError
from ..schema import ColumnSchema, Schema
from ._graph import Plan, Step

if TYPE_CHECKING:
    from ..ops.base import ColumnInfo

__all__ = ["build_schema", "check_number_kinds", "without_label"]


def _walk(plan: Plan, input_dtypes: Mapping[str, Any]) -> Iterator[tuple[Step, dict[str, ColumnInfo],
                                                                     dict[str, ColumnInfo]]]:
    """Per step, in run order: ``(step, what it reads, what it writes)``, each column's :class:`ColumnInfo` under its
    name at the step, derived from the input dtypes by the ops' ``output_info``."""
    from ..ops.base import ColumnInfo

    # keyed by working-frame column, as the steps read and write them
    info: dict[str, ColumnInfo] = {c: ColumnInfo(str(d)) for c, d in input_dtypes.items()}
    for st in plan.steps:
        seen = {c: info[st.physical(c)] for c in st.columns if st.physical(c) in info}
        new = st.op.output_info(st.columns, seen)
        yield st, seen, new
        for name, ci in new.items():
            info[st.writes.get(name, name)] = ci


def _number_kind(dtype: str) -> str | None:
    k = F.kind(dtype)
    return "float" if k == "float" else "int" if k in ("int", "bool") else None


def check_number_kinds(plan: Plan, fitted_dtypes: Mapping[str, str], dtypes: Mapping[str, Any],
                       all_missing: Callable[[str], bool]) -> None:
    """SchemaError when a column reaches an op whose output tells integers from floats (``numeric_kind_matters``:
    HashBucket hashes 3 and 3.0 apart) holding integers at fit and floats at transform, or the reverse (an integer
    column with nulls read by ``pd.read_parquet`` comes as float64): its output would silently differ for the same
    values. A raw column holding nothing but missing values at transform is let through (every row is missing)."""
    if not any(st.op.numeric_kind_matters for st in plan.steps):
        return
    now = {c: str(dtypes[c]) for c in fitted_dtypes if c in dtypes}
    for (st, was, _), (_, seen, _) in zip(_walk(plan, fitted_dtypes), _walk(plan, now), strict=True):
        if not st.op.numeric_kind_matters:
            continue
        for c in st.columns:
            if c not in was or c not in seen:
                continue
            a, b = _number_kind(was[c].dtype), _number_kind(seen[c].dtype)
            if a is None or b is None or a == b:
                continue
            raw = st.physical(c)
            if raw in fitted_dtypes and all_missing(raw):
                continue
            changed = {k: f"{fitted_dtypes[k]} at fit, {now[k]} now" for k in now
                       if {_number_kind(fitted_dtypes[k]), _number_kind(now[k])} == {"int", "float"}}
            msg = (f"{st.where()} reads column {c!r} as {b} values ({seen[c].dtype}) at transform, but it held {a} "
                   f"values ({was[c].dtype}) when the workflow was fitted, and {type(st.op).__name__} gives a number "
                   f"other ids as an int and as a float (3 and 3.0 hash apart); the input column(s) changed: {changed}. "
                   "Cast them back to their dtypes at fit (pd.read_parquet reads an integer column with nulls as "
                   "float64: read it with gp.read_parquet, or pd.read_parquet(..., dtype_backend='numpy_nullable'))")
            raise SchemaError(msg)


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
    for st, _, new in _walk(plan, input_dtypes):
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
            props: dict[str, Any] = {"op": origin[phys]} if phys in origin else {}
            if ci.role == "cat" and ci.vocabulary is not None:
                props["vocabulary"] = ci.vocabulary
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
