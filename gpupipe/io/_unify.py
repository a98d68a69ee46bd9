"""One schema for many files: the union of their columns, each with one type.

Every reader that reads more than one file (``read_parquet`` of a directory, glob or list,
``read_csv`` of a list, ``gp.Dataset``) computes the files' schema with :func:`unify` and
conforms each file to it, on both backends, so they all give the same frame:

* columns are the union over the files, in order of first appearance, then the hive partition
  columns (strings, see :mod:`gpupipe.io._sources`); a file that lacks a column gives nulls there;
* a column whose type differs between files takes the type that holds both: a null-typed column
  (a CSV column with no value that day, an all-null parquet column) takes the other files' type;
  integers widen (int32 → int64; unsigned into a wider signed type); integers and floats give
  float64; float32 and float64 give float64; text and large text give large text; a dictionary
  (category) column and its value type give the value type; timestamps of different units give
  the finer unit; DATE and naive (or UTC) timestamps give the timestamp; decimals of different precision and
  decimals mixed with numbers give float64;
* anything else (text in one file, numbers in another; bool vs int; tz-aware vs naive; DATE vs
  timestamps in a zone other than UTC; uint64 vs a signed type) is a :class:`~gpupipe.errors.DataError` naming the column and both files;
* a column that is null-typed in every file is float64 (gpupipe's rule for all-missing columns).

A hive key that is also a column inside a file, or that a file's path gives two values
(``k=1/k=2/``), is a :class:`~gpupipe.errors.SchemaError` naming the column and the directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import DataError, SchemaError

if TYPE_CHECKING:
    import pyarrow as pa

    from ._sources import Source

__all__ = ["common_type", "conform_table", "unify"]

_UNITS = ("s", "ms", "us", "ns")


def common_type(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type that holds values of both ``a`` and ``b`` (module docstring), or None if there is none."""
    import pyarrow as pa
    import pyarrow.types as t

    if a == b:
        return a
    if t.is_null(a):
        return b
    if t.is_null(b):
        return a
    if t.is_dictionary(a) and t.is_dictionary(b):
        value = common_type(a.value_type, b.value_type)
        return None if value is None else (pa.dictionary(pa.int32(), value) if value == a.value_type else value)
    if t.is_dictionary(a):
        return common_type(a.value_type, b)
    if t.is_dictionary(b):
        return common_type(a, b.value_type)
    if t.is_integer(a) and t.is_integer(b):
        return _common_int(a, b)
    if (t.is_integer(a) or t.is_floating(a) or t.is_decimal(a)) and (t.is_integer(b) or t.is_floating(b)
                                                                      or t.is_decimal(b)):
        return pa.float64()
    if _is_text(a) and _is_text(b):
        return pa.large_string()
    if _is_binary(a) and _is_binary(b):
        return pa.large_binary()
    if (t.is_timestamp(a) or t.is_date(a)) and (t.is_timestamp(b) or t.is_date(b)):
        if t.is_date(a) and t.is_date(b):
            return pa.date32() if pa.date32() in (a, b) else a
        ta, tb = (a if t.is_timestamp(a) else None), (b if t.is_timestamp(b) else None)
        if ta is not None and tb is not None and ta.tz != tb.tz:
            return None
        stamps = [x for x in (ta, tb) if x is not None]
        if (ta is None or tb is None) and stamps[0].tz not in (None, "UTC"):
            # Arrow casts a DATE to the instant of its midnight in UTC: in another zone that instant falls on the
            # day before (2020-01-01 read as 2019-12-31 19:00 in America/New_York), so no such timestamp holds it
            return None
        unit = max((x.unit for x in stamps), key=_UNITS.index)
        return pa.timestamp(unit, stamps[0].tz)
    return None


def _is_text(x: pa.DataType) -> bool:
    import pyarrow.types as t

    return t.is_string(x) or t.is_large_string(x) or getattr(t, "is_string_view", lambda _: False)(x)


def _is_binary(x: pa.DataType) -> bool:
    import pyarrow.types as t

    return t.is_binary(x) or t.is_large_binary(x) or getattr(t, "is_binary_view", lambda _: False)(x)


