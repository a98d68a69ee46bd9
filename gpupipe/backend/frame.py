"""The generic frame vocabulary: every frame operation the library needs, declared once.

Ops, the workflow, tensors and baselines are written against the functions of this module only;
each is a :class:`~gpupipe.backend.dispatch.Dispatch` generic whose pandas/NumPy implementation
lives in :mod:`gpupipe.backend._pandas` and whose cuDF/CuPy implementation lives in
:mod:`gpupipe.backend._cudf`, both registered lazily (importing this module imports neither
pandas nor cuDF). Code that does not depend on the backend (dtype classification, merging
statistics, the canonical form of vocabulary values) is written here, once.

The dtype rule (one rule, both backends)
----------------------------------------
Data is normalised where it enters gpupipe (readers, :func:`gpupipe.from_pandas`,
:func:`gpupipe.from_arrow`, and the entry of ``Workflow.fit/transform``, ``to_tensors`` and the
baselines) by :func:`normalize`, so that every op sees one of these *kinds*:

=========  ==========================================  ==========================================
kind       pandas                                      cuDF
=========  ==========================================  ==========================================
int        NumPy int/uint, or nullable ``Int64`` etc.  NumPy int/uint dtype, nulls in the mask
float      NumPy float32/float64, NaN = missing        NumPy float dtype; null and NaN = missing
bool       NumPy bool, or nullable ``boolean``         bool, nulls in the mask
str        pandas' ``str``                             cuDF strings
category   ``category`` (categories of a kind above)   ``category``
datetime   ``datetime64[unit]`` / ``[unit, tz]``       ``datetime64[unit]`` (UTC for tz-aware)
nested     list/struct values (kept, never encoded)    list/struct columns
other      anything else (timedelta, complex, ...)     anything else
=========  ==========================================  ==========================================

On the way in: Arrow-backed pandas columns (``double[pyarrow]``...) and cuDF's pandas extension
dtypes (``Int64``, ``boolean``, ``Float64`` kept by ``cudf.from_pandas``) become the column of the
table above; nullable floats become NumPy floats with NaN; object columns holding Python ints,
floats, bools or strings become ints (``Int64``, or ``UInt64`` above 2**63), floats, bools or
``str``; DATE columns become ``datetime64[ms]``; DECIMAL columns become float64 (the pandas readers
and ``from_arrow`` keep both Arrow-backed until then, so that round trips give them back exactly);
float16 becomes float32. An object column mixing kinds (``1`` and ``"1"``) is refused with a
:class:`~gpupipe.errors.SchemaError` naming it, since any single dtype would merge distinct values.

"Missing" means null, or NaN in a float column, on both backends (cuDF keeps the two apart;
gpupipe treats both as missing everywhere).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError, SchemaError
from ._murmur3 import murmur3_int64
from .dispatch import Dispatch

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "DATE_PARTS",
    "KINDS",
    "NUMERIC_KINDS",
    "KeyIndex",
    "all_missing",
    "build_frame",
    "canonical_arrow",
    "canonical_values",
    "check_fitted_kind",
    "check_kind",
    "check_label",
    "clip",
    "column_moments",
    "combine_moments",
    "counts_frame",
    "date_part",
    "empty_frame",
    "factorize",
    "fill_missing",
    "finalize_output",
    "float32_output",
    "float_value_counts",
    "float_values",
    "frames_with_same_int_dtype",
    "from_arrow",
    "group_moments",
    "hash_values",
    "int_dtype",
    "keep_rows",
    "key_positions",
    "keys_like",
    "kind",
    "left_join",
    "log1p",
    "lookup",
    "make_index",
    "map_columns",
    "missing",
    "murmur3_int64",
    "normalize",
    "numeric_arrays",
    "plain_dtype_name",
    "require_kinds",
    "same_int_dtype",
    "standardize",
    "stored_row_numbers",
    "sum_counts",
    "table_positions",
    "take_values",
    "to_arrow",
    "to_backend",
    "to_device",
    "to_host",
    "to_pandas",
    "value_counts",
    "value_kind",
    "with_columns",
    "work_scope",
]

KINDS = ("int", "float", "bool", "str", "category", "datetime", "decimal", "nested", "other")
NUMERIC_KINDS = ("int", "float", "bool")

def _generic(name: str, doc: str) -> Dispatch:
    g = Dispatch(name, doc)
    g.register_lazy("pandas", "gpupipe.backend._pandas")
    g.register_lazy("cudf", "gpupipe.backend._cudf")
    return g


# ============================================================================== dtypes (shared)
def kind(obj: Any) -> str:
    """The kind (see the module docstring) of a series, a dtype, or a dtype's name, on either backend.

    Examples
    --------
    >>> from gpupipe.backend.frame import kind
    >>> [kind(n) for n in ("Int64", "uint8", "float32", "boolean", "str", "category", "datetime64[ns, UTC]")]
    ['int', 'int', 'float', 'bool', 'str', 'category', 'datetime']
    >>> kind("double[pyarrow]"), kind("list<item: int64>[pyarrow]"), kind("timedelta64[ns]")
    ('float', 'nested', 'other')
    """
    dtype = getattr(obj, "dtype", obj)
    pa_type = getattr(dtype, "pyarrow_dtype", None)  # pandas.ArrowDtype
    if pa_type is not None:
        return _arrow_kind(pa_type)
    name = str(dtype).lower()
    if name.startswith("category"):
        return "category"
    np_kind = getattr(dtype, "kind", None)
    if isinstance(np_kind, str) and len(np_kind) == 1 and np_kind in "iufbM" and not name.startswith("decimal"):
        return {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime"}[np_kind]
    if name.endswith("[pyarrow]"):  # a name saved from an Arrow-backed pandas dtype
        return _arrow_name_kind(name[: -len("[pyarrow]")])
    if name.startswith(("int", "uint")):
        return "int"
    if name.startswith("float"):
        return "float"
    if name in ("bool", "boolean"):
        return "bool"
    if name.startswith("datetime64"):
        return "datetime"
    if name in ("str", "string", "object") or name.startswith("string"):
        return "str"
    if name.startswith("decimal"):
        return "decimal"
    if name.startswith(("list", "struct", "map", "large_list")):
        return "nested"
    return "other"


def _arrow_kind(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", lambda _: False)(t):
        return "str"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_dictionary(t):
        return "category"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_nested(t):
        return "nested"
    return "other"


def _arrow_name_kind(name: str) -> str:
    if name.startswith(("int", "uint")):
        return "int"
    if name in ("double", "float", "halffloat") or name.startswith("float"):
        return "float"
    if name in ("bool", "boolean"):
        return "bool"
    if name in ("string", "large_string", "string_view", "utf8", "large_utf8"):
        return "str"
    if name.startswith(("timestamp", "date")):
        return "datetime"
    if name.startswith("dictionary"):
        return "category"
    if name.startswith("decimal"):
        return "decimal"
    if name.startswith(("list", "large_list", "struct", "map", "fixed_size_list")):
        return "nested"
    return "other"


def value_kind(series: Any) -> str:
    """The kind of a series' values: a categorical counts as the kind of its categories."""
    k = kind(series)
    if k == "category":
        return kind(series.cat.categories.dtype)
    return k


