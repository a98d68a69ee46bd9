"""Hypothesis strategies for the data and arguments users really hand to gpupipe, and the oracles that
say what the right answer is.

Columns are drawn as *values* (Python ints, strings, bools, floats, instants, or None for missing)
plus a *representation*: the dtype a user's frame holds them in (NumPy, pandas' nullable extension
dtypes, pandas' Arrow-backed dtypes, ``object`` columns as JSON and database drivers give them,
categoricals with unused or ordered categories). The same values must give the same answer whatever
the representation; the oracles compute that answer from the values alone (plain Python,
pandas, NumPy, scikit-learn), never through gpupipe.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import strategies as st

# ------------------------------------------------------------------------------ column names
#: names real files carry: spaces, dots, unicode, digits first, punctuation, a name like pandas' index column
ODD_NAMES = ["with space", "dot.name", "a.b.c", "ünïcødé", "名前", "0lead", "x-y", "x/y", "$col", "__index_level_0__",
             "None", "nan", "tab\tin", " padded "]

_name_chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))


def names() -> st.SearchStrategy[str]:
    """A non-empty column name, often an odd one."""
    return st.one_of(st.sampled_from(ODD_NAMES), st.text(_name_chars, min_size=1, max_size=8))


def distinct_names(n: int) -> st.SearchStrategy[list[str]]:
    return st.lists(names(), min_size=n, max_size=n, unique=True)


# ------------------------------------------------------------------------------ id-like columns
#: representation -> kinds of values it can hold
ID_REPRS = {
    "int": ["int64", "Int64", "Int32", "Int16", "Int8", "UInt8", "UInt32", "UInt64", "uint64", "object",
            "int64[pyarrow]", "int32[pyarrow]", "uint64[pyarrow]", "category", "category_unused", "category_ordered"],
    "bigu": ["uint64", "UInt64", "uint64[pyarrow]", "object", "category"],
    "str": ["str", "object", "string[python]", "string[pyarrow]", "large_string[pyarrow]", "category",
            "category_unused", "category_ordered"],
    "bool": ["bool", "boolean", "bool[pyarrow]", "object"],
}

_INT_RANGES = {"Int32": (-(2**31), 2**31 - 1), "Int16": (-(2**15), 2**15 - 1), "Int8": (-128, 127),
               "UInt8": (0, 255), "UInt32": (0, 2**32 - 1), "UInt64": (0, 2**64 - 1), "uint64": (0, 2**64 - 1),
               "int32[pyarrow]": (-(2**31), 2**31 - 1), "uint64[pyarrow]": (0, 2**64 - 1),
               "int64": (-(2**63), 2**63 - 1), "Int64": (-(2**63), 2**63 - 1),
               "int64[pyarrow]": (-(2**63), 2**63 - 1)}
_NO_NULLS = {"int64", "uint64", "bool"}
_ARROW_TYPES = {"int64[pyarrow]": pa.int64(), "int32[pyarrow]": pa.int32(), "uint64[pyarrow]": pa.uint64(),
                "string[pyarrow]": None, "large_string[pyarrow]": pa.large_string(), "bool[pyarrow]": pa.bool_()}


@dataclass
class Column:
    """A drawn column: ``series`` holds ``values`` (None = missing) in the representation ``repr``."""

    values: list[Any]
    repr: str
    kind: str
    series: pd.Series = field(repr=False)

    @property
    def has_nulls(self) -> bool:
        return any(v is None for v in self.values)


def _fits(values: Sequence[Any], rep: str) -> bool:
    present = [v for v in values if v is not None]
    if rep in _NO_NULLS and len(present) != len(values):
        return False
    lo_hi = _INT_RANGES.get(rep)
    return lo_hi is None or all(lo_hi[0] <= v <= lo_hi[1] for v in present)


def make_id_series(values: list[Any], rep: str, kind: str) -> pd.Series:
    """``values`` as a series of representation ``rep`` (see :data:`ID_REPRS`)."""
    if rep.startswith("category"):
        cats = sorted({v for v in values if v is not None})
        if rep == "category_unused":  # a category no row holds (pandas keeps it after filtering)
            cats = [*cats, _unused(kind, cats)]
        if rep == "category_ordered":
            cats = cats[::-1]  # an order unrelated to the values' own order
        return pd.Series(pd.Categorical(values, categories=cats, ordered=rep == "category_ordered"))
    if rep == "object":
        return pd.Series(list(values), dtype=object)
    if rep in _ARROW_TYPES and rep != "string[pyarrow]":
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=_ARROW_TYPES[rep])))
    if rep in ("int64", "uint64", "bool"):
        return pd.Series(np.array(values, dtype=rep))
    return pd.Series(pd.array(values, dtype=rep))


def _unused(kind: str, cats: list[Any]) -> Any:
    if kind == "str":
        return "\uffffunused"
    if kind == "bool":
        return not cats[0] if len(cats) == 1 else None
    return max(cats, default=0) + 1


@st.composite
def id_columns(draw: Any, kinds: Sequence[str] = ("int", "bigu", "str", "bool"), min_size: int = 1,
               max_size: int = 25, reprs: Sequence[str] | None = None) -> Column:
    """A categorical-like column: few distinct values repeated, some missing, in a drawn representation."""
    kind = draw(st.sampled_from(list(kinds)))
    if kind == "int":
        pool_el = st.integers(-(2**40), 2**40) | st.integers(-5, 5)
    elif kind == "bigu":
        pool_el = st.integers(2**63, 2**64 - 1) | st.integers(0, 9)
    elif kind == "str":
        pool_el = st.text(_name_chars, max_size=4)
    else:
        pool_el = st.booleans()
    pool = draw(st.lists(pool_el, min_size=1, max_size=5, unique=True))
    n = draw(st.integers(min_size, max_size))
    values = draw(st.lists(st.sampled_from(pool) | st.none(), min_size=n, max_size=n))
    if kind == "bool" and len({v for v in values if v is not None}) == 1 and any(v is None for v in values):
        pass  # category_unused for bool needs the other value; handled in _unused
    options = [r for r in (reprs or ID_REPRS[kind]) if r in ID_REPRS[kind] and _fits(values, r)]
    if kind == "bool":
        options = [r for r in options if r != "category_unused" or len({v for v in values if v is not None}) == 1]
    rep = draw(st.sampled_from(options))
    return Column(values, rep, kind, make_id_series(values, rep, kind))


def id_column(values: list[Any], rep: str) -> Column:
    """An explicit :class:`Column` (for ``@example``)."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        kind = "bool"
    elif all(isinstance(v, str) for v in present):
        kind = "str"
    else:
        kind = "bigu" if any(v >= 2**63 for v in present) else "int"
    return Column(list(values), rep, kind, make_id_series(list(values), rep, kind))


