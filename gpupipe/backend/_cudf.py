"""cuDF/CuPy implementations of the frame vocabulary (:mod:`gpupipe.backend.frame`).

Every GPU-only line of the ops lives here. Each function takes the real types (``cudf.Series``,
``cudf.DataFrame``, ``cupy.ndarray``) so that ``make gpu-api-check`` type-checks every call
against the installed RAPIDS packages; cuDF and CuPy are imported inside the functions, so this
module imports without them. Behaviour notes cite rapidsai/cudf at 26.10 (``python/cudf/cudf/...``).

cuDF facts this module is written around:

* ``Series.to_cupy(dtype=float, na_value=nan)`` raises on an int/bool column with nulls (the
  one-column path fills the *int* column with NaN, and ``can_cast_safely`` refuses:
  ``core/frame.py`` ``to_cupy``, ``core/column/numerical.py`` ``_validate_fillna_value``), so
  columns are cast to float64 first (nulls stay nulls) and filled after.
* Arrays given to ``cudf.Series``/``cudf.DataFrame`` become null where NaN unless
  ``nan_as_null=False`` (``core/series.py``, ``core/dataframe.py``: the default is
  ``not mode.pandas_compatible``); gpupipe keeps NaN as NaN so float outputs stay zero-copy.
* ``cudf.DataFrame({...}, index=...)`` reindexes every Series value (``_mapping_to_column_accessor``):
  frames are built from arrays on ``like``'s index, never by reindexing.
* ``Series.isna`` counts NaN in float columns as missing (``core/column/numerical.py`` ``isnull``),
  but groupby aggregations see NaN as a value: NaN is turned into null before grouping.
* ``merge`` does not keep the left order: it is restored from a row number.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import frame as F

if TYPE_CHECKING:
    import cudf
    import cupy
    import pandas as pd
    import pyarrow as pa
    from cudf.core.groupby.groupby import DataFrameGroupBy
    from cudf.core.series import DatetimeProperties

    from ..schema import Schema

    Scalar = int | float | bool | str


# ============================================================================== helpers
def column(frame: cudf.DataFrame, name: str) -> cudf.Series:
    """``frame[name]`` as the Series it is (cuDF types ``__getitem__`` as Series, DataFrame or None)."""
    out: cudf.Series = frame[name]
    return out


def float64_values(series: cudf.Series) -> cupy.ndarray:
    """float64 CuPy array of a numeric series, NaN where a value is missing (null or NaN)."""
    x = series if series.dtype == np.float64 else series.astype("float64")  # nulls stay nulls (a libcudf cast)
    if x.null_count:
        return x.to_cupy(na_value=np.nan)  # float64 takes NaN as a fill value; int/bool would refuse it
    return x.to_cupy()  # a view: NaN (not null) is already NaN


def _plain_values(series: cudf.Series) -> cudf.Series:
    """A categorical column as a column of its categories' values; any other column as it is."""
    import cudf

    if isinstance(series.dtype, cudf.CategoricalDtype):
        return series.astype(series.cat.categories.dtype)
    return series


# ============================================================================== boundary
@F.normalize.register("cudf")
def _normalize_cudf(frame: cudf.DataFrame, columns: Sequence[str] | None = None) -> cudf.DataFrame:
    names = list(frame.columns) if columns is None else [c for c in columns if c in frame.columns]
    changed = {c: _canonical(column(frame, c)) for c in names}
    changed = {c: s for c, s in changed.items() if s is not column(frame, c)}
    return F.with_columns(frame, changed) if changed else frame


def _canonical(series: cudf.Series) -> cudf.Series:
    """The column in the canonical cuDF dtype: pandas extension dtypes (``Int64``, ``boolean``, ``Float64``,
    Arrow-backed numbers, kept by ``cudf.from_pandas``: ``core/column/column.py`` ``as_column``) become NumPy
    dtypes with null masks (``astype`` keeps the nulls), decimals float64, float16 float32. Text stays text in
    whichever of cuDF's string dtypes it has."""
    import pandas as pd

    dtype = series.dtype
    k = F.kind(dtype)
    if k == "decimal":
        return series.astype("float64")
    numpy_dtype: np.dtype | None = getattr(dtype, "numpy_dtype", None)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and numpy_dtype is not None and numpy_dtype.kind in "iufbM":
        if numpy_dtype.kind == "f" and numpy_dtype.itemsize < 4:
            return series.astype("float32")
        return series.astype(numpy_dtype)
    if k == "float" and getattr(dtype, "itemsize", 8) < 4:
        return series.astype("float32")
    return series