def plain_dtype_name(dtype: Any) -> str:
    """The NumPy name of a dtype: pandas' nullable ``Int32``/``Float64``/``boolean`` → ``int32``/``float64``/``bool``."""
    name = str(dtype)
    if name == "boolean":
        return "bool"
    if kind(name) in NUMERIC_KINDS:
        return name.lower()
    return name


def check_kind(series: Any, column: str, op: str, accepted: Sequence[str]) -> str:
    """The column's value kind, or a SchemaError naming the column, its dtype and what ``op`` accepts."""
    k = value_kind(series)
    if k not in accepted:
        msg = (f"{op}: column {column!r} has dtype {series.dtype} ({k} values), which it cannot take; "
               f"it accepts {', '.join(accepted)} columns. {_advice(k)}")
        raise SchemaError(msg)
    return k


def require_kinds(frame: Any, columns: Sequence[str], op: str, kinds: Sequence[str], advice: str) -> None:
    """SchemaError naming every column of ``columns`` whose values are not of one of ``kinds``."""
    bad = {c: str(frame[c].dtype) for c in columns if value_kind(frame[c]) not in kinds}
    if bad:
        msg = f"{op}: column(s) {bad} have dtypes it cannot take; it needs {' or '.join(kinds)} columns. {advice}"
        raise SchemaError(msg)


def not_unicode_message(column: str, exc: UnicodeEncodeError) -> str:
    """Why a text column holding a lone surrogate (text decoded with ``errors="surrogateescape"``) has no str form."""
    bad = exc.object[exc.start:exc.end] if isinstance(exc.object, str) else ""
    return (f"column {column!r} holds text that is not valid Unicode ({bad!r}: a lone surrogate, as bytes decoded with "
            "errors='surrogateescape' leave), which no str/Arrow column can hold; replace those characters first, "
            f"e.g. df[{column!r}] = df[{column!r}].str.encode('utf-8', errors='replace').str.decode('utf-8')")


