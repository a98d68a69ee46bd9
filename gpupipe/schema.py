"""The output schema: what a fitted Workflow produces, and what tensors, loaders and models consume.

A :class:`Schema` is an ordered collection of :class:`ColumnSchema`. Each column has a role:

``cont``
    a continuous feature, gathered into ``batch.cont`` as float32;
``cat``
    a categorical id in ``[0, cardinality)``, gathered into ``batch.cat`` as int64, with
    ``cardinality`` giving the embedding table size (ids 0 = padding, 1 = null, then
    out-of-vocabulary buckets, then the vocabulary, for Categorify);
``label``
    the target, gathered into ``batch.label``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SchemaError

__all__ = ["ROLES", "ColumnSchema", "Schema"]

ROLES = ("cont", "cat", "label")


@dataclass(frozen=True)
class ColumnSchema:
    """One output column.

    Parameters
    ----------
    name : str
        Column name.
    role : {"cont", "cat", "label"}
        How models and loaders use the column.
    dtype : str
        NumPy dtype name of the column as produced (``"float32"``, ``"int64"``, ...).
    cardinality : int, optional
        For ``cat`` columns, the number of distinct ids (max id + 1); ``None`` otherwise.
    properties : mapping, optional
        Free-form extras (for example the op that produced the column).
    """

    name: str
    role: str
    dtype: str
    cardinality: int | None = None
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            msg = f"column {self.name!r}: role {self.role!r} is not one of {ROLES}"
            raise SchemaError(msg)
        from ._validate import is_integer

        if self.cardinality is not None:
            if not is_integer(self.cardinality):  # 7.5 would size an embedding 7 for ids up to 7; True would be 1
                msg = (f"column {self.name!r}: cardinality must be a whole number of ids, got "
                       f"{type(self.cardinality).__name__} {self.cardinality!r}")
                raise SchemaError(msg)
            object.__setattr__(self, "cardinality", int(self.cardinality))
        if self.role == "cat" and (self.cardinality is None or self.cardinality < 1):
            msg = f"categorical column {self.name!r} needs a positive cardinality, got {self.cardinality!r}"
            raise SchemaError(msg)

    def other_fit(self, other: ColumnSchema) -> bool:
        """True when this column and ``other`` record different digests of what their ids mean
        (``properties["vocabulary"]``: ``Categorify.vocabulary_digest``, ``Bucketize.boundaries_digest``): ids of
        the same cardinality naming other values. False when either records none (a schema inferred from data, or
        saved without digests)."""
        a, b = self.properties.get("vocabulary"), other.properties.get("vocabulary")
        return a is not None and b is not None and a != b

    def to_dict(self) -> dict[str, Any]:
        """JSON values: ``name``, ``role``, ``dtype``, and ``cardinality`` and ``properties`` when set."""
        out: dict[str, Any] = {"name": self.name, "role": self.role, "dtype": self.dtype}
        if self.cardinality is not None:
            out["cardinality"] = int(self.cardinality)
        if self.properties:
            out["properties"] = dict(self.properties)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnSchema:
        """The column schema :meth:`to_dict` gave; a :class:`~gpupipe.errors.SchemaError` if ``d`` is not one."""
        if not isinstance(d, Mapping):
            msg = f"a column schema must be a dictionary (name, role, dtype, ...), got {type(d).__name__} {d!r:.60}"
            raise SchemaError(msg)
        properties = d.get("properties", {})
        if not isinstance(properties, Mapping):
            msg = f"column schema {d.get('name')!r}: properties must be a dictionary, got {type(properties).__name__}"
            raise SchemaError(msg)
        try:
            return cls(
                name=str(d["name"]),
                role=str(d["role"]),
                dtype=str(d["dtype"]),
                cardinality=d.get("cardinality"),  # checked as given: never truncated
                properties=dict(properties),
            )
        except KeyError as exc:
            msg = f"column schema {dict(d)!r} lacks the key {exc.args[0]!r}"
            raise SchemaError(msg) from None


class Schema:
    """An ordered, immutable set of :class:`ColumnSchema`.

    Examples
    --------
    >>> from gpupipe.schema import ColumnSchema, Schema
    >>> s = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("c", "cat", "int64", 10),
    ...             ColumnSchema("y", "label", "float32")])
    >>> s.cont, s.cat, s.label
    (['x'], ['c'], 'y')
    """

    def __init__(self, columns: Iterable[ColumnSchema] = ()) -> None:
        cols = tuple(columns)
        names = [c.name for c in cols]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"schema has duplicate column names {dupes}; rename them so each output column is unique"
            raise SchemaError(msg)
        labels = [c.name for c in cols if c.role == "label"]
        if len(labels) > 1:
            msg = f"schema has several label columns {labels}; exactly one label is supported"
            raise SchemaError(msg)
        self._columns = cols
        self._by_name = {c.name: c for c in cols}

    # -- collection protocol ------------------------------------------------------------
    def __iter__(self) -> Iterator[ColumnSchema]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ColumnSchema:
        try:
            return self._by_name[name]
        except KeyError:
            msg = f"column {name!r} is not in the schema; it has {self.names}"
            raise SchemaError(msg) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self._columns == other._columns

    def __hash__(self) -> int:
        return hash(self._columns)

    def __repr__(self) -> str:
        body = ", ".join(
            f"{c.name}:{c.role}:{c.dtype}" + (f"[{c.cardinality}]" if c.cardinality else "")
            for c in self._columns
        )
        return f"Schema({body})"

    # -- views by role -------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Names of every column (the label included), in order."""
        return [c.name for c in self._columns]

    @property
    def cont(self) -> list[str]:
        """Names of the continuous columns, in order."""
        return [c.name for c in self._columns if c.role == "cont"]

    @property
    def cat(self) -> list[str]:
        """Names of the categorical columns, in order."""
        return [c.name for c in self._columns if c.role == "cat"]

    @property
    def label(self) -> str | None:
        """Name of the label column, or ``None``."""
        for c in self._columns:
            if c.role == "label":
                return c.name
        return None

    @property
    def cardinalities(self) -> dict[str, int]:
        """Embedding table size of each categorical column."""
        return {c.name: int(c.cardinality) for c in self._columns if c.role == "cat"}  # type: ignore[arg-type]

    def select(self, names: Iterable[str]) -> Schema:
        """The columns ``names``, in that order (SchemaError naming a column that is not in the schema)."""
        return Schema(self[n] for n in names)

    def without_label(self) -> Schema:
        """This schema less its label column: the schema of data transformed without its label (for scoring).

        Examples
        --------
        >>> from gpupipe.schema import ColumnSchema, Schema
        >>> s = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("y", "label", "float32")])
        >>> s.without_label()
        Schema(x:cont:float32)
        """
        return Schema(c for c in self._columns if c.role != "label")

    def to_dict(self) -> dict[str, Any]:
        """JSON values: ``{"columns": [ColumnSchema.to_dict(), ...]}``."""
        return {"columns": [c.to_dict() for c in self._columns]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Schema:
        """The schema :meth:`to_dict` gave; a :class:`~gpupipe.errors.SchemaError` if ``d`` is not one."""
        if not isinstance(d, Mapping) or not isinstance(d.get("columns"), list):
            msg = "a schema dictionary needs a 'columns' list"
            raise SchemaError(msg)
        return cls(ColumnSchema.from_dict(c) for c in d["columns"])

    @classmethod
    def infer(cls, frame: Any, *, label: str | None = None, cat: Iterable[str] = ()) -> Schema:
        """Guess a schema from a frame: floats, decimals and bools are ``cont``, listed/integer columns ``cat``.

        Integer columns become categorical with cardinality ``max + 1``; use a Workflow to get
        real statistics. Meant for quick experiments on already-encoded frames. A decimal column
        is continuous with dtype ``float64``: the dtype rule makes decimals float64 where tensors take them.

        Raises
        ------
        SchemaError
            ``label`` or a ``cat`` name is not a column of the frame (a typo would otherwise make the
            real label a feature); a column name is not a string; a column is neither numeric nor listed;
            an id column holds values beyond the int64 range (uint64 above 2**63 - 1), which no embedding
            can take.
        ParameterError
            ``cat`` names the label.
        """
        from . import _validate as V
        from .backend import frame as F
        from .io.convert import check_column_names

        V.string(label, "label", "Schema.infer", none_ok=True)
        # a column 1 would not match label="1" (and a schema names columns by str): the label would become a feature
        check_column_names(frame.columns, "Schema.infer")
        cat = set(V.name_list(cat, "cat", "Schema.infer", empty_ok=True) or [])
        names = [str(c) for c in frame.columns]
        missing = [c for c in ([label] if label is not None else []) + sorted(cat) if c not in names]
        if missing:
            shown = names if len(names) <= 30 else [*names[:30], "..."]
            what = "label" if label in missing else "cat"
            msg = (f"{what} {missing[0]!r} is not a column of the frame; it has {shown}. Pass the name of an "
                   "existing column (an unknown label would silently make the real label a feature)")
            raise SchemaError(msg)
        if label is not None and label in cat:
            V.fail("Schema.infer", "cat", sorted(cat), "feature columns, not the label",
                   f"{label!r} is the label (label={label!r}); leave it out of cat")
        cols = []
        for name in frame.columns:
            dtype = frame[name].dtype
            kind = F.kind(dtype)
            if name == label:
                cols.append(ColumnSchema(str(name), "label", str(dtype).lower()))
            elif name in cat or kind == "int":
                cols.append(ColumnSchema(str(name), "cat", str(dtype).lower(), _id_cardinality(frame[name], name)))
            elif kind in ("float", "bool"):
                cols.append(ColumnSchema(str(name), "cont", str(dtype).lower()))
            elif kind == "decimal":
                cols.append(ColumnSchema(str(name), "cont", "float64"))
            else:
                msg = (f"column {name!r} has dtype {str(dtype).lower()}, which is neither numeric nor listed as cat; "
                       "encode it with a Workflow (e.g. ops.Categorify) first")
                raise SchemaError(msg)
        return cls(cols)


def _id_cardinality(series: Any, name: str) -> int:
    """``max + 1`` of an id column (1 when it has no values); SchemaError beyond what int64 ids can hold."""
    top = series.max()
    if top is None or type(top).__name__ == "NAType" or (isinstance(top, float) and top != top):
        return 1  # no value at all: only the null id
    try:
        top = int(top)
    except (TypeError, ValueError) as exc:
        msg = f"column {name!r} (dtype {series.dtype}) is listed as cat but holds non-integer values such as {top!r}"
        raise SchemaError(msg) from exc
    if top >= 2**63 - 1:
        msg = (f"column {name!r} holds ids up to {top}, beyond the int64 range embeddings index with; encode it with "
               "ops.Categorify (which maps any values to ids 0..n)")
        raise SchemaError(msg)
    return top + 1