@F.from_arrow.register("cudf")
def _from_arrow_cudf(table: pa.Table) -> cudf.DataFrame:
    import cudf

    # DATE and DECIMAL kept exact, as on pandas (cuDF holds them as datetime64 and decimal columns);
    # normalize makes them timestamps and float64 where ops and tensors take data
    return cudf.DataFrame.from_arrow(F.canonical_arrow(table, keep_exact=True))


@F.to_arrow.register("cudf")
def _to_arrow_cudf(frame: cudf.DataFrame | cudf.Series) -> pa.Table:
    import cudf

    if isinstance(frame, cudf.Series):
        frame = frame.to_frame()
    return frame.to_arrow(preserve_index=False)  # else a RangeIndex can come back as __index_level_0__


@F.to_pandas.register("cudf")
def _to_pandas_cudf(frame: cudf.DataFrame) -> pd.DataFrame:
    from ._pandas import arrow_to_pandas

    # through Arrow: the same dtypes every pandas reader gives (to_pandas() would turn int-with-nulls into
    # float64, and nullable=True floats into Float64)
    return arrow_to_pandas(_to_arrow_cudf(frame))


@F.to_backend.register("cudf")
def _to_backend_cudf(frame: cudf.DataFrame, name: str) -> Any:
    if name == "cudf":
        return frame
    return _to_pandas_cudf(frame)


# ============================================================================== arrays and frames
@F.to_device.register("cudf")
def _to_device_cudf(like: cudf.Series | cudf.DataFrame | cupy.ndarray, array: np.ndarray) -> cupy.ndarray:
    import cupy

    return cupy.asarray(array)


@F.float_values.register("cudf")
def _float_values_cudf(series: cudf.Series) -> cupy.ndarray:
    return float64_values(series)


@F.numeric_arrays.register("cudf")
def _numeric_arrays_cudf(series: cudf.Series, dtype: str | np.dtype | None = None,
                         fill: int | float = 0) -> tuple[cupy.ndarray, cupy.ndarray]:
    mask = series.isna().to_cupy()
    target = np.dtype(str(series.dtype) if dtype is None else dtype)
    x = series.astype(target) if series.dtype != target else series
    if bool(mask.any()):
        # the float column's NaN (not null) slots too: fill where missing, whatever the dtype
        import cupy

        values = x.fillna(fill).to_cupy() if x.null_count else x.to_cupy()
        return cupy.where(mask, cupy.asarray(fill, dtype=target), values), mask
    return x.to_cupy(), mask


@F.missing.register("cudf")
def _missing_cudf(series: cudf.Series) -> cupy.ndarray:
    return series.isna().to_cupy()  # NaN in a float column counts (core/column/numerical.py isnull)


def cudf_polars_engine() -> tuple[bool, str]:
    """Whether Polars' GPU engine (cudf-polars) imports here: ``(True, "cudf-polars <version>")``, or
    ``(False, what failed)`` for a broken install. Call it where a CUDA device is usable."""
    import importlib.metadata

    try:
        import cudf_polars  # noqa: F401
    except Exception as exc:  # a broken install: say what failed
        return False, f"cudf-polars cannot be imported ({type(exc).__name__}: {exc})"
    try:
        return True, f"cudf-polars {importlib.metadata.version('cudf-polars-cu13')}"
    except importlib.metadata.PackageNotFoundError:
        return True, "cudf-polars (version unknown)"


@F.work_scope.register("cudf")
def _work_scope_cudf(frame: cudf.DataFrame) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()  # device memory: nothing of NumPy's to set