def _advice(k: str) -> str:
    return {
        "nested": "List/struct columns hold several values per row: explode or flatten them first "
                  "(pandas: df.explode / pd.json_normalize), or leave them out of the workflow",
        "other": "Cast the column to a number, a string or a timestamp first (or leave it out)",
        "datetime": "Use ops.DateParts to split timestamps into numbers first",
        "str": "Encode text with ops.Categorify (or HashBucket) first",
        "float": "Cast it (e.g. to int) or Bucketize it first",
    }.get(k, "Cast the column first (or choose another op)")


# ============================================================================== boundary
normalize = _generic(
    "normalize",
    "The frame with every column (or only ``columns``) in its canonical dtype (module docstring); "
    "the same object when nothing needs converting. SchemaError naming a column that cannot be converted.",
)


def canonical_arrow(table: pa.Table, *, keep_exact: bool = False) -> pa.Table:
    """The Arrow side of the dtype rule: DATE → timestamp[ms], DECIMAL → float64, float16 → float32,
    the null type → float64, string views → strings. Returns ``table`` itself when nothing changes.

    ``keep_exact`` leaves DATE and DECIMAL columns as they are: the pandas readers and ``from_arrow`` keep
    them Arrow-backed, so a read/write round trip gives back every digit and a DATE stays a DATE;
    :func:`normalize` (where ops and tensors take data) makes them timestamp[ms] and float64."""
    import pyarrow as pa

    fields = []
    changed = False
    for f in table.schema:
        exact = keep_exact and (pa.types.is_decimal(f.type) or pa.types.is_date(f.type))
        t = f.type if exact else _canonical_arrow_type(f.type)
        changed = changed or t != f.type
        fields.append(f.with_type(t))
    if not changed:
        return table
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _canonical_arrow_type(t: Any) -> Any:
    import pyarrow as pa

    if pa.types.is_date(t):
        return pa.timestamp("ms")
    if pa.types.is_decimal(t):
        return pa.float64()
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_null(t):
        return pa.float64()
    if getattr(pa.types, "is_string_view", lambda _: False)(t):
        return pa.string()
    if pa.types.is_dictionary(t):
        value = _canonical_arrow_type(t.value_type)
        return t if value == t.value_type else pa.dictionary(t.index_type, value, t.ordered)
    return t


from_arrow = _generic("from_arrow", "A frame of the named backend from a ``pyarrow.Table`` (``from_arrow.impl(backend)(table)``).")

to_arrow = _generic("to_arrow", "Frame (or series) of either backend → ``pyarrow.Table``, nulls as Arrow nulls, no index.")
to_pandas = _generic("to_pandas", "Frame of either backend → pandas frame in the canonical pandas dtypes (itself for pandas).")
to_backend = _generic("to_backend", "The frame on backend ``name`` (itself when it already is), through Arrow.")


# ============================================================================== frames
def with_columns(frame: Any, columns: Mapping[str, Any]) -> Any:
    """A shallow copy of a pandas or cuDF ``frame`` with ``columns`` (name → series or array of its rows, in its
    order) set: added, or replacing a column of that name in its place; the other columns are shared, not
    copied, and ``frame`` is left as it is."""
    out = frame.copy(deep=False)
    for name, values in columns.items():
        out[name] = values
    return out


# ============================================================================== arrays
def to_host(value: Any) -> Any:
    """A NumPy array or Python scalar from a NumPy/CuPy array or scalar (itself when already on the host)."""
    get = getattr(value, "get", None)
    return get() if callable(get) and not isinstance(value, Mapping) else value


to_device = _generic("to_device", "A host NumPy array moved to ``like``'s array namespace (itself on pandas).")
float_values = _generic(
    "float_values",
    "float64 array (NumPy/CuPy) of a numeric series with NaN where a value is missing; no copy for a "
    "float64 column on pandas.",
)
numeric_arrays = _generic(
    "numeric_arrays",
    "``(values, missing)`` of a numeric series as arrays of its namespace, in ``dtype`` (default: the "
    "column's NumPy dtype), missing slots holding ``fill``.",
)
missing = _generic("missing", "Boolean array (NumPy/CuPy) marking the missing values: nulls, and NaN in floats.")
work_scope = _generic(
    "work_scope",
    "A context manager around one bulk run over ``frame`` (a Workflow pass, a file read): on pandas, NumPy "
    "allocates its large arrays inside it without asking for transparent huge pages (restored after; "
    "``backend._pandas.numpy_small_pages``); on cuDF, nothing.",
)
map_columns = _generic(
    "map_columns",
    "``[fn(frame[c]) for c in columns]``; on pandas the columns run on CPU threads when that pays.",
)
build_frame = _generic(
    "build_frame",
    "A frame of ``like``'s backend with ``like``'s rows, from a name → array or series mapping; "
    "arrays keep NaN as NaN, nothing is reindexed.",
)
empty_frame = _generic(
    "empty_frame", "An empty frame of the named backend with a schema's columns and dtypes (``empty_frame.impl(backend)``).")