# ------------------------------------------------------------------------------ oracles for ids
def categorify_oracle(values: Sequence[Any], num_oov_buckets: int = 1) -> tuple[list[int], int]:
    """(ids, cardinality) by gpupipe's documented layout, from the values alone: 0 padding, 1 null,
    then the out-of-vocabulary ids, then the vocabulary by descending count, ties by ascending value."""
    counts = Counter(v for v in values if v is not None)
    order = sorted(counts, key=lambda v: (-counts[v], v))
    first = 2 + num_oov_buckets
    table = {v: first + i for i, v in enumerate(order)}
    return [1 if v is None else table[v] for v in values], first + len(order)


def group_oracle(keys: Sequence[Any], x: Sequence[float]) -> tuple[list[float], list[float]]:
    """Per row: (count of non-null x, mean of x) over the rows with the same non-null key; 0 for null keys."""
    sums: dict[Any, float] = {}
    counts: dict[Any, int] = {}
    for k, v in zip(keys, x, strict=True):
        if k is None or v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        sums[k] = sums.get(k, 0.0) + v
        counts[k] = counts.get(k, 0) + 1
    cnt = [float(counts.get(k, 0)) if k is not None else 0.0 for k in keys]
    mean = [sums[k] / counts[k] if k is not None and counts.get(k) else 0.0 for k in keys]
    return cnt, mean