@F.map_columns.register("cudf")
def _map_columns_cudf(frame: cudf.DataFrame, columns: Sequence[str], fn: Callable[[Any], Any]) -> list[Any]:
    return [fn(frame[c]) for c in columns]  # one GPU stream: nothing to gain from host threads


@F.build_frame.register("cudf")
def _build_frame_cudf(like: cudf.DataFrame | cudf.Series, data: Mapping[str, Any]) -> cudf.DataFrame:
    import cudf

    # Every value on a fresh RangeIndex (reset_index(drop=True) copies no data), so the constructor's
    # index alignment is an O(1) RangeIndex comparison; then like's index is attached by position.
    # Never DataFrame(..., index=...): it reindexes every Series (a join per column: _mapping_to_column_accessor).
    cols = {name: v.reset_index(drop=True) if isinstance(v, cudf.Series) else v for name, v in data.items()}
    out = cudf.DataFrame(cols, nan_as_null=False)  # arrays keep NaN as NaN
    out.index = like.index
    return out


@F.empty_frame.register("cudf")
def _empty_frame_cudf(schema: Schema) -> cudf.DataFrame:
    import cudf

    return cudf.DataFrame({c.name: cudf.Series(np.empty(0, dtype=np.int64 if c.role == "cat" else np.float32))
                           for c in schema})


# ============================================================================== counting and lookups
@F.value_counts.register("cudf")
def _value_counts_cudf(series: cudf.Series) -> pd.DataFrame:
    import pandas as pd

    vc = _plain_values(series).value_counts(dropna=True)  # null and NaN both dropped (core/series.py)
    return pd.DataFrame({"value": F.canonical_values(vc.index.to_pandas()),
                         "count": vc.to_numpy().astype("int64")})


@F.factorize.register("cudf")
def _factorize_cudf(series: cudf.Series) -> tuple[cupy.ndarray, Any]:
    # (int64 cupy codes, -1 for null and NaN; Index of the distinct values): core/column/column.py factorize
    codes, uniques = _plain_values(series).factorize(use_na_sentinel=True)
    return codes, F.canonical_values(uniques.to_pandas())


@F.float_value_counts.register("cudf")
def _float_value_counts_cudf(series: cudf.Series) -> tuple[np.ndarray, np.ndarray]:
    import cupy

    x = float64_values(series)
    values, counts = cupy.unique(x[~cupy.isnan(x)], return_counts=True)  # counted on the device
    return values.get(), counts.get().astype(np.int64)


@F.make_index.register("cudf")
def _make_index_cudf(values: np.ndarray, like_dtype: np.dtype | pd.api.extensions.ExtensionDtype | None = None) -> cudf.Index:
    import cudf

    from ._pandas import _narrowed

    return cudf.Index(_narrowed(values, like_dtype))


@F.lookup.register("cudf")
def _lookup_cudf(series: cudf.Series, index: cudf.Index) -> cupy.ndarray:
    import cupy

    s = _plain_values(series)
    missing = s.isna().to_cupy()
    if F.kind(s) in ("int", "bool") and s.dtype != index.dtype and F.kind(index.dtype) == "int":
        s = s.astype(index.dtype)  # one dtype on both sides of the lookup
    pos = cupy.asarray(index.get_indexer(s), dtype=cupy.int64)
    pos[missing] = -1  # whatever a null key found, it is missing
    return pos


@F.take_values.register("cudf")
def _take_values_cudf(like: cudf.Series, values: pd.Series, positions: cupy.ndarray) -> cudf.Series:
    import cudf
    import pyarrow as pa

    # the (small) host table goes up once through Arrow, which keeps its nulls as nulls and its width
    # (a pandas Int32 becomes an int32 column with a mask); the gather runs on the device
    table = cudf.Series.from_arrow(pa.array(values, from_pandas=True))
    out = table.take(positions).reset_index(drop=True)
    out.index = like.index
    out.name = like.name
    return out