# ============================================================================== counting and lookups
value_counts = _generic(
    "value_counts",
    "pandas frame ``(value, count)`` of a series' non-missing values; values canonical, order unspecified.",
)
factorize = _generic(
    "factorize",
    "``(codes, values)``: codes an int array of the series' namespace with -1 for missing, ``values`` the "
    "distinct values as a canonical pandas array.",
)
float_value_counts = _generic(
    "float_value_counts",
    "``(values, counts)`` as host NumPy arrays: the distinct non-missing values of a numeric series as float64, "
    "sorted, and how often each occurs (counted where the data is: only the distinct values travel).",
)
make_index = _generic(
    "make_index",
    "An index of the named backend over host vocabulary ``values`` (``make_index.impl(backend)(values, like_dtype)``), "
    "in ``like_dtype`` when it holds every value (a narrower index looks narrower data up faster).",
)
lookup = _generic("lookup", "Position of each series value in ``index`` (from make_index), -1 when absent or missing.")
take_values = _generic(
    "take_values",
    "The inverse of a lookup: a series with ``like``'s backend, index and name holding ``values[positions]``. "
    "``values`` is a host pandas Series (its dtype is kept, missing entries stay missing), ``positions`` an int "
    "array of ``like``'s namespace, each in ``0 .. len(values) - 1`` (the caller checks the range).",
)
hash_values = _generic(
    "hash_values",
    "``(hash, missing)``: uint32 MurmurHash3_x86_32 of each value's canonical bytes (see "
    ":mod:`gpupipe.backend._murmur3`) and the missing mask, as arrays of the series' namespace.",
)


def canonical_values(values: Any) -> Any:
    """Vocabulary values in the canonical form both backends agree on, as a pandas array: int64 for
    integers (uint64 when a value is above 2**63 - 1), bool, float64, or pandas' ``str``.

    Examples
    --------
    >>> import numpy as np
    >>> from gpupipe.backend.frame import canonical_values
    >>> canonical_values(np.array([3, 1], dtype=np.int8)).dtype, canonical_values(np.array([2**64 - 1], dtype=np.uint64))
    (dtype('int64'), array([18446744073709551615], dtype=uint64))
    """
    import numpy as np
    import pandas as pd

    index = pd.Index(values)
    if isinstance(index.dtype, pd.CategoricalDtype):
        index = pd.Index(np.asarray(index.astype(index.dtype.categories.dtype)))
    k = kind(index.dtype)
    if k == "int":
        arr = index.to_numpy()
        if arr.dtype == np.uint64 and len(arr) and int(arr.max()) > np.iinfo(np.int64).max:
            return arr
        return index.to_numpy(dtype=np.int64)
    if k == "bool":
        return index.to_numpy(dtype=bool)
    if k == "float":
        return index.to_numpy(dtype=np.float64)
    return pd.array(index, dtype="str")


def counts_frame(values: Any, counts: Any) -> pd.DataFrame:
    """The (value, count) frame of the values counted at least once, values canonical."""
    import numpy as np
    import pandas as pd

    keep = np.asarray(counts) > 0
    if not isinstance(values, pd.Index):
        values = pd.Index(values)
    return pd.DataFrame({"value": canonical_values(values[keep]),
                         "count": np.asarray(counts)[keep].astype(np.int64)})


def sum_counts(frames: Iterable[Any], column: str | None = None) -> pd.DataFrame:
    """Combine (value, count) frames by summing the counts per value (associative, order-free); ``column``
    names the column in an error."""
    import pandas as pd

    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"value": pd.array([], dtype="str"), "count": pd.array([], dtype="int64")})
    if len(frames) == 1:
        return frames[0]
    both = pd.concat(frames_with_same_int_dtype(frames, ["value"], column), ignore_index=True)
    out = both.groupby("value", sort=False, dropna=True)["count"].sum()
    return pd.DataFrame({"value": canonical_values(out.index), "count": out.to_numpy().astype("int64")})