def target_encoding_oracle(keys: Sequence[Any], y: Sequence[float], smoothing: float) -> list[float]:
    """scikit-learn's TargetEncoder formula (the one gpupipe documents) for *transform* on the fit data."""
    prior = sum(y) / len(y)
    sums: dict[Any, float] = {}
    counts: dict[Any, int] = {}
    for k, v in zip(keys, y, strict=True):
        if k is not None:
            sums[k] = sums.get(k, 0.0) + v
            counts[k] = counts.get(k, 0) + 1
    out = []
    for k in keys:
        if k is None or math.isinf(smoothing):
            out.append(prior)
        else:
            out.append((sums[k] + smoothing * prior) / (counts[k] + smoothing))
    return out


# ------------------------------------------------------------------------------ numeric columns
NUM_REPRS = ["float64", "float32", "Float64", "Float32", "double[pyarrow]", "float[pyarrow]", "object_float",
             "float16", "int64", "Int64", "Int32", "uint64", "UInt64", "int64[pyarrow]", "object_int", "bool",
             "boolean", "bool[pyarrow]", "object_bool"]


def make_num_series(values: list[float | None], rep: str) -> pd.Series:
    if rep in ("float64", "float32", "float16"):
        return pd.Series(np.array([np.nan if v is None else v for v in values], dtype=rep))
    if rep in ("Float64", "Float32"):
        return pd.Series(pd.array(values, dtype=rep))
    if rep in ("double[pyarrow]", "float[pyarrow]"):
        typ = pa.float64() if rep.startswith("double") else pa.float32()
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=typ)))
    if rep == "object_float":
        return pd.Series([None if v is None else float(v) for v in values], dtype=object)
    ints = [None if v is None else int(v) for v in values]
    if rep in ("int64", "uint64"):
        return pd.Series(np.array(ints, dtype=rep))
    if rep in ("Int64", "Int32", "UInt64"):
        return pd.Series(pd.array(ints, dtype=rep))
    if rep == "int64[pyarrow]":
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(ints, type=pa.int64())))
    if rep == "object_int":
        return pd.Series(ints, dtype=object)
    bools = [None if v is None else bool(v) for v in values]
    if rep == "bool":
        return pd.Series(np.array(bools, dtype=bool))
    if rep == "boolean":
        return pd.Series(pd.array(bools, dtype="boolean"))
    if rep == "bool[pyarrow]":
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(bools, type=pa.bool_())))
    if rep == "object_bool":
        return pd.Series(bools, dtype=object)
    raise AssertionError(rep)


def _num_fits(values: Sequence[float | None], rep: str) -> bool:
    present = [v for v in values if v is not None]
    if rep in ("int64", "uint64", "bool") and len(present) != len(values):
        return False
    if rep in ("int64", "Int64", "Int32", "uint64", "UInt64", "int64[pyarrow]", "object_int"):
        return all(float(v).is_integer() for v in present) and (not rep.lower().startswith("uint")
                                                                or all(v >= 0 for v in present))
    if "bool" in rep:
        return all(v in (0.0, 1.0) for v in present)
    return True