@F.hash_values.register("cudf")
def _hash_values_cudf(series: cudf.Series, seed: int = 0) -> tuple[cupy.ndarray, cupy.ndarray]:
    import cupy

    s = _plain_values(series)
    k = F.kind(s)
    mask = s.isna().to_cupy()
    if k in ("int", "bool"):
        # one width for every integer (int32 and int64 hash differently; bool would hash as one byte):
        # little-endian int64, uint64 reinterpreted, as on pandas
        s = s.astype("int64")
    elif k == "float":
        s = s.astype("float64")  # libcudf hashes -0.0 as 0.0 and every NaN alike, as the pandas path does
    # libcudf's MurmurHash3_x86_32 over the value's bytes (cpp/src/hash/murmurhash3_x86_32.cu), uint32
    h = s.hash_values(method="murmur3", seed=seed).to_cupy()
    return cupy.where(mask, cupy.uint32(0), h), mask


# ============================================================================== element-wise
@F.fill_missing.register("cudf")
def _fill_missing_cudf(series: cudf.Series, value: Scalar) -> cudf.Series:
    # On a float column fillna fills NaN as well as null (core/column/column.py fillna); an extension dtype
    # would be kept (core/column/numerical.py), so the column is made canonical first.
    return _canonical(series).fillna(value)


@F.clip.register("cudf")
def _clip_cudf(series: cudf.Series, lower: float | None, upper: float | None) -> cudf.Series:
    # cuDF converts each bound with pa.scalar(bound, type=column type) (core/column/column.py clip): a bound
    # outside an integer dtype raises ArrowInvalid and a fractional one is truncated. So bounds are clamped
    # to the dtype's range first, infinities mean "no bound", and a fractional bound on ints clips in float64.
    dtype = np.dtype(str(series.dtype))
    lo, hi = F.clip_bound(lower, dtype, "lower"), F.clip_bound(upper, dtype, "upper")
    if dtype.kind in "iu" and (lo is F.UNFIT or hi is F.UNFIT):
        return series.astype("float64").clip(lower=lower, upper=upper)
    if dtype.kind == "f":  # any finite bound converts (rounded to float32 as pandas does)
        lo = None if lo is None or lower is None else float(lower)
        hi = None if hi is None or upper is None else float(upper)
    if lo is None and hi is None:
        return series
    return series.clip(lower=lo, upper=hi)


@F.log1p.register("cudf")
def _log1p_cudf(series: cudf.Series, column: str) -> cupy.ndarray:
    import cupy

    x = float64_values(series)
    negative = x < 0
    count = int(negative.sum())
    if count:
        raise F.negative_log_error(column, count, float(cupy.nanmin(x).get()))
    out = cupy.log1p(x)
    return out.astype(cupy.float32) if series.dtype == np.float32 else out


@F.standardize.register("cudf")
def _standardize_cudf(series: cudf.Series, mean: float, std: float) -> cupy.ndarray:
    import cupy

    return ((float64_values(series) - mean) / std).astype(cupy.float32)


@F.date_part.register("cudf")
def _date_part_cudf(series: cudf.Series, part: str) -> cudf.Series:
    import pandas as pd

    dt: DatetimeProperties = series.dt
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        # local wall-clock time: cuDF's day_of_year of a tz-aware column reads the UTC date
        # (core/column/datetime.py: DatetimeTZColumn does not override it), the other fields the local one
        local: cudf.Series = dt.tz_localize(None)
        dt = local.dt
    # fields come back int32 (dayofyear int16); nulls stay nulls
    return getattr(dt, F.DATE_FIELDS[part]).astype("int64")


# ============================================================================== statistics
@F.column_moments.register("cudf")
def _column_moments_cudf(series: cudf.Series, column: str, op: str) -> tuple[int, float, float, float, float]:
    return F.moments_of(float64_values(series), column, op)


@F.group_moments.register("cudf")
def _group_moments_cudf(frame: cudf.DataFrame, keys: list[str], conts: list[str]) -> pd.DataFrame:

    sub: cudf.DataFrame = frame[[*keys, *conts]].copy(deep=False)
    for k in keys:
        sub[k] = _plain_values(column(sub, k))
    for c in conts:
        # groupby aggregations see NaN as a value outside pandas-compatible mode (core/groupby/groupby.py):
        # count counts it, sum/var give NaN, min/max depend on the order. As nulls they are skipped, as in pandas.
        sub[c] = column(sub, c).astype("float64").nans_to_nulls()
    g: DataFrameGroupBy = sub.groupby(keys, dropna=True, sort=False)
    agg: pd.DataFrame = g[conts].agg(["count", "sum", "min", "max"]).to_pandas()
    var: pd.DataFrame = g[conts].var(ddof=0).to_pandas()
    return F.group_moments_table(agg, var, keys, conts)