def same_int_dtype(parts: Sequence[Any], column: str | None = None) -> list[Any]:
    """One column's canonical values (:func:`canonical_values`) from several partitions, in one dtype so that they
    concatenate exactly: every integer part becomes uint64 when one is uint64 (it holds a value above 2**63 - 1),
    since pandas meets int64 and uint64 in float64, where 2**53 + 1 equals 2**53. Parts needing no change are
    returned as they are (the same objects). SchemaError naming ``column`` when one part holds negative numbers and
    another numbers above 2**63 - 1: no 64-bit integer holds both.

    Examples
    --------
    >>> import numpy as np
    >>> from gpupipe.backend.frame import same_int_dtype
    >>> [p.dtype.name for p in same_int_dtype([np.array([2**53 + 1]), np.array([2**63], dtype=np.uint64)])]
    ['uint64', 'uint64']
    """
    import numpy as np

    if not any(getattr(p, "dtype", None) == np.uint64 for p in parts):
        return list(parts)
    out = []
    for p in parts:
        arr = np.asarray(p)
        if arr.dtype.kind == "i":
            if len(arr) and int(arr.min()) < 0:
                where = f"column {column!r}: " if column is not None else ""
                msg = (f"{where}integer values span both negative numbers and numbers above 2**63 - 1 across "
                       "partitions; no 64-bit integer holds both. Cast the column to str before encoding it")
                raise SchemaError(msg)
            p = arr.astype(np.uint64)
        out.append(p)
    return out


def frames_with_same_int_dtype(frames: Sequence[Any], columns: Sequence[str], name: str | None = None) -> list[Any]:
    """Host frames (partials of several partitions) whose integer ``columns`` are brought to one dtype each by
    :func:`same_int_dtype`, so that ``pd.concat`` of them is exact; ``name`` (else the column) names it in an error.
    Frames needing no change are returned as they are."""
    frames = list(frames)
    for c in columns:
        values = same_int_dtype([f[c] for f in frames], name if name is not None else c)
        frames = [f if v is f[c] else f.assign(**{c: v}) for f, v in zip(frames, values, strict=True)]
    return frames


def stored_row_numbers(name: str, arrow_type: Any) -> bool:
    """Whether a column of a file is pandas' stored unnamed integer index (``__index_level_N__`` of integers):
    row numbers, which every reader leaves out (an unnamed index of other labels is data, kept as a column)."""
    import re

    import pyarrow as pa

    return re.fullmatch(r"__index_level_\d+__", name) is not None and pa.types.is_integer(arrow_type)


def _table_rows(kept: Any) -> Any:
    """The table row of each kept key, then -1 (the row of "not found"), from :func:`keys_like`'s mask; None when
    every row was kept."""
    import numpy as np

    return None if kept is None else np.append(np.flatnonzero(kept), -1).astype(np.int64)


# ============================================================================== exact integer keys
def int_dtype(series: Any) -> Any:
    """The NumPy integer dtype of a series' values (``Int32`` → int32; a categorical's categories' dtype), or
    None for a series of another kind."""
    import numpy as np

    dtype = series.dtype
    if kind(dtype) == "category":
        dtype = series.cat.categories.dtype
    if kind(dtype) != "int":
        return None
    return np.dtype(plain_dtype_name(getattr(dtype, "numpy_dtype", dtype)))


def _held(values: Any, dtype: Any) -> Any:
    """Which of the integer NumPy ``values`` the integer ``dtype`` holds, compared exactly (never through float64)."""
    import numpy as np

    ok = np.ones(len(values), dtype=bool)
    have, want = np.iinfo(values.dtype), np.iinfo(dtype)
    if want.min > have.min:  # then want.min (0 or below) is a value of values' dtype too
        ok &= values >= values.dtype.type(want.min)
    if want.max < have.max:  # then want.max (127 or more) is a value of values' dtype too
        ok &= values <= values.dtype.type(want.max)
    return ok


def keys_like(table: pd.DataFrame, keys: Sequence[str], likes: Sequence[Any]) -> tuple[pd.DataFrame, Any]:
    """A host table's integer key columns in the integer dtypes of the data they are matched with, and which of its
    rows were kept (a boolean mask; None when all were).

    ``likes[i]`` is the data's :func:`int_dtype` for ``keys[i]`` (None: the column is left as it is). A key value
    the data's dtype cannot hold (a negative one against uint64 data, one above 2**63 - 1 against int64 data, 300
    against int8 data) equals no value of the data, so its row is dropped rather than converted. Matching then
    compares one dtype with itself, exactly: pandas would meet int64 and uint64 in float64 (where 2**53 + 1 equals
    2**53) and a cast would wrap. Null keys are kept, in the nullable form of the dtype. The index is reset.
    """
    import numpy as np
    import pandas as pd

    casts = {}
    keep = np.ones(len(table), dtype=bool)
    for k, like in zip(keys, likes, strict=True):
        col = table[k]
        if like is None or kind(col.dtype) != "int":
            continue
        own = np.dtype(plain_dtype_name(getattr(col.dtype, "numpy_dtype", col.dtype)))
        nulls = col.isna().to_numpy()
        values = col.to_numpy(dtype=own, na_value=0) if nulls.any() else col.to_numpy(dtype=own)
        keep &= _held(values, like)  # a null's 0 is always held: null keys stay
        casts[k] = (values, nulls, isinstance(col.dtype, pd.api.extensions.ExtensionDtype), np.dtype(like))
    if not casts:
        return table, None
    kept = None if keep.all() else keep
    out = table if kept is None else table[kept]
    out = out.reset_index(drop=True)
    for k, (values, nulls, nullable, like) in casts.items():
        if kept is not None:
            values, nulls = values[kept], nulls[kept]
        values = values.astype(like)
        out[k] = pd.arrays.IntegerArray(values, nulls) if nullable or nulls.any() else values
    return out, kept