@st.composite
def numeric_columns(draw: Any, min_size: int = 1, max_size: int = 25, reprs: Sequence[str] = NUM_REPRS,
                    nulls: bool = True) -> Column:
    """A numeric column whose values are exact in every representation that holds them (halves up to 1000,
    so float16 and float32 are exact too), in a drawn representation."""
    style = draw(st.sampled_from(["halves", "ints", "bools", "const"]))
    if style == "halves":
        el = st.integers(-2000, 2000).map(lambda i: i / 2)
    elif style == "ints":
        el = st.integers(-1000, 1000).map(float)
    elif style == "bools":
        el = st.sampled_from([0.0, 1.0])
    else:
        el = st.just(draw(st.integers(-3, 3).map(float)))
    if nulls:
        el = el | st.none()
    values = draw(st.lists(el, min_size=min_size, max_size=max_size))
    options = [r for r in reprs if _num_fits(values, r)]
    rep = draw(st.sampled_from(options))
    return Column(values, rep, "num", make_num_series(values, rep))


def float_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


# ------------------------------------------------------------------------------ datetimes
ZONES = [None, "UTC", "Europe/Paris", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"]
DT_REPRS = ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "timestamp[us][pyarrow]", "timestamp[ns][pyarrow]"]


@dataclass
class DtColumn:
    """Instants (UTC, or None) shown in zone ``tz`` (None: naive wall times equal to the UTC instants)."""

    instants: list[pd.Timestamp | None]
    tz: str | None
    repr: str
    series: pd.Series = field(repr=False)

    def reference(self) -> pd.Series:
        """The same column as pandas' own datetime64[ns] (tz-aware when ``tz``): the oracle's input."""
        s = pd.Series(pd.to_datetime(self.instants, utc=True)).astype("datetime64[ns, UTC]")
        return s.dt.tz_convert(self.tz) if self.tz else s.dt.tz_localize(None)


def make_dt_series(instants: list[pd.Timestamp | None], tz: str | None, rep: str) -> pd.Series:
    s = pd.Series(pd.to_datetime(instants, utc=True))
    s = s.dt.tz_convert(tz) if tz else s.dt.tz_localize(None)
    if rep.startswith("datetime64"):
        unit = rep[len("datetime64["):-1]
        return s.dt.as_unit(unit)
    unit = rep[len("timestamp["):rep.index("]")]
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(s, type=pa.timestamp(unit, tz=tz))))


@st.composite
def datetime_columns(draw: Any, min_size: int = 1, max_size: int = 20) -> DtColumn:
    n = draw(st.integers(min_size, max_size))
    seconds = st.integers(0, 4_102_444_800)  # 1970 .. 2100
    instants = draw(st.lists(seconds.map(lambda s: pd.Timestamp(s, unit="s", tz="UTC")) | st.none(),
                             min_size=n, max_size=n))
    tz = draw(st.sampled_from(ZONES))
    rep = draw(st.sampled_from(DT_REPRS))
    return DtColumn(instants, tz, rep, make_dt_series(instants, tz, rep))