# ============================================================================== rows and joins
@F.keep_rows.register("cudf")
def _keep_rows_cudf(frame: cudf.DataFrame, mask: cudf.Series | cupy.ndarray | np.ndarray) -> cudf.DataFrame:
    import cudf

    # positional (the mask's index is ignored) and a null mask entry drops its row (DataFrame.__getitem__)
    m = mask if isinstance(mask, cudf.Series) else cudf.Series(mask)
    return frame[m.fillna(False)].reset_index(drop=True)


def _in_order(left: cudf.DataFrame, right: cudf.DataFrame, on: list[str]) -> cudf.DataFrame:
    """``left.merge(right, how="left")`` in ``left``'s row order (cuDF's merge does not keep it)."""
    import cupy

    left = left.reset_index(drop=True)
    left["__row"] = cupy.arange(len(left), dtype=cupy.int64)
    return left.merge(right, on=on, how="left").sort_values("__row").reset_index(drop=True)


@F.left_join.register("cudf")
def _left_join_cudf(frame: cudf.DataFrame, ext: cudf.DataFrame, on: list[str], added: list[str]) -> cudf.DataFrame:
    left: cudf.DataFrame = frame[on]
    out = _in_order(left, ext, on)[added]
    out.index = frame.index  # positional: the rows are in frame's order
    return out


@F.key_positions.register("cudf")
def _key_positions_cudf(frame: cudf.DataFrame, keys: list[str], table_keys: pd.DataFrame) -> cupy.ndarray:
    import cudf
    import cupy

    left = cudf.DataFrame({k: _plain_values(column(frame, k)).reset_index(drop=True) for k in keys})
    right = _from_arrow_cudf(F.to_arrow(table_keys[keys]))
    right["__pos"] = cupy.arange(len(right), dtype=cupy.int64)
    for k in keys:  # one dtype per key on both sides, as the merge requires
        want = column(left, k).dtype
        if column(right, k).dtype != want:
            right[k] = column(right, k).astype(want)
    merged = _in_order(left, right, keys)
    pos = merged["__pos"].fillna(-1).astype("int64").to_cupy()
    pos[left.isna().any(axis=1).to_cupy()] = -1  # a missing key part matches nothing
    return pos


# ============================================================================== output
@F.check_label.register("cudf")
def _check_label_cudf(frame: cudf.DataFrame, label: str) -> None:
    import cupy

    finite = cupy.isfinite(float64_values(column(frame, label)))
    bad = int((~finite).sum())
    if bad:
        raise F.label_error(label, bad)


@F.finalize_output.register("cudf")
def _finalize_output_cudf(frame: cudf.DataFrame, schema: Schema) -> cudf.DataFrame:
    import cupy

    data: dict[str, Any] = {}
    for col in schema:
        s = column(frame, col.name)
        if col.role == "cat":
            nulls = int(s.null_count)
            if nulls:
                raise F.cat_null_error(col.name, nulls)
            data[col.name] = s if s.dtype == np.int64 else s.astype("int64")
        elif s.dtype == np.float32 and not s.null_count:
            data[col.name] = s
        else:
            # NaN where missing and no null mask: the tensor is then a view of the column, as on pandas
            x = float64_values(s)
            out: cupy.ndarray = x.astype(np.float32)
            # finite values beyond float32's range would become ±inf (the pandas backend raises NumPy's overflow
            # flag; CuPy has none): one device pass and one read-back per column that was not float32 already
            if s.dtype != np.float32 and bool((cupy.isinf(out) & cupy.isfinite(x)).any()):
                raise F.float32_overflow_error(col.name, col.role, x)
            data[col.name] = out
    return _build_frame_cudf(frame, data)