class KeyIndex:
    """An index over a fitted table's single-column keys for looking up data of one dtype (:func:`keys_like`):
    :meth:`positions` gives each value's row in the whole table, -1 when absent or missing."""

    def __init__(self, backend: str, values: Any, like_dtype: Any) -> None:
        import pandas as pd

        kept = None
        if like_dtype is not None and kind(getattr(values, "dtype", None)) == "int":
            table, kept = keys_like(pd.DataFrame({"k": values}), ["k"], [like_dtype])
            values = table["k"].to_numpy()
        self.index = make_index.impl(backend)(values, like_dtype)
        self.rows = _table_rows(kept)  # table row of each indexed value, then -1; None when every row is indexed

    def positions(self, series: Any) -> Any:
        pos = lookup(series, self.index)
        if self.rows is None:
            return pos
        return to_device(pos, self.rows)[pos]


def table_positions(frame: Any, keys: Sequence[str], table: pd.DataFrame) -> Any:
    """Row position in the host frame ``table`` (unique, non-missing keys in its columns ``keys``) of each row's key,
    -1 when absent or missing, as an int array of the frame's namespace; integer keys compared exactly in the data's
    dtype (:func:`keys_like`)."""

    from . import backend_of

    keys = list(keys)
    if len(keys) == 1:
        col = frame[keys[0]]
        return KeyIndex(backend_of(col), table[keys[0]].to_numpy(), int_dtype(col)).positions(col)
    like, kept = keys_like(table[keys], keys, [int_dtype(frame[k]) for k in keys])
    pos = key_positions(frame, keys, like)
    rows = _table_rows(kept)
    return pos if rows is None else to_device(pos, rows)[pos]


def all_missing(series: Any) -> bool:
    """Whether every value of the series is missing (null, or NaN in a float column): such a column carries no kind."""
    return bool(missing(series).all())


def check_fitted_kind(series: Any, column: str, op: str, accepted: Sequence[str], fitted: str | None) -> bool:
    """The kind check of an op encoding values with a fitted table, before it transforms ``series``: True when the
    column is all missing and its kind is not the one fitted (it carries no kind: every row encodes as missing),
    False when its kind is the one fitted (or ``fitted`` is None: unknown, as for a column all missing at fit).
    SchemaError naming the column, both kinds and the cast otherwise, as for a kind ``op`` does not accept
    (:func:`check_kind`)."""
    got = value_kind(series)
    if got in accepted and (fitted is None or got == fitted):
        return False
    if all_missing(series):
        return True
    check_kind(series, column, op, accepted)
    cast = {"int": "int64", "bool": "bool", "str": "str"}.get(str(fitted), str(fitted))
    msg = (f"{op}: column {column!r} was fitted on {fitted} values but now holds {got} values (dtype "
           f"{series.dtype}), which would all be unseen; cast it back to the dtype it was fitted on "
           f"(df[{column!r}].astype({cast!r})) or refit")
    raise SchemaError(msg)


# ============================================================================== element-wise
fill_missing = _generic(
    "fill_missing",
    "The series with missing values replaced by ``value``; a nullable integer/bool column comes back in its "
    "NumPy dtype (no nulls remain).",
)
clip = _generic(
    "clip",
    "The series bounded to ``[lower, upper]`` (None: unbounded), its dtype and missing values kept; bounds "
    "outside an integer dtype's range clip at the range.",
)
#: a bound that does not convert exactly to the column's dtype (the backend's own clip decides)
UNFIT = object()


def clip_bound(bound: Any, dtype: Any, side: str) -> Any:
    """A clip bound as a scalar of the NumPy ``dtype``: None where it bounds nothing (None, an infinity on its
    own side, an integer bound beyond the dtype's range on its own side), or :data:`UNFIT` when the result
    cannot be held in the dtype (a fractional bound on ints, or one beyond the range on the other side: every
    value would become a number the dtype has not got)."""
    import numpy as np

    if bound is None:
        return None
    value = float(bound)
    if math.isinf(value):
        if (value > 0) == (side == "upper"):
            return None
        msg = f"Clip({side}={bound!r}) leaves no value to keep"
        raise ParameterError(msg)
    if dtype.kind in "iu":
        if value != int(value):
            return UNFIT
        info = np.iinfo(dtype)
        b = int(bound) if isinstance(bound, numbers.Integral) else int(value)
        if side == "upper":
            return None if b >= info.max else (dtype.type(b) if b >= info.min else UNFIT)
        return None if b <= info.min else (dtype.type(b) if b <= info.max else UNFIT)
    exact = dtype.type(bound)
    return exact if float(exact) == value else UNFIT