# ------------------------------------------------------------------------------ Arrow tables
def _arrow_column(draw: Any, typ_name: str, n: int) -> pa.Array:
    maybe = lambda s: s | st.none()  # noqa: E731
    if typ_name in ("int8", "int16", "int32", "int64"):
        bits = int(typ_name[3:])
        vals = draw(st.lists(maybe(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)), min_size=n, max_size=n))
        return pa.array(vals, type=getattr(pa, typ_name)())
    if typ_name in ("uint8", "uint32", "uint64"):
        bits = int(typ_name[4:])
        vals = draw(st.lists(maybe(st.integers(0, 2**bits - 1)), min_size=n, max_size=n))
        return pa.array(vals, type=getattr(pa, typ_name)())
    if typ_name in ("float32", "float64"):
        vals = draw(st.lists(maybe(st.integers(-1000, 1000).map(lambda i: i / 4)), min_size=n, max_size=n))
        return pa.array(vals, type=getattr(pa, typ_name)())
    if typ_name == "float16":
        vals = draw(st.lists(st.integers(-500, 500).map(lambda i: i / 2), min_size=n, max_size=n))
        return pa.array(np.array(vals, dtype=np.float16))
    if typ_name == "bool":
        return pa.array(draw(st.lists(maybe(st.booleans()), min_size=n, max_size=n)), type=pa.bool_())
    if typ_name in ("string", "large_string"):
        vals = draw(st.lists(maybe(st.text(_name_chars, max_size=5)), min_size=n, max_size=n))
        return pa.array(vals, type=getattr(pa, typ_name)())
    if typ_name == "binary":
        return pa.array(draw(st.lists(maybe(st.binary(max_size=4)), min_size=n, max_size=n)), type=pa.binary())
    if typ_name == "date32":
        days = draw(st.lists(maybe(st.integers(-700_000, 2_900_000)), min_size=n, max_size=n))
        return pa.array([None if d is None else dt.date(1970, 1, 1) + dt.timedelta(days=d // 100) for d in days],
                        type=pa.date32())
    if typ_name.startswith("timestamp"):
        tz = None if typ_name == "timestamp" else typ_name.split(":", 1)[1]
        secs = draw(st.lists(maybe(st.integers(0, 4_102_444_800)), min_size=n, max_size=n))
        return pa.array([None if s is None else s * 1_000_000 for s in secs], type=pa.timestamp("us", tz=tz))
    if typ_name == "duration":
        return pa.array(draw(st.lists(maybe(st.integers(-10**6, 10**6)), min_size=n, max_size=n)), type=pa.duration("s"))
    if typ_name == "decimal":
        vals = draw(st.lists(maybe(st.integers(-10**6, 10**6)), min_size=n, max_size=n))
        return pa.array([None if v is None else decimal.Decimal(v).scaleb(-2) for v in vals], type=pa.decimal128(10, 2))
    if typ_name == "time64":
        vals = draw(st.lists(maybe(st.integers(0, 86_399_999_999)), min_size=n, max_size=n))
        return pa.array(vals, type=pa.time64("us"))
    if typ_name == "list":
        vals = draw(st.lists(maybe(st.lists(st.integers(-5, 5), max_size=3)), min_size=n, max_size=n))
        return pa.array(vals, type=pa.list_(pa.int64()))
    if typ_name == "struct":
        vals = draw(st.lists(maybe(st.fixed_dictionaries({"a": st.integers(-5, 5), "b": st.text(max_size=2)})),
                             min_size=n, max_size=n))
        return pa.array(vals, type=pa.struct([("a", pa.int64()), ("b", pa.string())]))
    if typ_name == "map":
        vals = draw(st.lists(maybe(st.dictionaries(st.text(max_size=2), st.integers(-5, 5), max_size=2)),
                             min_size=n, max_size=n))
        return pa.array([None if v is None else list(v.items()) for v in vals], type=pa.map_(pa.string(), pa.int64()))
    if typ_name == "dictionary":
        vals = draw(st.lists(maybe(st.sampled_from(["a", "b", "zz"])), min_size=n, max_size=n))
        return pa.array(vals, type=pa.string()).dictionary_encode()
    if typ_name == "null":
        return pa.nulls(n)
    raise AssertionError(typ_name)


ARROW_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", "float16", "float32", "float64", "bool",
               "string", "large_string", "binary", "date32", "timestamp", "timestamp:UTC", "timestamp:Asia/Tokyo",
               "duration", "decimal", "time64", "list", "struct", "map", "dictionary", "null"]


@st.composite
def arrow_tables(draw: Any, types: Sequence[str] = ARROW_TYPES, max_columns: int = 4) -> pa.Table:
    """A small Arrow table of the types files and databases carry, with nulls and odd column names."""
    k = draw(st.integers(1, max_columns))
    cols = draw(distinct_names(k))
    n = draw(st.integers(0, 8))
    arrays = [_arrow_column(draw, draw(st.sampled_from(list(types))), n) for _ in cols]
    return pa.table(arrays, names=cols)


# ------------------------------------------------------------------------------ pandas frames for IO
IO_REPRS = ["Int64", "Int8", "UInt64", "uint64", "boolean", "Float32", "Float64", "string[python]", "str",
            "double[pyarrow]", "int64[pyarrow]", "bool[pyarrow]", "large_string[pyarrow]", "timestamp[us][pyarrow]",
            "category", "category_ordered", "datetime_tz", "float16", "object_int", "object_str", "object_decimal",
            "object_mixed", "object_bytes", "complex"]


def make_io_series(rep: str, n: int, draw: Any) -> tuple[pd.Series, list[Any]]:
    """(series, values) for the IO round trips; values are what must come back (None = missing)."""
    maybe = lambda s: s | st.none()  # noqa: E731
    small = st.integers(-100, 100)
    if rep in ("Int64", "Int8", "object_int", "int64[pyarrow]"):
        v = draw(st.lists(maybe(small), min_size=n, max_size=n))
        if rep == "object_int":
            return pd.Series(v, dtype=object), v
        if rep == "int64[pyarrow]":
            return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(v, type=pa.int64()))), v
        return pd.Series(pd.array(v, dtype=rep)), v
    if rep in ("UInt64", "uint64"):
        el = st.integers(0, 2**64 - 1)
        v = draw(st.lists(el if rep == "uint64" else maybe(el), min_size=n, max_size=n))
        return (pd.Series(np.array(v, dtype=np.uint64)) if rep == "uint64" else pd.Series(pd.array(v, dtype="UInt64"))), v
    if rep in ("boolean", "bool[pyarrow]"):
        v = draw(st.lists(maybe(st.booleans()), min_size=n, max_size=n))
        if rep == "boolean":
            return pd.Series(pd.array(v, dtype="boolean")), v
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(v, type=pa.bool_()))), v
    if rep in ("Float32", "Float64", "double[pyarrow]", "float16"):
        el = st.integers(-400, 400).map(lambda i: i / 4)
        v = draw(st.lists(el if rep == "float16" else maybe(el), min_size=n, max_size=n))
        if rep == "float16":
            return pd.Series(np.array(v, dtype=np.float16)), v
        if rep == "double[pyarrow]":
            return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(v, type=pa.float64()))), v
        return pd.Series(pd.array(v, dtype=rep)), v
    if rep in ("string[python]", "str", "large_string[pyarrow]", "object_str", "category", "category_ordered"):
        v = draw(st.lists(maybe(st.text(_name_chars, max_size=4)), min_size=n, max_size=n))
        if rep == "object_str":
            return pd.Series(v, dtype=object), v
        if rep == "large_string[pyarrow]":
            return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(v, type=pa.large_string()))), v
        if rep.startswith("category"):
            cats = sorted({x for x in v if x is not None})
            return pd.Series(pd.Categorical(v, categories=cats[::-1] if rep.endswith("ordered") else cats,
                                            ordered=rep.endswith("ordered"))), v
        return pd.Series(pd.array(v, dtype=rep)), v
    if rep in ("timestamp[us][pyarrow]", "datetime_tz"):
        secs = draw(st.lists(maybe(st.integers(0, 4_102_444_800)), min_size=n, max_size=n))
        stamps = [None if s is None else pd.Timestamp(s, unit="s", tz="UTC") for s in secs]
        if rep == "datetime_tz":
            return pd.Series(pd.to_datetime(stamps, utc=True)).dt.tz_convert("Europe/Paris"), stamps
        naive = [None if s is None else s.tz_localize(None) for s in stamps]
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(naive, type=pa.timestamp("us")))), naive
    if rep == "object_decimal":
        v = draw(st.lists(maybe(st.integers(-10**5, 10**5).map(lambda i: decimal.Decimal(i).scaleb(-2))),
                          min_size=n, max_size=n))
        return pd.Series(v, dtype=object), v
    if rep == "object_mixed":
        v = draw(st.lists(maybe(st.one_of(small, st.text(_name_chars, max_size=3))), min_size=n, max_size=n))
        return pd.Series(v, dtype=object), v
    if rep == "object_bytes":
        v = draw(st.lists(maybe(st.binary(max_size=3)), min_size=n, max_size=n))
        return pd.Series(v, dtype=object), v
    if rep == "complex":
        v = draw(st.lists(st.integers(-5, 5).map(lambda i: complex(i, -i)), min_size=n, max_size=n))
        return pd.Series(np.array(v, dtype=complex)), v
    raise AssertionError(rep)