def _common_int(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    import pyarrow as pa
    import pyarrow.types as t

    sa, sb = t.is_signed_integer(a), t.is_signed_integer(b)
    if sa == sb:
        return a if a.bit_width >= b.bit_width else b
    signed, unsigned = (a, b) if sa else (b, a)
    if unsigned.bit_width < signed.bit_width:
        return signed
    if unsigned.bit_width < 64:
        return {8: pa.int16(), 16: pa.int32(), 32: pa.int64()}[unsigned.bit_width]
    return None  # uint64 and a signed type: no integer type holds both


def unify(schemas: Sequence[tuple[Source, pa.Schema]], *, columns: Sequence[str] | None = None,
          reader: str = "read") -> pa.Schema:
    """The one schema of several files (module docstring), hive partition columns included.

    ``columns`` keeps only these (in that order); one that no file and no partition has is a
    :class:`~gpupipe.errors.SchemaError`.
    """
    import pyarrow as pa

    types: dict[str, pa.DataType] = {}
    first: dict[str, tuple[Source, pa.DataType]] = {}
    for src, schema in schemas:
        for f in schema:
            name = f.name
            if name not in types:
                types[name], first[name] = f.type, (src, f.type)
                continue
            merged = common_type(types[name], f.type)
            if merged is None:
                other_src, other_type = first[name]
                for s, sch in schemas:  # name the first file whose type clashes with this one
                    if name in sch.names and common_type(sch.field(name).type, f.type) is None:
                        other_src, other_type = s, sch.field(name).type
                        break
                msg = (f"{reader}: column {name!r} is {other_type} in {other_src.name} but {f.type} in {src.name}, "
                       "and no type holds both; give it one type in every file (re-export them; for CSV files pass "
                       f"read_csv(dtype={{{name!r}: ...}})), or read the files separately and cast")
                raise DataError(msg)
            types[name] = merged
    hive: list[str] = []
    for src, _ in schemas:
        values: dict[str, str | None] = {}
        for key, value in src.hive:
            if values.setdefault(key, value) != value:
                msg = (f"{reader}: {src.name} lies below two partition directories {key}={values[key]} and "
                       f"{key}={value}, so its {key!r} is ambiguous; rename or merge the directories")
                raise SchemaError(msg)
            if key in types:
                msg = (f"{reader}: the partition directory {key}=... under {src.base} names column {key!r}, which "
                       f"{first[key][0].name} also holds; rename the directories or the column")
                raise SchemaError(msg)
            if key not in hive:
                hive.append(key)
    fields = [pa.field(n, pa.float64() if pa.types.is_null(ty) else ty) for n, ty in types.items()]
    fields += [pa.field(k, pa.string()) for k in hive]
    out = pa.schema(fields)
    if columns is None:
        return out
    missing = [c for c in columns if c not in out.names]
    if missing:
        where = schemas[0][0].name if len(schemas) == 1 else f"{len(schemas)} files from {schemas[0][0].name}"
        raise SchemaError(f"{where} has no column(s) {missing}; it has {out.names}")
    return pa.schema([out.field(c) for c in columns])


def file_columns(target: pa.Schema, src: Source) -> list[str]:
    """The target's columns that come from inside the file (not from its partition directories)."""
    keys = {k for k, _ in src.hive}
    return [n for n in target.names if n not in keys]


def columns_to_read(target: pa.Schema, src: Source, own: pa.Schema) -> tuple[list[str], list[str]]:
    """(the target's columns this file, of schema ``own``, holds; the columns to read from it): when it holds
    none of them, one column anyway, for the number of rows."""
    wanted = [c for c in file_columns(target, src) if c in own.names]
    return wanted, wanted or own.names[:1]


def conform_table(table: pa.Table, target: pa.Schema, src: Source, reader: str = "read") -> pa.Table:
    """``table`` (read from ``src``) with exactly ``target``'s columns and types: absent or null-typed
    columns as nulls, others cast (every cast is a widening :func:`unify` allowed), hive columns filled."""
    import pyarrow as pa

    if table.schema.equals(target) and not src.hive:
        return table
    n = table.num_rows
    hive = dict(src.hive)
    arrays = []
    for f in target:
        if f.name in table.column_names and f.name not in hive:
            col = table.column(f.name)
            if col.type != f.type:
                try:
                    # int + float unify to float: ints beyond 2**53 round there, as pandas' concat rounds them
                    lossy = pa.types.is_integer(col.type) and pa.types.is_floating(f.type)
                    col = pa.nulls(n, f.type) if pa.types.is_null(col.type) else col.cast(f.type, safe=not lossy)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                    msg = (f"{reader}: column {f.name!r} of {src.name} ({col.type}) does not fit the type {f.type} the "
                           f"other files give it: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}")
                    raise DataError(msg) from exc
            arrays.append(col)
        elif f.name in hive:
            value = hive[f.name]
            arrays.append(pa.nulls(n, f.type) if value is None else pa.repeat(pa.scalar(value, f.type), n))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=target)