def negative_log_error(column: str, count: int, low: float) -> Exception:
    from ..errors import DataError

    msg = (f"LogOp: column {column!r} has {count} negative value(s) (minimum {low}); log1p needs values "
           f">= 0. Clip them first: ['{column}'] >> ops.Clip(lower=0) >> ops.LogOp()")
    return DataError(msg)


log1p = _generic("log1p", "log1p of a numeric series as an array, NaN where missing; DataError naming ``column`` if negative.")
standardize = _generic("standardize", "float32 array ``(x - mean) / std`` of a numeric series, NaN where missing.")
date_part = _generic(
    "date_part",
    "One calendar field (one of ``DATE_PARTS``) of a datetime series as int64, missing where the timestamp is "
    "(pandas: ``Int64``); tz-aware timestamps give the fields of their own timezone.",
)
#: calendar fields date_part knows (month 1-12, day 1-31, dow Monday = 0, doy 1-366) -> the datetime accessor
#: attribute, the same on pandas (which deprecates dayofweek/dayofyear) and cuDF
DATE_FIELDS = {"year": "year", "month": "month", "day": "day", "dow": "day_of_week", "doy": "day_of_year",
               "hour": "hour", "minute": "minute", "second": "second"}
DATE_PARTS = tuple(DATE_FIELDS)


# ============================================================================== statistics
column_moments = _generic(
    "column_moments",
    "``(count, mean, m2, min, max)`` of a numeric series' non-missing values (m2: the sum of squared "
    "deviations); DataError naming ``column`` and ``op`` for an infinite value.",
)


def moments_of(x: Any, column: str, op: str) -> tuple[int, float, float, float, float]:
    """:func:`column_moments` of a float array (NumPy or CuPy) in which NaN marks a missing value."""
    from ..errors import DataError
    from . import array_namespace

    xp = array_namespace(x)
    x = x[~xp.isnan(x)]
    n = int(x.size)
    if n == 0:
        return (0, 0.0, 0.0, math.inf, -math.inf)
    if not bool(xp.isfinite(x).all()):
        msg = (f"{op}: column {column!r} holds infinite values, which have no mean or range; "
               f"clip them (ops.Clip) or filter those rows out first")
        raise DataError(msg)
    import numpy as np

    # finite values whose sum or squares pass 1.8e308 give inf/NaN moments, which the ops refuse by name
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(to_host(x.mean()))
        if not math.isfinite(mean):
            # the sum passed 1.8e308, the mean need not (a constant column of 1e308): averaged scaled down by a power
            # of two (exact), as a partitioned fit's pairwise update averages partial means
            scale = math.ldexp(1.0, math.frexp(float(to_host(xp.abs(x).max())))[1] - 1)
            mean = float(to_host((x / scale).mean())) * scale
        m2 = float(to_host(((x - mean) ** 2).sum()))
    return (n, mean, m2, float(to_host(x.min())), float(to_host(x.max())))


def combine_moments(partials: Iterable[Mapping[str, tuple[int, float, float, float, float]]]) -> dict[str, Any]:
    """Merge per-partition moments with Chan et al.'s pairwise update (exact up to float rounding)."""
    out: dict[str, Any] = {}
    for part in partials:
        for c, (nb, mb, m2b, lob, hib) in part.items():
            if c not in out:
                out[c] = (nb, mb, m2b, lob, hib)
                continue
            na, ma, m2a, loa, hia = out[c]
            if nb == 0:
                continue
            if na == 0:
                out[c] = (nb, mb, m2b, lob, hib)
                continue
            n = na + nb
            delta = mb - ma
            out[c] = (n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n, min(loa, lob), max(hia, hib))
    return out


def group_moments_table(agg: Any, var: Any, keys: Sequence[str], conts: Sequence[str]) -> Any:
    """:func:`group_moments`' pandas frame from a groupby's ``agg(["count", "sum", "min", "max"])`` and
    ``var(ddof=0)`` results (pandas frames indexed by the keys), whichever backend grouped."""
    import pandas as pd

    out = agg.index.to_frame(index=False)
    for k in keys:
        out[k] = canonical_values(out[k])
    for c in conts:
        n = agg[(c, "count")].to_numpy(dtype="float64")
        out[f"{c}__n"] = n
        out[f"{c}__sum"] = agg[(c, "sum")].to_numpy(dtype="float64", na_value=0.0)
        out[f"{c}__m2"] = var[c].reindex(agg.index).to_numpy(dtype="float64", na_value=0.0) * n
        out[f"{c}__min"] = agg[(c, "min")].to_numpy(dtype="float64", na_value=float("nan"))
        out[f"{c}__max"] = agg[(c, "max")].to_numpy(dtype="float64", na_value=float("nan"))
    return pd.DataFrame(out)


