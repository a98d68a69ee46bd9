"""pandas/NumPy implementations of the frame vocabulary (:mod:`gpupipe.backend.frame`).

These are the CPU fast paths: nullable integer columns are read straight from their values and
mask (no filled copies), element-wise chains run block by block in reused buffers, Categorify's
columns run on threads (pandas' hash tables and NumPy release the GIL), and Arrow tables become
pandas columns one by one so that both copies of a table never coexist.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import SchemaError
from . import frame as F
from ._murmur3 import murmur3_bytes, murmur3_int64


def _numpy_madvise_switch() -> Any:
    """NumPy's ``_set_madvise_hugepage`` (sets the advice, returns the previous one), or None where this
    NumPy has none or the user chose: ``NUMPY_MADVISE_HUGEPAGE`` set (NumPy's own knob) or
    ``GPUPIPE_NUMPY_HUGEPAGE=1`` (keep NumPy's default)."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ or os.environ.get("GPUPIPE_NUMPY_HUGEPAGE", "0") == "1":
        return None
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    return getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)


_pages_lock = threading.Lock()
_pages_depth = 0
_pages_before: bool | None = None


@contextlib.contextmanager
def numpy_small_pages() -> Iterator[None]:
    """Inside the block, NumPy does not ask for transparent huge pages on its large arrays; the previous
    setting is restored when the last concurrent block ends.

    NumPy ``madvise(MADV_HUGEPAGE)``s every array of 4 MiB or more. Where the kernel's THP ``defrag``
    is ``madvise`` (a common default), each first touch of such an array needs a free 2 MiB block,
    found by direct compaction when memory is fragmented; on a VM whose balloon hands free 2 MiB
    blocks back to the host every such block is also cold there. The pandas backend makes many
    short-lived 5-40 MB columns, so on the 2-core build VM this was most of a Criteo workflow's
    system time (4.7 s of 8 s wall at 5M rows). The setting is NumPy's, process-wide, so it is held
    only while gpupipe works (readers, Workflow passes): NumPy work elsewhere in the process keeps
    huge pages outside those calls. Nothing is changed when :func:`_numpy_madvise_switch` says so.
    """
    global _pages_depth, _pages_before
    switch = _numpy_madvise_switch()
    if switch is None:
        yield
        return
    with _pages_lock:
        if _pages_depth == 0:
            _pages_before = bool(switch(False))
        _pages_depth += 1
    try:
        yield
    finally:
        with _pages_lock:
            _pages_depth -= 1
            if _pages_depth == 0:
                switch(bool(_pages_before))


@F.work_scope.register("pandas")
def _work_scope_pandas(frame: Any) -> contextlib.AbstractContextManager[None]:
    return numpy_small_pages()

# Elements per block in the fast paths: a float64 block of 64K (512 KiB) stays in cache, so a chain
# of in-place ufuncs over it costs one read of the input and one write of the output, with no
# full-length temporaries (fresh memory is what costs most on small machines).
CHUNK = 1 << 16

# Below this many rows a column's pass is too short for a thread hand-off to pay.
_THREAD_MIN_ROWS = 200_000


# ============================================================================== masked integers
def masked_int_parts(series: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(values, mask)`` of a nullable integer series (``Int32``, ``UInt8``...) without copying, or None
    for any other series. ``values`` holds arbitrary numbers where ``mask`` is True."""
    from pandas.api.extensions import ExtensionDtype

    dtype = series.dtype
    if not isinstance(dtype, ExtensionDtype) or getattr(dtype, "kind", None) not in ("i", "u"):
        return None
    array = series.array
    values, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if values is None or mask is None:
        return None
    return values, mask


def int_parts(series: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(values, mask or None)`` of an integer series without copying: a NumPy ``int``/``uint``
    column gives ``(values, None)``, a nullable one its stored values and mask; None otherwise."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        return (series.to_numpy(), None) if dtype.kind in ("i", "u") else None
    return masked_int_parts(series)


# ============================================================================== boundary
def _pandas_types_mapper() -> Any:
    """Arrow → pandas dtypes: integers/bools nullable (nulls never turn ints into floats); nested, decimal,
    date and time-of-day columns Arrow-backed (Python's ``datetime.time`` holds microseconds: a TIME with
    nanoseconds, Polars' ``Time``, has no object form)."""
    table = {
        pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
    }

    def mapper(t: Any) -> Any:
        found = table.get(t)
        if found is not None:
            return found
        exact = pa.types.is_nested(t) or pa.types.is_decimal(t) or pa.types.is_date(t) or pa.types.is_time(t)
        return pd.ArrowDtype(t) if exact else None

    return mapper


def plain_pandas_metadata(schema: pa.Schema) -> bool:
    """True when the schema's pandas metadata (if any) asks for nothing but a default ``0..n-1`` index
    and string column labels, so columns can be converted one by one (:func:`columns_to_pandas`)."""
    import json

    if len(set(schema.names)) != len(schema.names):
        return False
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return True
    try:
        meta = json.loads(raw)
    except ValueError:
        return False
    index = meta.get("index_columns", [])
    plain_index = not index or (len(index) == 1 and isinstance(index[0], dict) and index[0].get("kind") == "range"
                                and index[0].get("name") is None and index[0].get("start") == 0
                                and index[0].get("step") == 1)
    levels = meta.get("column_indexes", [])
    plain_labels = not levels or (len(levels) == 1 and levels[0].get("name") is None
                                  and levels[0].get("pandas_type") in ("unicode", "string", "empty"))
    return plain_index and plain_labels


def _masked_from_chunks(column: pa.ChunkedArray, dtype: Any) -> Any:
    """A pandas nullable integer array from an Arrow integer column: the values copied once into
    fresh, writable memory and the validity bitmap unpacked into the mask. (``Table.to_pandas``
    goes through ``combine_chunks`` and a second copy, and keeps both until the whole table is done.)"""
    n = len(column)
    data = np.empty(n, dtype=dtype.numpy_dtype)
    mask = np.zeros(n, dtype=bool)
    for rows, values, nulls in _chunk_values(column, data.dtype):
        data[rows] = values
        if nulls is not None:
            mask[rows] = nulls
    return dtype.construct_array_type()(data, mask, copy=False)


def _chunk_values(column: pa.ChunkedArray, np_dtype: np.dtype) -> Iterator[tuple[slice, np.ndarray, np.ndarray | None]]:
    """Per non-empty chunk of a fixed-width Arrow column: its rows in the whole column, a view of its values in
    Arrow's buffer (no copy; what lies under a null is unspecified) and its nulls as a bool array (None: none)."""
    pos = 0
    for chunk in column.chunks:
        m = len(chunk)
        if m == 0:
            continue
        validity, values = chunk.buffers()[:2]
        view = np.frombuffer(values, dtype=np_dtype, count=m, offset=chunk.offset * np_dtype.itemsize)
        nulls = None
        if validity is not None and chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=chunk.offset + m, bitorder="little")
            nulls = bits[chunk.offset:] == 0
        yield slice(pos, pos + m), view, nulls
        pos += m


def columns_to_pandas(table: pa.Table) -> dict[str, Any]:
    """Name → pandas array/series of each column of a canonical ``table`` whose metadata is plain (see
    :func:`plain_pandas_metadata`), in order. Integer columns become nullable pandas arrays directly; the
    other columns go through ``Table.to_pandas``. Pass a table nothing else holds to let it be released
    column by column."""
    table = F.canonical_arrow(table, keep_exact=True)
    mapper = _pandas_types_mapper()
    ints = {i for i, field in enumerate(table.schema) if pa.types.is_integer(field.type)}
    floats = {i for i, field in enumerate(table.schema) if pa.types.is_floating(field.type)}
    others = [i for i in range(table.num_columns) if i not in ints and i not in floats]
    rest = None
    if others:
        # Without the pandas metadata: callers checked it asks for nothing but a plain index (plain_pandas_metadata),
        # and its per-column dtype names are read for every column it lists, also those not selected here, which
        # fails on names pandas cannot parse back ('list<item: int64>[pyarrow]'). The Arrow types carry the rest.
        rest = table.select(others).replace_schema_metadata(None).to_pandas(
            types_mapper=mapper, split_blocks=True, self_destruct=True)
    out: dict[str, Any] = {}
    for i, name in enumerate(table.column_names):
        if i in ints:
            out[name] = _masked_from_chunks(table.column(i), mapper(table.schema.field(i).type))
        elif i in floats:
            out[name] = numpy_from_chunks(table.column(i))
        elif getattr(rest[name].dtype, "kind", None) in ("M", "m"):
            # timestamps and durations come as read-only views of Arrow's buffers: copied, so they can be assigned into
            out[name] = rest[name].copy(deep=True)
        else:
            out[name] = rest[name]
    return out


def numpy_from_chunks(column: pa.ChunkedArray) -> np.ndarray:
    """A NumPy float column from an Arrow float column, nulls as NaN (NaN is the only missing marker of NumPy
    floats, so NaN values and nulls both read as missing, as ``pd.read_parquet`` gives them), or a NumPy integer
    column from an Arrow integer column without nulls: the values copied once into fresh, writable memory
    (``Table.to_pandas`` hands out read-only views of Arrow's buffers, which pandas then refuses to assign into)."""
    data = np.empty(len(column), dtype=np.dtype(column.type.to_pandas_dtype()))
    for rows, values, nulls in _chunk_values(column, data.dtype):
        part = data[rows]
        part[:] = values
        if nulls is not None:
            part[nulls] = np.nan
    return data


def frame_from_columns(columns: dict[str, Any], rows: int) -> pd.DataFrame:
    """A frame with a ``0..rows-1`` index from :func:`columns_to_pandas` output, without copying."""
    index = pd.RangeIndex(rows)
    return pd.DataFrame({name: (col.array if isinstance(col, pd.Series) else col) for name, col in columns.items()},
                        index=index, columns=list(columns), copy=False)


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow table → canonical pandas frame: nullable ints/bools (also without nulls, so that every file
    and every partition of a dataset reads to the same dtypes), writable NumPy floats with NaN for nulls and
    NaN values alike, ``str`` text,
    exact Arrow-backed decimals and dates (:func:`canonical_series` makes them float64 and datetime64 for the ops)."""
    table = F.canonical_arrow(table, keep_exact=True)
    if not plain_pandas_metadata(table.schema):
        table = _stored_index_as_columns(table)
    if not plain_pandas_metadata(table.schema):
        frame = table.to_pandas(types_mapper=_pandas_types_mapper(), split_blocks=True, self_destruct=False)
        for name in list(frame.columns):  # zero-copy float and time columns are read-only views: writable copies
            dtype = frame[name].dtype
            kind = getattr(dtype, "kind", None)
            if (kind == "f" and isinstance(dtype, np.dtype)) or kind in ("M", "m"):
                frame[name] = frame[name].copy(deep=True)
    else:
        frame = frame_from_columns(columns_to_pandas(table), table.num_rows)
    return _text_categories(frame, table.schema)


def _stored_index_as_columns(table: pa.Table) -> pa.Table:
    """A pandas index stored in the table (``df.to_parquet`` of a frame with an index) as the directory readers
    and ``gp.Dataset`` give it, so that one file reads alike however it is named: a named index is a column, an
    unnamed integer one (``__index_level_N__``: row numbers) and a range are left out; the frame gets a ``0..n-1``
    index."""
    import json

    try:
        meta = json.loads((table.schema.metadata or {})[b"pandas"])
    except (KeyError, ValueError):
        return table
    stored = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    if not stored and not meta.get("index_columns"):
        return table
    # row numbers: an unnamed integer index; an unnamed index of other labels (text, dates) is data, kept as a
    # column under its stored name, as the directory readers keep it (gpupipe.io.files.parquet_footer)
    unnamed = [c for c in stored if c in table.column_names and F.stored_row_numbers(c, table.schema.field(c).type)]
    table = table.drop_columns(unnamed)
    meta["index_columns"] = []
    meta["columns"] = [c for c in meta.get("columns", []) if c.get("field_name") not in unnamed]
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"pandas": json.dumps(meta).encode()})


def _text_categories(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """Arrow gives a dictionary column of text with no value at all ``object`` categories, which go back to
    Arrow as a dictionary of nulls: give them pandas' ``str`` dtype, as non-empty ones have."""
    for f in schema:
        t = f.type
        if pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
            col = frame[f.name]
            if len(col.cat.categories) == 0 and col.cat.categories.dtype == object:
                frame[f.name] = col.cat.set_categories(pd.Index([], dtype="str"))
    return frame


@F.from_arrow.register("pandas")
def _from_arrow_pandas(table: pa.Table) -> pd.DataFrame:
    return arrow_to_pandas(table)


@F.to_arrow.register("pandas")
def _to_arrow_pandas(frame: Any) -> pa.Table:
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    return pa.Table.from_pandas(frame, preserve_index=False)


@F.to_pandas.register("pandas")
def _to_pandas_pandas(frame: Any) -> Any:
    return frame


@F.to_backend.register("pandas")
def _to_backend_pandas(frame: Any, name: str) -> Any:
    if name == "pandas":
        return frame
    return F.from_arrow.impl(name)(F.to_arrow(frame))


_STR = None


def _str_dtype() -> Any:
    global _STR
    if _STR is None:
        _STR = pd.Series([], dtype="str").dtype
    return _STR


@F.normalize.register("pandas")
def _normalize_pandas(frame: Any, columns: Sequence[str] | None = None) -> Any:
    names = list(frame.columns) if columns is None else [c for c in columns if c in frame.columns]
    changed: dict[str, Any] = {}
    for c in names:
        s = frame[c]
        new = canonical_series(s, c)
        if new is not s:
            changed[c] = new
    return F.with_columns(frame, changed) if changed else frame


def canonical_series(s: pd.Series, name: str) -> pd.Series:
    """``s`` in its canonical pandas dtype (itself when it already is): see :mod:`gpupipe.backend.frame`."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        k = dtype.kind
        if k == "f":
            return s if dtype.itemsize >= 4 else s.astype(np.float32)
        if k == "O":
            return _from_object(s, name)
        if k in "US":
            return s.astype("str")
        return s  # ints, uints, bools, datetimes, and the kinds no op takes (timedelta, complex)
    if isinstance(dtype, pd.ArrowDtype):
        return _from_arrow_backed(s, name)
    if isinstance(dtype, pd.StringDtype):
        return s if dtype == _str_dtype() else s.astype("str")
    if getattr(dtype, "kind", None) == "f" and hasattr(dtype, "numpy_dtype"):  # Float32/Float64: NaN is missing
        return pd.Series(s.to_numpy(dtype=dtype.numpy_dtype, na_value=np.nan), index=s.index, name=s.name, copy=False)
    if isinstance(dtype, pd.CategoricalDtype):
        return _canonical_categories(s, name)
    return s


def _canonical_categories(s: pd.Series, name: str) -> pd.Series:
    """A categorical whose categories are in their canonical dtype, as a column of them would be: categories held
    as Python objects (``pd.Categorical(..., categories=pd.Index([1, 2], dtype=object))``) are read by the rules of
    object columns, so that the values are ints (not the text "1"), as in the plain column."""
    cats = s.cat.categories
    new = canonical_series(pd.Series(cats, name=s.name), name)
    if new.dtype == cats.dtype:
        return s
    values = pd.Index(new.array, name=cats.name)
    if not values.is_unique:  # two categories with one canonical value: the column of the values, not a categorical
        return canonical_series(pd.Series(np.asarray(s.array), index=s.index, name=s.name), name)
    codes = s.cat.codes.to_numpy()
    return pd.Series(pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(values, s.cat.ordered)),
                     index=s.index, name=s.name, copy=False)


def _from_arrow_backed(s: pd.Series, name: str) -> pd.Series:
    t = s.dtype.pyarrow_dtype
    if pa.types.is_nested(t):
        return s  # nested values stay as they are; ops refuse them by name
    table = F.canonical_arrow(pa.table({"v": s.array.__arrow_array__()}))
    col = columns_to_pandas(table)["v"]
    return pd.Series(col.array if isinstance(col, pd.Series) else col, index=s.index, name=s.name, copy=False)


_OBJECT_RULES = {
    "string": "str", "integer": "int", "floating": "float64", "mixed-integer-float": "float64",
    "boolean": "boolean", "decimal": "float64", "empty": "float64",
}


def _from_object(s: pd.Series, name: str) -> pd.Series:
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    rule = _OBJECT_RULES.get(inferred)
    if rule == "int":
        return _object_ints(s, name)
    if rule == "float64":
        # every missing marker (None, NaN, pd.NA: a Float64 column cast to object holds pd.NA, which astype("float64")
        # refuses) becomes NaN; Decimals convert by float()
        values = np.full(len(s), np.nan) if inferred == "empty" else s.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.Series(values, index=s.index, name=s.name)
    if rule is not None:
        try:
            return s.astype(rule)
        except UnicodeEncodeError as exc:
            raise SchemaError(F.not_unicode_message(name, exc)) from None
    if inferred in ("datetime", "datetime64", "date"):
        try:
            return pd.to_datetime(s)
        except (ValueError, TypeError) as exc:
            msg = (f"column {name!r} holds timestamps that do not share one timezone ({exc}); convert them to one "
                   "timezone first (pd.to_datetime(s, utc=True))")
            raise SchemaError(msg) from None
    first = s.dropna().iloc[:1].tolist()
    if first and isinstance(first[0], (list, tuple, dict, np.ndarray)):
        try:
            arr = pa.array(s.to_numpy(), from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            msg = f"column {name!r} holds lists/dicts of varying shapes that Arrow cannot type ({exc}); flatten it first"
            raise SchemaError(msg) from None
        return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=s.index, name=s.name)
    types = sorted({type(v).__name__ for v in s.dropna().iloc[:1000]})
    msg = (f"column {name!r} is an object column holding {inferred} values ({', '.join(types)}); one column "
           f"needs one kind of value, or distinct values such as 1 and '1' would be merged. Cast it first, e.g. "
           f"df[{name!r}] = df[{name!r}].astype(str), or leave it out")
    raise SchemaError(msg)


def _object_ints(s: pd.Series, name: str) -> pd.Series:
    try:
        return s.astype("Int64")
    except (OverflowError, TypeError, ValueError):
        pass
    try:
        return s.astype("UInt64")
    except (OverflowError, TypeError, ValueError):
        msg = (f"column {name!r} holds Python integers beyond the 64-bit range (below -2**63 or above 2**64 - 1); "
               "cast them to str to use them as categories")
        raise SchemaError(msg) from None


# ============================================================================== arrays and frames
@F.to_device.register("pandas")
def _to_device_pandas(like: Any, array: Any) -> Any:
    return array


@F.float_values.register("pandas")
def _float_values_pandas(series: Any) -> Any:
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


@F.numeric_arrays.register("pandas")
def _numeric_arrays_pandas(series: Any, dtype: Any = None, fill: Any = 0) -> tuple[Any, Any]:
    mask = series.isna().to_numpy()
    if dtype is None:
        dtype = series.dtype.numpy_dtype if hasattr(series.dtype, "numpy_dtype") else series.dtype
    values = series.to_numpy(dtype=dtype, na_value=fill) if mask.any() else series.to_numpy(dtype=dtype)
    return np.asarray(values), mask


@F.missing.register("pandas")
def _missing_pandas(series: Any) -> Any:
    parts = masked_int_parts(series)
    if parts is not None:
        mask = parts[1].view()
        mask.flags.writeable = False  # the column's own mask: a view, never to be written
        return mask
    return series.isna().to_numpy()  # pandas counts NaN as missing already


@F.map_columns.register("pandas")
def _map_columns_pandas(frame: Any, columns: Sequence[str], fn: Any) -> list[Any]:
    series = [frame[c] for c in columns]  # taken here, in one thread: workers only read their own series
    workers = min(len(series), os.cpu_count() or 1)
    if workers < 2 or len(frame) < _THREAD_MIN_ROWS:
        return [fn(s) for s in series]
    # pandas' hash tables (factorize, get_indexer) and NumPy release the GIL, so the columns' passes
    # overlap; results (and the first error, in column order) come back as a serial loop's would, each call in a
    # copy of the caller's context (its gp.use_backend, its audit blocks), as the loop's calls would see it.
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, s) for s in series]
        return [f.result() for f in futures]


@F.build_frame.register("pandas")
def _build_frame_pandas(like: Any, data: Mapping[str, Any]) -> Any:
    return pd.DataFrame(dict(data), index=like.index, copy=False)


@F.empty_frame.register("pandas")
def _empty_frame_pandas(schema: Any) -> Any:
    return pd.DataFrame({c.name: np.empty(0, dtype=np.int64 if c.role == "cat" else np.float32) for c in schema})


# ============================================================================== counting and lookups
def factorize_counts(series: Any) -> tuple[Any, Any, Any]:
    """(codes with -1 for null, distinct values as an Index, count of each)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        # The codes already are a factorization: count them, no hashing needed.
        codes = series.cat.codes.to_numpy()
        values = pd.Index(series.cat.categories)
    else:
        # factorize + bincount: one hash pass, ~2x faster than Series.value_counts on 5M rows.
        codes, values = pd.factorize(series, use_na_sentinel=True)
        values = pd.Index(values)
    counts = np.bincount(codes + 1, minlength=len(values) + 1)[1:]
    return codes, values, counts


@F.value_counts.register("pandas")
def _value_counts_pandas(series: Any) -> Any:
    parts = int_parts(series)
    if parts is not None:
        counted = _int_value_counts(*parts)
        if counted is not None:
            return F.counts_frame(*counted)
    _, values, counts = factorize_counts(series)
    return F.counts_frame(values, counts)


# Rows per chunk of an integer value count: the chunk's codes (intp, 2 MiB) are all the per-row memory it needs.
_COUNT_CHUNK = 1 << 18


def _int_value_counts(values: Any, mask: Any) -> tuple[Any, Any] | None:
    """(distinct values in order of appearance, count of each) of an integer column's non-null values, or
    None when pandas' hash table classes for its dtype are not there to call.

    One pandas hash table is fed the column a chunk at a time (``get_labels``), so the only per-row memory
    is one chunk's codes, reused, instead of a full-length codes array (40 MB of fresh memory per 5M-row
    column with ``pd.factorize``), and the table starts small and grows (a table sized for every row is
    slower on Criteo-like ids). The values under the null mask are hashed like the others and their counts
    subtracted per chunk, cheaper than masking every row first.
    """
    try:
        from pandas._libs import hashtable as ht
    except ImportError:  # a pandas without it: the caller takes the public path
        return None
    name = {"i": "Int", "u": "UInt"}.get(values.dtype.kind, "?") + str(values.dtype.itemsize * 8)
    table_cls, vector_cls = getattr(ht, f"{name}HashTable", None), getattr(ht, f"{name}Vector", None)
    if table_cls is None or vector_cls is None or not hasattr(table_cls, "get_labels"):
        return None
    table = table_cls(1 << 12)
    parts: list[Any] = []
    counts = np.zeros(1 << 12, dtype=np.int64)
    n = 0
    for start in range(0, len(values), _COUNT_CHUNK):
        new = vector_cls()
        codes = table.get_labels(values[start:start + _COUNT_CHUNK], new, n, -1)
        added = new.to_array()
        if len(added):
            parts.append(added)
            n += len(added)
            if n > len(counts):
                counts = np.concatenate([counts, np.zeros(max(n, 2 * len(counts)) - len(counts), dtype=np.int64)])
        counts[:n] += np.bincount(codes, minlength=n)
        if mask is not None:
            m = mask[start:start + _COUNT_CHUNK]
            if m.any():
                counts[:n] -= np.bincount(codes[m], minlength=n)
    uniques = np.concatenate(parts) if parts else values[:0].copy()
    return uniques, counts[:n]


@F.factorize.register("pandas")
def _factorize_pandas(series: Any) -> tuple[Any, Any]:
    codes, values, _ = factorize_counts(series)
    return codes, F.canonical_values(values)


@F.take_values.register("pandas")
def _take_values_pandas(like: Any, values: Any, positions: Any) -> Any:
    return pd.Series(values.array.take(np.asarray(positions)), index=like.index, name=like.name, copy=False)


@F.float_value_counts.register("pandas")
def _float_value_counts_pandas(series: Any) -> tuple[Any, Any]:
    x = _float_values_pandas(series)
    values, counts = np.unique(x[~np.isnan(x)], return_counts=True)
    return values, counts.astype(np.int64)


@F.make_index.register("pandas")
def _make_index_pandas(values: Any, like_dtype: Any = None) -> Any:
    return pd.Index(_narrowed(values, like_dtype))


def _narrowed(values: Any, like_dtype: Any) -> Any:
    """``values`` in ``like_dtype`` when it is an integer dtype holding every one of them (an int32 index looks
    int32 data up ~2x faster than an int64 one); else as they are."""
    arr = np.asarray(values)
    if like_dtype is None or arr.dtype.kind not in "iu" or not len(arr):
        return arr
    like = np.dtype(getattr(like_dtype, "numpy_dtype", like_dtype))
    if like.kind not in "iu":
        return arr
    info = np.iinfo(like)
    if int(arr.min()) >= info.min and int(arr.max()) <= info.max:
        return arr.astype(like)
    return arr


# A lookup of at least this many rows per vocabulary entry drops the index's hash table after use:
# rebuilding it costs less than an eighth of such a lookup, and 26 Criteo id columns' tables are 47 MB
# that would otherwise stay in the peak of a bulk transform. Smaller lookups (serving) keep it.
_KEEP_TABLE_BELOW = 8


@F.lookup.register("pandas")
def _lookup_pandas(series: Any, index: Any) -> Any:
    pos = _lookup_positions(series, index)
    if len(series) >= _KEEP_TABLE_BELOW * len(index) and hasattr(index, "_cleanup"):
        index._cleanup()  # pandas rebuilds the table on the next lookup
    return pos


def _lookup_positions(series: Any, index: Any) -> Any:
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Look the (few) categories up once, then gather by code.
        cat_pos = index.get_indexer(pd.Index(F.canonical_values(series.cat.categories)))
        codes = series.cat.codes.to_numpy()
        return np.where(codes >= 0, np.append(cat_pos, -1)[codes], -1)
    parts = masked_int_parts(series)
    if parts is not None:
        # Look the stored values up as they are (no filled copy); the null rows' answers are then overwritten.
        values, mask = parts
        pos = index.get_indexer(values)
        np.putmask(pos, mask, -1)
        return pos
    k = F.kind(series)
    if k in ("int", "bool"):
        values, mask = _numeric_arrays_pandas(series)
        pos = index.get_indexer(values)
        pos[mask] = -1
        return pos
    return index.get_indexer(series)


@F.hash_values.register("pandas")
def _hash_values_pandas(series: Any, seed: int = 0) -> tuple[Any, Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = pd.Series(F.canonical_values(series.cat.categories))
        cat_hash, _ = _hash_values_pandas(cats, seed)
        codes = series.cat.codes.to_numpy()
        return np.append(cat_hash, np.uint32(0))[codes], codes < 0
    k = F.kind(series)
    if k in ("int", "bool"):
        values, mask = _numeric_arrays_pandas(series)
        values = values.view(np.int64) if values.dtype == np.uint64 else values.astype(np.int64)
        return np.where(mask, np.uint32(0), murmur3_int64(values, seed)), mask
    if k == "float":
        values, mask = _numeric_arrays_pandas(series, dtype=np.float64, fill=0.0)
        values = np.where(values == 0.0, 0.0, values)  # -0.0 and 0.0 hash alike, as in cuDF
        mask = mask | np.isnan(values)
        return np.where(mask, np.uint32(0), murmur3_int64(values.view(np.int64), seed)), mask
    arr = pa.array(series, type=pa.large_string(), from_pandas=True)
    mask = np.asarray(arr.is_null().to_numpy(zero_copy_only=False))
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    h = murmur3_bytes(data, offsets, seed)
    return np.where(mask, np.uint32(0), h), mask


# ============================================================================== element-wise
@F.fill_missing.register("pandas")
def _fill_missing_pandas(series: Any, value: Any) -> Any:
    parts = masked_int_parts(series)
    if parts is not None and _holds(parts[0].dtype, value):
        # One copy of the stored values with the fill written under the mask: what fillna +
        # astype(numpy dtype) give, without their two extra full-length copies.
        values, mask = parts
        out = values.copy()
        np.putmask(out, mask, int(value))
        return pd.Series(out, index=series.index, name=series.name, copy=False)
    out = series.fillna(value)
    numpy_dtype = getattr(series.dtype, "numpy_dtype", None)
    if numpy_dtype is not None and F.kind(series) in F.NUMERIC_KINDS:
        out = out.astype(numpy_dtype)  # no nulls remain: a plain NumPy column shares memory with torch
    return out


def _holds(dtype: Any, value: Any) -> bool:
    """True when the whole number ``value`` fits the NumPy integer ``dtype``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)) \
            or float(value) != int(value):
        return False
    info = np.iinfo(dtype)
    return info.min <= int(value) <= info.max


@F.clip.register("pandas")
def _clip_pandas(series: Any, lower: Any, upper: Any) -> Any:
    parts = masked_int_parts(series)
    dtype = parts[0].dtype if parts is not None else series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        lo, hi = F.clip_bound(lower, dtype, "lower"), F.clip_bound(upper, dtype, "upper")
        if lo is not F.UNFIT and hi is not F.UNFIT:
            # One np.clip pass; pandas' clip runs two where() passes with boolean temporaries.
            if lo is None and hi is None:
                return series
            values = parts[0] if parts is not None else series.to_numpy()
            if len(values) and dtype.kind in "iu" and (lo is None or values.min() >= lo) \
                    and (hi is None or values.max() <= hi):
                return series  # nothing to clip (the values under a null mask included): no copy
            if parts is not None:
                values, mask = parts
                array = type(series.array)(np.clip(values, lo, hi), mask.copy(), copy=False)
                return pd.Series(array, index=series.index, name=series.name, copy=False)
            return pd.Series(np.clip(series.to_numpy(), lo, hi), index=series.index, name=series.name, copy=False)
    return series.clip(lower=lower, upper=upper)


def _log1p_generic(series: Any, column: str) -> Any:
    x = _float_values_pandas(series)
    negative = x < 0
    if bool(negative.any()):
        raise F.negative_log_error(column, int(negative.sum()), float(np.nanmin(x)))
    out = np.log1p(x)
    return out.astype(np.float32) if str(series.dtype).lower() == "float32" else out


@F.log1p.register("pandas")
def _log1p_pandas(series: Any, column: str) -> Any:
    parts = int_parts(series)
    if parts is None:
        return _log1p_generic(series, column)
    # Integers: one float64 output and no float64 copy of the input; the sign check is a min().
    values, mask = parts
    if not len(values):
        return np.log1p(values, dtype=np.float64)
    low, high = values.min(), values.max()
    if low < 0:
        negative = values < 0
        if mask is not None:
            negative &= ~mask
        if negative.any():
            raise F.negative_log_error(column, int(negative.sum()), float(values[negative].min()))
    if low >= 0:
        # Counts are mostly small integers: log1p of 0..65535 is computed once and gathered (4x
        # faster than log1p per row, and the same float64 values); larger ones are computed.
        table = _log1p_table()
        top = len(table) - 1
        # table[idx], not np.take(table, idx): take first casts int32 indices to a full-length intp copy
        # (40 MB of fresh memory per 5M-row column); fancy indexing casts them in small buffers.
        out = table[values if high <= top else np.minimum(values, top)]
        if high > top:
            big = np.flatnonzero(values > top)
            out[big] = np.log1p(values[big], dtype=np.float64)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):  # negatives only under the null mask
            out = np.log1p(values, dtype=np.float64)
    if mask is not None:
        np.putmask(out, mask, np.nan)
    return out


_TABLE: list[Any] = []


def _log1p_table() -> Any:
    """log1p(0), ..., log1p(65535) as float64 (512 KiB: stays in cache while gathering)."""
    if not _TABLE:
        table = np.log1p(np.arange(1 << 16, dtype=np.float64))
        table.flags.writeable = False
        _TABLE.append(table)
    return _TABLE[0]


@F.standardize.register("pandas")
def _standardize_pandas(series: Any, mean: float, std: float) -> Any:
    # The float64 arithmetic and rounding of the general path, a block at a time: the only
    # full-length allocation is the float32 result.
    x = _float_values_pandas(series)
    out = np.empty(x.shape, dtype=np.float32)
    buf = np.empty(min(x.size, CHUNK), dtype=np.float64)
    with np.errstate(over="ignore"):  # past float64 or float32 is inf, which Normalize names by row, not a warning
        for start in range(0, x.size, CHUNK):
            b = buf[:min(CHUNK, x.size - start)]
            np.subtract(x[start:start + CHUNK], mean, out=b)
            np.divide(b, std, out=b)
            out[start:start + CHUNK] = b
    return out


@F.date_part.register("pandas")
def _date_part_pandas(series: Any, part: str) -> Any:
    values = getattr(series.dt, F.DATE_FIELDS[part])
    return values.astype("Int64")  # pandas gives float64 with NaN where a timestamp is NaT


# ============================================================================== statistics
@F.column_moments.register("pandas")
def _column_moments_pandas(series: Any, column: str, op: str) -> tuple[int, float, float, float, float]:
    x = _float_values_pandas(series)  # no copy for a float64 column
    n = int(x.size)
    with np.errstate(over="ignore"):  # a sum past 1.8e308 is inf: the general path, then the op, tell
        total = float(x.sum()) if n else math.nan
    if not math.isfinite(total):
        return F.moments_of(x, column, op)  # NaN (missing), inf (an error), an overflow or nothing: the general path
    # A finite sum means no NaN and no inf: the mean is the sum's, and the squared deviations are
    # summed block by block in a reused buffer instead of two full-length temporaries. (Not np.dot
    # per block: BLAS's thread start-up per call made that 50x slower on 2 cores.)
    mean = total / n
    buf = np.empty(min(n, CHUNK), dtype=np.float64)
    parts = []
    with np.errstate(over="ignore"):  # squares past 1.8e308 are inf: Normalize refuses such a column by name
        for start in range(0, n, CHUNK):
            d = np.subtract(x[start:start + CHUNK], mean, out=buf[:min(CHUNK, n - start)])
            np.multiply(d, d, out=d)
            parts.append(float(d.sum()))
    m2 = math.fsum(parts) if all(map(math.isfinite, parts)) else math.inf
    return (n, mean, m2, float(x.min()), float(x.max()))


@F.group_moments.register("pandas")
def _group_moments_pandas(frame: Any, keys: list[str], conts: list[str]) -> Any:
    sub = frame[[*keys, *conts]]
    as_floats = [c for c in conts if sub[c].dtype != np.float64]
    if as_floats:
        # in float64, as cuDF groups them: an int64 group sum wraps past 2**63 (two values of 2**62 summed to
        # -2**63, a mean of -4.6e18 for values of +4.6e18), a float32 one is summed and its variance taken in float32
        # (a std off by 1.6e-5 of itself), and a categorical of numbers (which pandas does not sum) is read as its
        # values; NaN where missing, which the aggregations skip
        sub = sub.assign(**{c: _float_values_pandas(sub[c]) for c in as_floats})
    g = sub.groupby(keys, dropna=True, sort=False)
    with np.errstate(over="ignore", invalid="ignore"):  # a sum past 1.8e308 is inf: JoinGroupby names the column
        agg = g[conts].agg(["count", "sum", "min", "max"])
        var = g[conts].var(ddof=0)
    return F.group_moments_table(agg, var, keys, conts)


# ============================================================================== rows and joins
@F.keep_rows.register("pandas")
def _keep_rows_pandas(frame: Any, mask: Any) -> Any:
    m = mask.to_numpy(dtype=bool, na_value=False) if hasattr(mask, "to_numpy") else np.asarray(mask, dtype=bool)
    return frame[m].reset_index(drop=True)


@F.left_join.register("pandas")
def _left_join_pandas(frame: Any, ext: Any, on: list[str], added: list[str]) -> Any:
    # Unmatched rows get missing values: numpy int/bool columns would turn into float64/object, so they join
    # as their nullable dtypes (Int32, boolean...), the canonical form of an int column with nulls.
    nullable = {c: _nullable_name(ext[c].dtype) for c in added
                if isinstance(ext[c].dtype, np.dtype) and ext[c].dtype.kind in "iub"}
    if nullable:
        ext = ext.astype(nullable)
    # pandas' left merge keeps the left rows' order; keys are unique on the right, so no row multiplies
    merged = frame[on].merge(ext, on=on, how="left", sort=False)
    merged.index = frame.index
    return merged[added]


def _nullable_name(dtype: np.dtype) -> str:
    """pandas' nullable dtype for a NumPy int/uint/bool dtype: int32 → Int32, uint8 → UInt8, bool → boolean."""
    if dtype.kind == "b":
        return "boolean"
    return ("UInt" if dtype.kind == "u" else "Int") + str(dtype.itemsize * 8)


@F.key_positions.register("pandas")
def _key_positions_pandas(frame: Any, keys: list[str], table_keys: Any) -> Any:
    left = pd.DataFrame({k: plain_keys(frame[k]) for k in keys})
    right = pd.DataFrame({k: plain_keys(table_keys[k]) for k in keys})
    right["__pos"] = np.arange(len(right), dtype=np.int64)
    # a left merge keeps the left rows' order in pandas; the table's keys are unique, so no row multiplies
    merged = left.merge(right, on=keys, how="left", sort=False)
    pos = merged["__pos"].to_numpy(dtype="float64", na_value=-1).astype(np.int64)
    nulls = left.isna().any(axis=1).to_numpy()
    pos[nulls] = -1
    return pos


def plain_keys(series: Any) -> Any:
    """Keys in their canonical nullable dtype, so Int32 data meets a table's int64 keys."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(series.cat.categories.dtype)
    k = F.kind(series)
    if k == "int":
        return series.astype("UInt64" if str(series.dtype).lower() == "uint64" else "Int64")
    if k == "bool":
        return series.astype("boolean")
    if k == "str":
        return series.astype("str")
    return series


# ============================================================================== output
@F.check_label.register("pandas")
def _check_label_pandas(frame: Any, label: str) -> None:
    series = frame[label]
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return  # NumPy integers and bools are always finite: no float64 copy of the column
    parts = masked_int_parts(series)
    if parts is not None:
        nulls = int(np.count_nonzero(parts[1]))
        if nulls:
            raise F.label_error(label, nulls)
        return
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = series.to_numpy()  # the column's own floats: only a boolean temporary
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = len(values) - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise F.label_error(label, bad)


@F.finalize_output.register("pandas")
def _finalize_output_pandas(frame: Any, schema: Any) -> Any:
    data = {}
    for col in schema:
        s = frame[col.name]
        if col.role == "cat":
            if s.dtype == np.int64:
                data[col.name] = s  # already the target dtype: no copy
                continue
            missing_ids = s.isna()
            if bool(missing_ids.any()):
                raise F.cat_null_error(col.name, int(missing_ids.sum()))
            data[col.name] = s.to_numpy(dtype=np.int64)
        elif s.dtype == np.float32:
            data[col.name] = s
        else:
            try:
                # a finite value past float32's range would become inf: NumPy's overflow flag says so, no extra pass
                with np.errstate(over="raise"):
                    data[col.name] = s.to_numpy(dtype=np.float32, na_value=np.nan)
            except FloatingPointError:
                raise F.float32_overflow_error(col.name, col.role, _float_values_pandas(s)) from None
    return pd.DataFrame(data, index=frame.index, copy=False)


__all__ = ["CHUNK", "arrow_to_pandas", "canonical_series", "columns_to_pandas", "factorize_counts",
           "frame_from_columns", "int_parts", "masked_int_parts", "plain_pandas_metadata"]