@st.composite
def io_frames(draw: Any, reprs: Sequence[str] = IO_REPRS, max_columns: int = 3, min_rows: int = 1,
              max_rows: int = 8) -> tuple[pd.DataFrame, dict[str, list]]:
    k = draw(st.integers(1, max_columns))
    cols = draw(distinct_names(k))
    n = draw(st.integers(min_rows, max_rows))
    data, values = {}, {}
    for c in cols:
        rep = draw(st.sampled_from(list(reprs)))
        data[c], values[c] = make_io_series(rep, n, draw)
    return pd.DataFrame(data), values


# ------------------------------------------------------------------------------ value comparison
def is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v))
    except TypeError:
        return False


def same_value(a: Any, b: Any) -> bool:
    """Equal values, missing == missing; numbers compared as numbers; timestamps as instants."""
    if is_missing(a) or is_missing(b):
        return is_missing(a) and is_missing(b)
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(b, np.generic):
        b = b.item()
    if isinstance(a, np.ndarray):
        a = a.tolist()
    if isinstance(b, np.ndarray):
        b = b.tolist()
    if isinstance(a, (pd.Timestamp, dt.datetime)) and isinstance(b, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(a) == pd.Timestamp(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


# ------------------------------------------------------------------------------ bad arguments
def not_integral_numbers() -> st.SearchStrategy[Any]:
    """Floats (whole or not), bools, strings, None: what an int parameter must refuse."""
    return st.one_of(st.none(), st.booleans(), st.sampled_from([2.5, 2.0, 0.5, float("nan"), float("inf")]),
                     st.text(max_size=3), st.just([1]))


def bad_int(min_value: int) -> st.SearchStrategy[Any]:
    """Anything an integer parameter with ``>= min_value`` must refuse."""
    return st.one_of(not_integral_numbers(), st.integers(min_value - 1000, min_value - 1))


def bad_number(min_value: float | None = None, finite: bool = True, strictly: bool = False) -> st.SearchStrategy[Any]:
    """Anything a real-number parameter must refuse (None, text, bools, NaN, inf when finite, below range)."""
    bad: list[st.SearchStrategy[Any]] = [st.none(), st.booleans(), st.text(max_size=3), st.just(float("nan")),
                                         st.just([1.0])]
    if finite:
        bad.append(st.sampled_from([float("inf"), -float("inf")]))
    if min_value is not None:
        bad.append(st.floats(min_value - 100, min_value, exclude_max=not strictly, allow_nan=False))
    return st.one_of(bad)


def bad_bool() -> st.SearchStrategy[Any]:
    """A flag must be a bool: truthy strings ("no"!), None, numbers are refused (scikit-learn's rule)."""
    return st.one_of(st.none(), st.sampled_from(["no", "yes", "False", "true", ""]), st.integers(0, 2), st.just(0.5))


def bad_choice(allowed: Sequence[str]) -> st.SearchStrategy[Any]:
    """Not one of ``allowed``: None, numbers, other text, a case variant."""
    variants = [a.upper() for a in allowed if a.upper() != a] + [a.title() for a in allowed if a.title() != a]
    return st.one_of(st.none(), st.integers(-2, 2), st.sampled_from(["nonsense", "", *variants]),
                     st.text(max_size=4).filter(lambda s: s not in allowed))