group_moments = _generic(
    "group_moments",
    "pandas frame: the distinct non-missing keys (canonical), then per value column ``<c>__n``, ``__sum``, "
    "``__m2``, ``__min``, ``__max`` over the group's non-missing values (NaN is missing, as in pandas).",
)


# ============================================================================== rows and joins
keep_rows = _generic("keep_rows", "The rows of ``frame`` where a boolean ``mask`` (series or array) is True (missing: False), index 0..n-1.")
left_join = _generic(
    "left_join",
    "Frame of ``added`` columns of ``ext`` for each row of ``frame`` matched on ``on``, in ``frame``'s row order "
    "(``ext``'s keys are unique); unmatched rows missing.",
)
key_positions = _generic(
    "key_positions",
    "Row position in the host frame ``table_keys`` of each row's multi-column key, -1 when absent or missing, "
    "as an int64 array of the frame's namespace.",
)


# ============================================================================== output
def label_error(label: str, bad: int) -> Exception:
    from ..errors import DataError

    msg = (f"label column {label!r} has {bad} null, NaN or infinite value(s); a label must be a finite number in "
           f"every row. Drop those rows first (for example with ops.Dropna on ['{label}'] in its own workflow, or "
           "pandas/cuDF dropna) or fill them")
    return DataError(msg)


def cat_null_error(name: str, count: int) -> Exception:
    from ..errors import DataError

    msg = (f"categorical output column {name!r} has {count} null id(s); an id column must be complete. "
           "This is a bug in the op that produced it, or a column marked categorical without an encoder")
    return DataError(msg)


def float32_overflow_error(name: str, role: str, values: Any) -> Exception:
    """The DataError for an output column (continuous or label) holding finite values beyond float32's range,
    which the float32 output would turn into ±inf; ``values`` are its float64 values (NumPy or CuPy)."""
    from ..errors import DataError
    from . import array_namespace

    xp = array_namespace(values)
    over = xp.isfinite(values) & (xp.abs(values) > float(xp.finfo(xp.float32).max))
    count = int(to_host(over.sum()))
    first = int(to_host(xp.flatnonzero(over)[0])) if count else -1
    example = f"; e.g. {float(to_host(values[first]))!r} at row {first}" if count else ""
    what = "label" if role == "label" else "continuous output column"
    msg = (f"{what} {name!r} has {count} finite value(s) beyond float32's range (±3.4e38{example}), which the "
           "float32 output would make ±inf: scale them in the workflow (ops.LogOp, ops.Normalize) or bound them "
           "(ops.Clip)")
    return DataError(msg)


def float32_output(values: Any, name: str, op: str, advice: str, source: Any = None) -> Any:
    """``values`` (float64, NumPy or CuPy) as the float32 array an op outputs; DataError naming ``op`` and the output
    column ``name`` when finite values lie beyond float32's range (the cast would make them ±inf, which the Workflow's
    own float32 output refuses for any other column). ``advice`` says what to do instead. ``source``: the finite
    inputs the values were computed from (default: the values themselves), for values that passed even float64's
    range on the way."""
    import numpy as np

    from ..errors import DataError
    from . import array_namespace

    xp = array_namespace(values)
    with np.errstate(over="ignore"):
        out = values.astype(xp.float32)
    if not bool(xp.isinf(out).any()):  # the common case: one pass over the output
        return out
    over = xp.isinf(out) & xp.isfinite(values if source is None else source)
    count = int(to_host(over.sum()))
    if count:
        first = int(to_host(xp.flatnonzero(over)[0]))
        value = float(to_host(values[first]))
        shown = repr(value) if math.isfinite(value) else f"{float(to_host(source[first]))!r} given"
        msg = (f"{op}: output column {name!r} has {count} finite value(s) beyond float32's range (±3.4e38; e.g. "
               f"{shown} at row {first}), which its float32 output would make ±inf; {advice}")
        raise DataError(msg)
    return out


check_label = _generic("check_label", "DataError naming the label if it holds a missing or infinite value.")
finalize_output = _generic(
    "finalize_output",
    "The workflow output in schema order and dtypes: cont and label float32 (NaN where missing, no null mask), "
    "cat int64 (DataError naming a cat column that holds missing ids).",
)
