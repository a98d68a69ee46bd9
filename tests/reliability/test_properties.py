"""Property tests over the public API: the dtypes, schemas and arguments users really have.

Every property ends in one of two outcomes and nothing else:

* the right result, checked against an oracle that does not go through gpupipe (plain Python over the
  values, pandas, NumPy, scikit-learn), or
* a ``gp.GpupipeError`` whose message names the culprit (the column, file, parameter or op).

Any other exception escaping (``TypeError``, ``ArrowInvalid``, ``IndexError``...) fails the property, and so
does a silently different result. Where a named refusal is acceptable instead of a result (an ``object``
column, ids above 2**63, nested columns) the test says so; the dtypes pandas and Arrow document as ordinary
(nullable extension dtypes, Arrow-backed dtypes, categoricals) must give the right result.

Examples are derandomised and no example database is used, so a run is reproducible;
``GPUPIPE_FUZZ_EXAMPLES`` raises every test's example count for a deeper run.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st
from property_strategies import (
    Column,
    DtColumn,
    arrow_tables,
    bad_bool,
    bad_choice,
    bad_int,
    bad_number,
    categorify_oracle,
    datetime_columns,
    float_array,
    group_oracle,
    id_column,
    id_columns,
    io_frames,
    make_dt_series,
    make_num_series,
    names,
    numeric_columns,
    same_value,
    target_encoding_oracle,
)

import gpupipe as gp
from gpupipe import ops

_DEEP = int(os.environ.get("GPUPIPE_FUZZ_EXAMPLES", "0"))
# Shrinking a failing example can take minutes per test; the explicit @example cases are already minimal, so
# it is off unless asked for (GPUPIPE_FUZZ_SHRINK=1) and a failure shows the first failing example drawn.
_PHASES = tuple(Phase) if os.environ.get("GPUPIPE_FUZZ_SHRINK") else (Phase.explicit, Phase.generate)


def cfg(n: int) -> settings:
    """``n`` derandomised examples (more with GPUPIPE_FUZZ_EXAMPLES), no deadline, no example database."""
    return settings(max_examples=max(n, _DEEP), deadline=None, derandomize=True, database=None, print_blob=False,
                    phases=_PHASES,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much, HealthCheck.data_too_large])


# ------------------------------------------------------------------------------ helpers
class Refused(Exception):
    """Raised by :func:`outcome` when gpupipe refused with a properly named error."""

    def __init__(self, exc: gp.GpupipeError) -> None:
        super().__init__(str(exc))
        self.exc = exc


def outcome(fn: Callable[[], Any], *culprits: str, refusal_ok: bool = True) -> Any:
    """Run ``fn``. Its result is returned; a ``GpupipeError`` naming every culprit raises :class:`Refused`
    (when ``refusal_ok``); any other exception, or a refusal that does not name the culprits, fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except gp.GpupipeError as exc:
        missing = [c for c in culprits if not names_in(c, str(exc))]
        assert not missing, f"{type(exc).__name__} does not name {missing}: {exc}"
        if not refusal_ok:
            pytest.fail(f"refused a supported input with {type(exc).__name__}: {exc}")
        raise Refused(exc) from exc
    except Exception as exc:  # the bare library exceptions this file exists to catch
        pytest.fail(f"a bare {type(exc).__module__}.{type(exc).__name__} escaped instead of a gpupipe error naming "
                    f"{list(culprits)}: {str(exc)[:300]}")


def names_in(culprit: str, message: str) -> bool:
    """Whether ``message`` names ``culprit``, as written or as its ``repr`` (which escapes odd characters)."""
    return str(culprit) in message or repr(culprit) in message or repr(culprit)[1:-1] in message


def must_refuse(fn: Callable[[], Any], *culprits: str) -> gp.GpupipeError:
    """``fn`` must raise a GpupipeError naming every culprit (it must not accept the input either)."""
    try:
        result = outcome(fn, *culprits)
    except Refused as r:
        return r.exc
    pytest.fail(f"accepted silently (expected a gpupipe error naming {list(culprits)}); it returned "
                f"{str(result)[:200]}")


def on_backend(df: pd.DataFrame, backend: str) -> Any:
    """The user's pandas frame as handed to gpupipe on ``backend`` (as is on pandas)."""
    return df if backend == "pandas" else gp.from_pandas(df)


def host(frame: Any) -> pd.DataFrame:
    return gp.to_pandas(frame)


def col_floats(frame: Any, name: str) -> np.ndarray:
    return host(frame)[name].to_numpy(dtype=np.float64, na_value=np.nan)


def assert_close(got: np.ndarray, want: np.ndarray, what: str, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: {got.shape} rows, expected {want.shape}"
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: missing at {np.isnan(got)}, expected {np.isnan(want)}"
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=atol, err_msg=what)


def label_for(n: int) -> list[float]:
    return [float(i % 2) for i in range(n)]


# Representations a user meets in ordinary pandas/Arrow code: these must work (no refusal). An ``object``
# column (Python values) or ids above 2**63 may be refused instead, by name.
def refusal_allowed(col: Column) -> bool:
    return col.repr.startswith("object") or col.kind == "bigu"


# ============================================================================== dtypes at the boundary
@cfg(60)
@given(col=id_columns(), name=names())
@example(col=id_column([1, 2, 2, 3, None], "object"), name="id")                     # ids from JSON / a database
@example(col=id_column([2**63 + 1, 2**63 + 1, 5], "uint64"), name="id")              # uint64 above 2**63
@example(col=id_column(["a", "b", "b", None], "large_string[pyarrow]"), name="c")    # dtype_backend="pyarrow"
@example(col=id_column([True, False, False], "bool[pyarrow]"), name="flag")
@example(col=id_column([True, False, False], "object"), name="flag")
def test_categorify_ids_follow_the_documented_layout_in_every_representation(backend, col, name):
    """Categorify ids of a column equal the ids its values get by the documented layout (what they get as
    canonical int64/str), whatever dtype holds them; transform on the fit data gives the same ids."""
    df = pd.DataFrame({name: col.series})
    want, cardinality = categorify_oracle(col.values)
    wf = gp.Workflow([name] >> ops.Categorify())
    try:
        fitted = outcome(lambda: wf.fit_transform(on_backend(df, backend)), name, refusal_ok=refusal_allowed(col))
    except Refused:
        return
    assert host(fitted)[name].tolist() == want, f"{col.repr}: ids differ from the values' ids"
    assert wf.output_schema.cardinalities[name] == cardinality
    again = outcome(lambda: wf.transform(on_backend(df, backend)), name, refusal_ok=False)
    assert host(again)[name].tolist() == want, f"{col.repr}: transform ids differ from fit_transform ids"


@cfg(40)
@given(col=id_columns(), smoothing=st.sampled_from([0.0, 1.0, 20.0]))
@example(col=id_column([1, 2, 2, 3, None, 1], "object"), smoothing=1.0)
@example(col=id_column(["a", "b", "b", None], "large_string[pyarrow]"), smoothing=1.0)
def test_target_encoding_and_group_statistics_key_on_values_not_dtypes(backend, col, smoothing):
    """TargetEncoding (transform) and JoinGroupby keyed on a column equal the formulas over its values."""
    n = len(col.values)
    y = label_for(n)
    v = [float(i) for i in range(n)]
    df = pd.DataFrame({"k": col.series, "y": y, "v": v})
    te = gp.Workflow(["k"] >> ops.TargetEncoding(target="y", kfold=2, smoothing=smoothing), label="y")
    try:
        outcome(lambda: te.fit(on_backend(df, backend)), "k", refusal_ok=refusal_allowed(col))
    except Refused:
        return
    got = col_floats(outcome(lambda: te.transform(on_backend(df, backend)), "k", refusal_ok=False), "TE_k_y")
    assert_close(got, target_encoding_oracle(col.values, y, smoothing), f"TargetEncoding on {col.repr}", rtol=1e-4)
    jg = gp.Workflow(["k"] >> ops.JoinGroupby(cont_cols=["v"], stats=("count", "mean")), label="y")
    out = outcome(lambda: jg.fit(on_backend(df, backend)).transform(on_backend(df, backend)), "k", refusal_ok=False)
    cnt, mean = group_oracle(col.values, v)
    assert_close(col_floats(out, "k_v_count"), cnt, f"JoinGroupby count on {col.repr}")
    assert_close(col_floats(out, "k_v_mean"), mean, f"JoinGroupby mean on {col.repr}", rtol=1e-4)


_CANONICAL = {"int": "Int64", "str": "str", "bool": "boolean"}


@cfg(40)
@given(col=id_columns(kinds=("int", "str", "bool")), buckets=st.sampled_from([7, 1000, 2**31 - 1]))
@example(col=id_column([1, 2, None, 2], "object"), buckets=1000)
def test_hash_bucket_hashes_values_not_dtypes(backend, col, buckets):
    """HashBucket of a column equals HashBucket of the same values held canonically (Int64, str, boolean)."""
    canon = pd.Series(pd.array(col.values, dtype=_CANONICAL[col.kind]))
    wf_c = gp.Workflow(["h"] >> ops.HashBucket(num_buckets=buckets))
    want = host(wf_c.fit_transform(on_backend(pd.DataFrame({"h": canon}), backend)))["h"].tolist()
    wf = gp.Workflow(["h"] >> ops.HashBucket(num_buckets=buckets))
    try:
        got = outcome(lambda: wf.fit_transform(on_backend(pd.DataFrame({"h": col.series}), backend)), "h",
                      refusal_ok=refusal_allowed(col))
    except Refused:
        return
    assert host(got)["h"].tolist() == want, f"HashBucket on {col.repr} differs from the canonical dtype"


_NUMERIC_OPS = ["Normalize", "NormalizeMinMax", "FillMissing", "FillMedian", "Clip", "LogOp"]


def _numeric_oracle(op: str, x: np.ndarray, fill: float, lo: float, hi: float) -> np.ndarray:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    col = x.reshape(-1, 1)
    if op == "Normalize":
        return StandardScaler().fit_transform(col).ravel()
    if op == "NormalizeMinMax":
        return MinMaxScaler().fit_transform(col).ravel()
    if op == "FillMissing":
        return SimpleImputer(strategy="constant", fill_value=fill, keep_empty_features=True).fit_transform(col).ravel()
    if op == "FillMedian":
        return SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(col).ravel()
    if op == "Clip":
        return np.clip(x, lo, hi)
    return np.log1p(x)


def _numeric_op(op: str, fill: float, lo: float, hi: float) -> Any:
    return {"Normalize": ops.Normalize, "NormalizeMinMax": ops.NormalizeMinMax, "FillMedian": ops.FillMedian,
            "LogOp": ops.LogOp, "FillMissing": lambda: ops.FillMissing(fill_value=fill),
            "Clip": lambda: ops.Clip(lower=lo, upper=hi)}[op]()


@cfg(80)
@given(col=numeric_columns(), op=st.sampled_from(_NUMERIC_OPS), name=names(),
       fill=st.sampled_from([0, 1, -2.5]), bounds=st.sampled_from([(0.0, 10.0), (-1.5, 2.0), (-math.inf, 3.0),
                                                                 (0.0, math.inf)]))
@example(col=Column([1.5, None, 3.0], "double[pyarrow]", "num", make_num_series([1.5, None, 3.0], "double[pyarrow]")),
         op="Normalize", name="price", fill=0, bounds=(0.0, 10.0))
@example(col=Column([1.0, None, 0.0], "boolean", "num", make_num_series([1.0, None, 0.0], "boolean")),
         op="FillMissing", name="flag", fill=0, bounds=(0.0, 10.0))
@example(col=Column([1.0, None, 0.0], "bool[pyarrow]", "num", make_num_series([1.0, None, 0.0], "bool[pyarrow]")),
         op="FillMissing", name="flag", fill=0, bounds=(0.0, 10.0))
@example(col=Column([1.0, 5.0, 9.0], "int64", "num", make_num_series([1.0, 5.0, 9.0], "int64")),
         op="Clip", name="n", fill=0, bounds=(0.0, math.inf))
@example(col=Column([1.0, None, 0.0], "boolean", "num", make_num_series([1.0, None, 0.0], "boolean")),
         op="Clip", name="flag", fill=0, bounds=(0.0, 10.0))
def test_numeric_ops_equal_scikit_learn_in_every_representation(backend, col, op, name, fill, bounds):
    """Normalize = StandardScaler, NormalizeMinMax = MinMaxScaler, FillMissing/FillMedian = SimpleImputer,
    Clip = np.clip (infinite bounds included), LogOp = np.log1p (negative input: DataError naming the column),
    on the same values in every dtype that holds them; Clip refuses boolean columns (SchemaError naming them:
    True/False have no range to bound)."""
    x = float_array(col.values)
    lo, hi = bounds
    df = pd.DataFrame({name: col.series, "y": label_for(len(x))})
    wf = gp.Workflow([name] >> _numeric_op(op, fill, lo, hi), label="y")
    negative = op == "LogOp" and bool(np.nanmin(x, initial=0) < 0)
    clipped_bool = op == "Clip" and "bool" in col.repr
    try:
        out = outcome(lambda: wf.fit_transform(on_backend(df, backend)), name,
                      refusal_ok=refusal_allowed(col) or negative or clipped_bool)
    except Refused as r:
        if negative and not refusal_allowed(col):
            assert isinstance(r.exc, gp.DataError), r.exc
        if clipped_bool and not refusal_allowed(col):
            assert isinstance(r.exc, gp.SchemaError), r.exc
        return
    assert not clipped_bool, f"Clip took the boolean column {col.repr} without a SchemaError"
    assert not negative, f"LogOp took negative values of {col.repr} without a DataError"
    want = _numeric_oracle(op, x, fill, lo, hi)
    assert_close(col_floats(out, name), want, f"{op} on {col.repr}", rtol=1e-5, atol=1e-5)


_PARTS = ("year", "month", "day", "dow", "hour", "minute")


def _pandas_part(s: pd.Series, part: str) -> pd.Series:
    return getattr(s.dt, {"dow": "day_of_week"}.get(part, part))


@cfg(40)
@given(col=datetime_columns())
@example(col=DtColumn([pd.Timestamp("2020-03-01 10:30", tz="UTC"), None], None, "timestamp[us][pyarrow]",
                      make_dt_series([pd.Timestamp("2020-03-01 10:30", tz="UTC"), None], None, "timestamp[us][pyarrow]")))
def test_date_parts_equal_pandas_fields_for_every_datetime_dtype(backend, col):
    """DateParts fields equal pandas' ``.dt`` fields of the same instants in the column's own zone, for NumPy
    datetimes of any unit, naive or tz-aware, and Arrow-backed timestamps."""
    df = pd.DataFrame({"t": col.series})
    wf = gp.Workflow(["t"] >> ops.DateParts(parts=_PARTS))
    out = outcome(lambda: wf.fit_transform(on_backend(df, backend)), "t", refusal_ok=False)
    ref = col.reference()
    for part in _PARTS:
        want = _pandas_part(ref, part).to_numpy(dtype=np.float64, na_value=np.nan)
        assert_close(col_floats(out, f"t_{part}"), want, f"DateParts {part} of {col.repr} tz={col.tz}")


_FILE_TYPES = ["date32", "decimal", "time64", "binary"]


@cfg(30)
@given(table=arrow_tables(types=_FILE_TYPES, max_columns=1).filter(lambda t: t.num_rows > 0))
def test_file_dtypes_date_decimal_time_binary_are_values_not_text(backend, table):
    """Columns read from parquet/Arrow as DATE, DECIMAL, TIME or BINARY: Categorify gives their values' ids
    (never every row out of vocabulary), or a named refusal; a DATE column gives DateParts."""
    name = table.column_names[0]
    values = table.column(0).to_pylist()
    frame = outcome(lambda: gp.from_arrow(table), name, refusal_ok=False)
    wf = gp.Workflow([name] >> ops.Categorify())
    try:
        out = outcome(lambda: wf.fit_transform(frame), name)
    except Refused:
        pass
    else:
        assert host(out)[name].tolist() == categorify_oracle(values)[0], f"{table.schema.field(0).type}: ids"
    if pa.types.is_date(table.schema.field(0).type):
        wf = gp.Workflow([name] >> ops.DateParts(parts=("year", "month", "day")))
        out = outcome(lambda: wf.fit_transform(frame), name, refusal_ok=False)
        for part in ("year", "month", "day"):
            want = [np.nan if v is None else getattr(v, part) for v in values]
            assert_close(col_floats(out, f"{name}_{part}"), want, f"DateParts {part} of a DATE column")


_NESTED = ["list", "struct", "map"]
_KEY_OPS = {"Categorify": lambda: ops.Categorify(), "HashBucket": lambda: ops.HashBucket(num_buckets=10),
            "TargetEncoding": lambda: ops.TargetEncoding(target="y", kfold=2),
            "JoinGroupby": lambda: ops.JoinGroupby(cont_cols=["y"], stats=("count",))}


@cfg(30)
@given(table=arrow_tables(types=_NESTED, max_columns=1).filter(lambda t: t.column(0).null_count < t.num_rows),
       op=st.sampled_from(sorted(_KEY_OPS)), via=st.sampled_from(["from_arrow", "read_parquet"]))
def test_nested_columns_are_refused_by_name(backend, table, op, via):
    """A list/struct/map column (from Arrow or a parquet file) given to a categorical op is a gpupipe error
    naming the column, never a bare TypeError/ArrowTypeError from a hash table."""
    name = table.column_names[0]
    table = table.append_column("y", pa.array(label_for(table.num_rows)))
    if via == "from_arrow":
        frame = outcome(lambda: gp.from_arrow(table), name, refusal_ok=False)
    else:
        with tempfile.TemporaryDirectory() as d:
            pq.write_table(table, Path(d) / "n.parquet")
            frame = outcome(lambda: gp.read_parquet(Path(d) / "n.parquet"), name, refusal_ok=False)
    wf = gp.Workflow([name] >> _KEY_OPS[op](), label="y")
    must_refuse(lambda: wf.fit(frame).transform(frame), name)


_ALL_NULL = ["Int64", "Float64", "boolean", "UInt64", "double[pyarrow]", "int64[pyarrow]", "str", "object",
             "datetime64[ns]", "category", "null[pyarrow]"]


def _all_null(dtype: str, n: int) -> pd.Series:
    if dtype == "null[pyarrow]":
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.nulls(n)))
    if dtype == "category":
        return pd.Series(pd.Categorical([None] * n))
    return pd.Series([None] * n, dtype=dtype)


@cfg(40)
@given(dtype=st.sampled_from(_ALL_NULL), n=st.integers(1, 5), name=names(),
       use=st.sampled_from(["to_tensors", "Loader", "Schema.infer", "FillMissing", "Normalize", "Categorify"]))
@example(dtype="Int64", n=3, name="x", use="Schema.infer")
def test_all_null_columns_of_every_dtype(backend, dtype, n, name, use):
    """An all-null column (a day without data) in any dtype: the documented values (FillMissing -> the fill
    value, Normalize -> NaN, Categorify -> id 1) or a gpupipe error naming the column; never a bare error."""
    df = pd.DataFrame({name: _all_null(dtype, n), "y": label_for(n)})
    frame = on_backend(df, backend)
    try:
        if use == "to_tensors":
            tt = outcome(lambda: gp.to_tensors(frame, label="y"), name)
            # taken as a continuous column (a categorical one with nulls is refused): every value missing
            assert tt.schema[name].role == "cont" and bool(tt[name].float().isnan().all()), tt.schema
        elif use == "Loader":
            batches = outcome(lambda: list(gp.Loader(frame, label="y", batch_size=2)), name)
            assert sum(len(b) for b in batches) == n
            assert all(bool(b.cont.float().isnan().all()) for b in batches)
        elif use == "Schema.infer":
            col = outcome(lambda: gp.Schema.infer(frame, label="y"), name)[name]
            assert (col.role, col.cardinality) in (("cat", 1), ("cont", None)), col  # ids: only the null id
        else:
            op = {"FillMissing": lambda: ops.FillMissing(fill_value=3), "Normalize": ops.Normalize,
                  "Categorify": ops.Categorify}[use]()
            out = outcome(lambda: gp.Workflow([name] >> op, label="y").fit_transform(frame), name)
            want = {"FillMissing": 3.0, "Normalize": np.nan, "Categorify": 1.0}[use]
            assert_close(col_floats(out, name), np.full(n, want), f"{use} of an all-null {dtype} column")
    except Refused:
        pass


# ============================================================================== round trips
@cfg(60)
@given(table=arrow_tables())
@example(table=pa.table({"m": pa.array([[("k", 1)], None, []], pa.map_(pa.string(), pa.int64()))}))
def test_arrow_and_parquet_round_trips_keep_values_and_nulls(backend, table):
    """from_arrow -> to_arrow, and from_arrow -> write_parquet -> read_parquet -> to_arrow, give back every
    value and every null where it was (types may widen). On pandas every type here does; cuDF, which has no
    form for some Arrow types, may instead refuse with a gpupipe error naming the column."""
    refusal_ok = backend != "pandas"
    try:
        frame = outcome(lambda: gp.from_arrow(table), *table.column_names, refusal_ok=refusal_ok)
    except Refused:
        return
    with tempfile.TemporaryDirectory() as d:
        for route in ("to_arrow", "parquet"):
            def back(route=route) -> pa.Table:
                if route == "to_arrow":
                    return gp.to_arrow(frame)
                gp.write_parquet(frame, Path(d) / "t.parquet")
                return gp.to_arrow(gp.read_parquet(Path(d) / "t.parquet"))
            try:
                got = outcome(back, refusal_ok=refusal_ok)
            except Refused as r:
                assert any(names_in(c, str(r.exc)) for c in table.column_names), f"{route}: names no column: {r.exc}"
                continue
            assert got.column_names == table.column_names, route
            for c in table.column_names:
                a, b = table.column(c).to_pylist(), got.column(c).to_pylist()
                bad = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not same_value(x, y)]
                assert not bad, f"{route}: column {c!r} ({table.schema.field(c).type}) rows {bad}: {a} -> {b}"


@cfg(10)
@given(values=st.lists(st.sampled_from([1.5, float("nan"), None]), min_size=1, max_size=8))
def test_float_nan_and_null_read_as_missing_numpy_floats(backend, values):
    """NaN is missing (gpupipe's rule, and pandas'): a float column holding NaN values and nulls reads on pandas as
    one writable NumPy float column whose missing rows are exactly the NaN and null rows (the dtype does not depend
    on which of the two a file holds); a round trip keeps every value and every missing row missing."""
    table = pa.table({"f": pa.array(values, type=pa.float64())})
    missing = [v is None or v != v for v in values]
    frame = gp.from_arrow(table)
    if backend == "pandas":
        assert frame["f"].dtype == np.float64 and frame["f"].isna().tolist() == missing
        frame.loc[0, "f"] = 2.5  # writable, as pd.read_parquet's frames are
    got = outcome(lambda: gp.to_arrow(gp.from_arrow(table)), "f", refusal_ok=False).column("f").to_pylist()
    assert [v is None or v != v for v in got] == missing, f"{values} came back as {got}"
    assert [v for v in got if v is not None and v == v] == [v for v in values if v is not None and v == v]


@cfg(60)
@given(frame_values=io_frames())
@example(frame_values=(pd.DataFrame({"a": pd.Series([1, "x"], dtype=object)}), {"a": [1, "x"]}))
@example(frame_values=(pd.DataFrame({"z": np.array([1 + 1j, 2], dtype=complex)}), {"z": [1 + 1j, 2 + 0j]}))
def test_pandas_frames_survive_parquet_and_arrow(backend, frame_values):
    """write_parquet -> read_parquet and to_arrow keep every value and null position of pandas frames in the
    dtypes users have (or refuse with a gpupipe error naming the column: complex, mixed object...)."""
    df, values = frame_values
    with tempfile.TemporaryDirectory() as d:
        for route in ("parquet", "to_arrow"):
            def back(route=route) -> pd.DataFrame:
                if route == "to_arrow":
                    return gp.to_arrow(df).to_pandas()
                gp.write_parquet(df, Path(d) / "f.parquet")
                return host(gp.read_parquet(Path(d) / "f.parquet"))
            try:
                got = outcome(back)
            except Refused as r:
                # only what has no file/Arrow form may be refused: complex numbers, objects mixing kinds or bytes
                odd = [c for c in df.columns if df[c].dtype == object or df[c].dtype.kind == "c"]
                assert any(names_in(c, str(r.exc)) for c in odd), f"{route}: refused {list(df.dtypes)}: {r.exc}"
                continue
            assert list(got.columns) == list(df.columns), route
            for c in df.columns:
                b = got[c].tolist()
                bad = [i for i, (x, y) in enumerate(zip(values[c], b, strict=True)) if not same_value(x, y)]
                assert not bad, f"{route}: column {c!r} ({df[c].dtype}) rows {bad}: {values[c]} -> {b}"


_EMPTY_OK = [r for r in ("Int64", "Int8", "UInt64", "boolean", "Float32", "Float64", "string[python]", "str",
                          "double[pyarrow]", "int64[pyarrow]", "bool[pyarrow]", "large_string[pyarrow]",
                          "timestamp[us][pyarrow]", "datetime_tz", "float16", "object_str")]


@cfg(15)
@given(frame_values=io_frames(reprs=_EMPTY_OK, min_rows=0, max_rows=0))
def test_empty_frames_keep_their_columns_and_fit_says_empty(backend, frame_values):
    """A frame with no rows (a filtered-out day) writes and reads back with its columns, and Workflow.fit
    refuses it with a DataError rather than fitting statistics on nothing."""
    df, _ = frame_values
    with tempfile.TemporaryDirectory() as d:
        outcome(lambda: gp.write_parquet(df, Path(d) / "e.parquet"), refusal_ok=False)
        back = host(outcome(lambda: gp.read_parquet(Path(d) / "e.parquet"), refusal_ok=False))
    assert list(back.columns) == list(df.columns) and len(back) == 0
    exc = must_refuse(lambda: gp.Workflow([df.columns[0]]).fit(on_backend(df, backend)))
    assert isinstance(exc, gp.DataError), exc


_ARROW_OBJECTS = ["Table", "RecordBatch", "RecordBatchReader", "ChunkedArray", "Array", "StructArray",
                  "pandas.DataFrame", "pandas.Series", "dict", "list"]
_NOT_ARROW_TABLES = {"ChunkedArray", "Array", "pandas.Series", "dict", "list"}


@cfg(20)
@given(kind=st.sampled_from(_ARROW_OBJECTS), values=st.lists(st.integers(-5, 5) | st.none(), min_size=1, max_size=5))
@example(kind="ChunkedArray", values=[1, None, 3])
def test_from_arrow_takes_arrow_objects_or_names_what_it_got(backend, kind, values):
    """from_arrow gives a frame holding the values, or a gpupipe error naming the type it was given."""
    arr = pa.array(values, type=pa.int64())
    obj = {"Table": lambda: pa.table({"a": arr}), "RecordBatch": lambda: pa.record_batch({"a": arr}),
           "RecordBatchReader": lambda: pa.RecordBatchReader.from_batches(pa.schema([("a", pa.int64())]),
                                                                          [pa.record_batch({"a": arr})]),
           "ChunkedArray": lambda: pa.chunked_array([arr]), "Array": lambda: arr,
           "StructArray": lambda: pa.StructArray.from_arrays([arr], names=["a"]),
           "pandas.DataFrame": lambda: pd.DataFrame({"a": pd.array(values, dtype="Int64")}),
           "pandas.Series": lambda: pd.Series(pd.array(values, dtype="Int64"), name="a"),
           "dict": lambda: {"a": values}, "list": lambda: values}[kind]()
    if kind in _NOT_ARROW_TABLES:  # docs/reliability.md: a ParameterError naming the type given
        assert isinstance(must_refuse(lambda: gp.from_arrow(obj), type(obj).__name__), gp.ParameterError)
        return
    got = host(outcome(lambda: gp.from_arrow(obj), refusal_ok=False))
    assert got.shape == (len(values), 1), f"{kind}: shape {got.shape}"
    assert all(same_value(a, b) for a, b in zip(got.iloc[:, 0].tolist(), values, strict=True)), kind


# ============================================================================== schemas across files
def _table_for(spec: dict[str, str], rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {}
    for name, typ in spec.items():
        if typ in ("int32", "int64"):
            cols[name] = pa.array(rng.integers(-100, 100, rows), type=getattr(pa, typ)())
        elif typ == "float64":
            cols[name] = pa.array(rng.integers(-100, 100, rows) / 4)
        elif typ == "string":
            cols[name] = pa.array([f"s{v}" for v in rng.integers(0, 5, rows)])
        else:
            cols[name] = pa.nulls(rows)
    return pa.table(cols)


def _expected_concat(tables: list[pa.Table]) -> dict[str, list[Any]]:
    frames = [t.to_pandas() for t in tables]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = pd.concat(frames, ignore_index=True)
    return {c: whole[c].tolist() for c in whole.columns}


def _assert_frame_values(frame: Any, want: dict[str, list[Any]], what: str) -> None:
    got = host(frame)
    assert sorted(got.columns) == sorted(want), f"{what}: columns {sorted(got.columns)}, expected {sorted(want)}"
    for c, vals in want.items():
        g = got[c].tolist()
        bad = [i for i, (a, b) in enumerate(zip(g, vals, strict=True)) if not same_value(a, b)]
        assert not bad, f"{what}: column {c!r} rows {bad}: {g} != {vals}"


@st.composite
def evolving_files(draw: Any) -> list[dict[str, str]]:
    """2-3 files' schemas: columns added later, dropped, reordered, int32 widened to int64, a column null-typed
    in one file (a day where nothing was recorded)."""
    k = draw(st.integers(2, 3))
    base = {"a": draw(st.sampled_from(["int32", "int64"])), "s": "string"}
    specs = []
    for _ in range(k):
        spec = dict(base)
        if draw(st.booleans()):
            spec["a"] = draw(st.sampled_from(["int32", "int64"]))
        if draw(st.booleans()):
            spec["x"] = "float64"
        if draw(st.booleans()):
            spec["s"] = "null"
        order = draw(st.permutations(list(spec)))
        specs.append({c: spec[c] for c in order})
    return specs


@cfg(30)
@given(specs=evolving_files())
@example(specs=[{"a": "int64"}, {"a": "int64", "b": "string"}])       # a column added later
@example(specs=[{"a": "int32"}, {"a": "int64"}])                      # int32 widened to int64
@example(specs=[{"a": "int64", "s": "null"}, {"a": "int64", "s": "string"}])  # a day with nothing recorded
def test_parquet_files_whose_schema_evolved_read_alike_everywhere(backend, specs):
    """A directory of parquet files whose schema changed over time (columns added, dropped, reordered, int32
    widened to int64, a column null-typed in one file) reads to the rows of every file with the union of their
    columns, types widened and missing values null, as pandas.concat gives; or to a gpupipe error naming a file.
    read_parquet(dir), read_parquet(list) and gp.Dataset(dir) must agree: never one reader silently dropping
    columns another keeps, never a bare ArrowTypeError."""
    with tempfile.TemporaryDirectory() as d:
        tables = [_table_for(spec, 3, i) for i, spec in enumerate(specs)]
        paths = []
        for i, t in enumerate(tables):
            paths.append(Path(d) / f"part-{i}.parquet")
            pq.write_table(t, paths[-1])
        readers = {"read_parquet(dir)": lambda: gp.read_parquet(d), "read_parquet(list)": lambda: gp.read_parquet(paths),
                   "gp.Dataset(dir)": lambda: gp.Dataset(d).to_frame()}
        want = _expected_concat(tables)
        results = {}
        for reader, read in readers.items():
            try:
                frame = outcome(read)
            except Refused as r:
                assert any(p.name in str(r.exc) for p in paths), f"{reader}: the error names no file: {r.exc}"
                results[reader] = "refused"
                continue
            _assert_frame_values(frame, want, reader)
            results[reader] = "read"
        assert len(set(results.values())) == 1, f"the readers disagree on the same files: {results}"


@cfg(20)
@given(years=st.lists(st.sampled_from(["2013", "2014", "1999"]), min_size=1, max_size=2, unique=True),
       zips=st.lists(st.sampled_from(["10001", "02134", "00501", "94110"]), min_size=1, max_size=2, unique=True))
@example(years=["2013"], zips=["02134"])
def test_hive_partition_columns_are_the_same_for_every_reader(backend, years, zips):
    """``year=2013/zip=02134/part.parquet``: read_parquet(dir) and gp.Dataset(dir) give the same columns, and a
    partition column's values are the directory's text (a zip code keeps its leading zero)."""
    with tempfile.TemporaryDirectory() as d:
        for i, (y, z) in enumerate((y, z) for y in years for z in zips):
            part = Path(d) / f"year={y}" / f"zip={z}"
            part.mkdir(parents=True)
            pq.write_table(pa.table({"v": [i]}), part / "part.parquet")
        direct = host(outcome(lambda: gp.read_parquet(d), refusal_ok=False))
        lazy = host(outcome(lambda: gp.Dataset(d).to_frame(), refusal_ok=False))
        assert sorted(direct.columns) == sorted(lazy.columns), (
            f"read_parquet(dir) gives {sorted(direct.columns)}, gp.Dataset(dir) {sorted(lazy.columns)}")
        for col, allowed in (("year", years), ("zip", zips)):
            assert col in direct.columns, f"partition column {col!r} missing from read_parquet(dir)"
            got = {str(v) for v in direct[col].tolist()}
            assert got == set(allowed), f"partition column {col!r} reads as {got}, the directories say {allowed}"


@cfg(20)
@given(empty_day=st.integers(0, 2), empty_col=st.sampled_from(["x", "s"]), partition_rows=st.sampled_from([None, 1]))
@example(empty_day=1, empty_col="x", partition_rows=None)
def test_dataset_of_daily_csvs_with_an_empty_day_fits_like_the_whole_table(backend, empty_day, empty_col,
                                                                          partition_rows):
    """gp.Dataset over daily CSVs where one day's column is entirely empty: its fit equals the in-memory fit of
    the same files (gp.read_csv of the list), or a gpupipe error naming that day's file."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for day in range(3):
            rows = [f"{day * 10 + r},{'' if day == empty_day and empty_col == 'x' else (day + r) / 2},"
                    f"{'' if day == empty_day and empty_col == 's' else 'abc'[r]}" for r in range(2)]
            paths.append(Path(d) / f"day-{day}.csv")
            paths[-1].write_text("id,x,s\n" + "\n".join(rows) + "\n")
        make = lambda: gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify())  # noqa: E731
        whole = outcome(lambda: gp.read_csv(paths), refusal_ok=False)
        want = host(make().fit(whole).transform(whole))
        wf = make()
        try:
            outcome(lambda: wf.fit(gp.Dataset(d, partition_rows=partition_rows)))
        except Refused as r:
            assert paths[empty_day].name in str(r.exc), f"the error names no file: {r.exc}"
            return
        got = host(outcome(lambda: wf.transform(whole), refusal_ok=False))
        assert_close(got["x"].to_numpy(np.float64), want["x"].to_numpy(np.float64), "Normalize fitted on the Dataset")
        assert got["s"].tolist() == want["s"].tolist(), "Categorify fitted on the Dataset"


# ============================================================================== workflow graph semantics
_REWRITERS = {"Normalize": lambda: ops.Normalize(), "NormalizeMinMax": lambda: ops.NormalizeMinMax(),
              "Clip": lambda: ops.Clip(upper=2.0), "LogOp": lambda: ops.LogOp(),
              "FillMissing": lambda: ops.FillMissing(fill_value=7)}
_READERS = ["Rename", "Rename>>Clip", "Rename>>LogOp", "JoinGroupby(cont_cols)", "TargetEncoding(target)",
            "Filter"]


def _reader_node(reader: str) -> Any:
    if reader == "Rename":
        return ["x"] >> ops.Rename(postfix="_raw")
    if reader == "Rename>>Clip":
        return ["x"] >> ops.Rename(postfix="_raw") >> ops.Clip(upper=2.5)
    if reader == "Rename>>LogOp":
        return ["x"] >> ops.Rename(postfix="_raw") >> ops.LogOp()
    if reader == "JoinGroupby(cont_cols)":
        return ["c"] >> ops.JoinGroupby(cont_cols=["x"], stats=("mean",))
    if reader == "TargetEncoding(target)":
        return ["c"] >> ops.TargetEncoding(target="x", kfold=1, smoothing=0)
    return ["c"] >> ops.Filter(lambda f: f["x"] > 2.5) >> ops.Categorify()


@cfg(30)
@given(rewriter=st.sampled_from(sorted(_REWRITERS)), reader=st.sampled_from(_READERS),
       x=st.lists(st.integers(1, 8).map(float) | st.none(), min_size=4, max_size=8).filter(
           lambda v: any(e is not None and e > 2.5 for e in v)))
@example(rewriter="Normalize", reader="Rename", x=[1.0, 2.0, 3.0, 4.0])
@example(rewriter="Normalize", reader="Rename>>Clip", x=[1.0, 2.0, 3.0, 4.0])
def test_a_node_never_silently_reads_another_nodes_rewrite(backend, rewriter, reader, x):
    """Node 0 rewrites x in place; node 1 reads x (renamed first, as the SchemaError advises, or as a group
    statistic's input or a target). Node 1's output equals what it gives on the raw x, or a SchemaError names x."""
    assume(reader != "TargetEncoding(target)" or None not in x)  # a target must be complete
    n = len(x)
    df = pd.DataFrame({"x": [np.nan if v is None else v for v in x], "c": ["ab"[i % 2] for i in range(n)],
                       "y": label_for(n)})
    alone = gp.Workflow(_reader_node(reader), label="y")
    want = host(alone.fit_transform(on_backend(df, backend)))
    both = gp.Workflow(["x"] >> _REWRITERS[rewriter](), _reader_node(reader), label="y")
    try:
        got = host(outcome(lambda: both.fit_transform(on_backend(df, backend)), "x"))
    except Refused:
        return
    for c in want.columns:
        assert_close(got[c].to_numpy(np.float64), want[c].to_numpy(np.float64),
                     f"{reader} after {rewriter} rewrote x: column {c!r} saw the rewritten x")


_SHADOWS = ["DateParts", "JoinGroupby", "TargetEncoding", "FillMissing(add_indicator)", "Rename(postfix)",
            "JoinExternal"]


def _shadow_case(kind: str) -> tuple[pd.DataFrame, Any, str]:
    """(raw frame, the node that adds a column named like a raw one, that raw column's name)."""
    base = {"x": [1.0, np.nan, 3.0, 4.0], "c": ["a", "b", "a", "b"], "y": [0.0, 1.0, 0.0, 1.0],
            "t": pd.to_datetime(["2013-01-01", "2014-02-02", "2015-03-03", "2016-04-04"])}
    if kind == "DateParts":
        return pd.DataFrame({**base, "t_year": [9.0, 8.0, 7.0, 6.0]}), ["t"] >> ops.DateParts(parts=("year",)), "t_year"
    if kind == "JoinGroupby":
        return (pd.DataFrame({**base, "c_x_mean": [9.0, 8.0, 7.0, 6.0]}),
                ["c"] >> ops.JoinGroupby(cont_cols=["x"], stats=("mean",)), "c_x_mean")
    if kind == "TargetEncoding":
        return (pd.DataFrame({**base, "TE_c_y": [9.0, 8.0, 7.0, 6.0]}),
                ["c"] >> ops.TargetEncoding(target="y", kfold=1), "TE_c_y")
    if kind == "FillMissing(add_indicator)":
        return (pd.DataFrame({**base, "x_missing": [9.0, 8.0, 7.0, 6.0]}),
                ["x"] >> ops.FillMissing(add_indicator=True), "x_missing")
    if kind == "Rename(postfix)":
        return pd.DataFrame({**base, "x_2": [9.0, 8.0, 7.0, 6.0]}), ["x"] >> ops.Rename(postfix="_2"), "x_2"
    planes = pd.DataFrame({"c": ["a", "b"], "year": [1999.0, 2005.0]})   # planes.year vs flights.year
    return pd.DataFrame({**base, "year": [2013.0] * 4}), ["c"] >> ops.JoinExternal(planes, on="c"), "year"


@cfg(24)
@given(kind=st.sampled_from(_SHADOWS), reader_first=st.booleans())
@example(kind="JoinExternal", reader_first=False)
def test_a_column_an_op_adds_never_shadows_a_raw_column_of_that_name(backend, kind, reader_first):
    """The raw frame already holds a column named like one an op adds (t_year, c_x_mean, TE_c_y, x_missing,
    x_2, planes' year joined onto flights' year). A node that reads the raw column gets the raw values,
    whichever order the nodes come in, or a SchemaError names the column."""
    df, adder, shadowed = _shadow_case(kind)
    reader = [shadowed] >> ops.Rename(postfix="_raw")
    nodes = (reader, adder) if reader_first else (adder, reader)
    wf = gp.Workflow(*nodes, label="y")
    try:
        out = host(outcome(lambda: wf.fit_transform(on_backend(df, backend)), shadowed))
    except Refused:
        return
    assert_close(out[f"{shadowed}_raw"].to_numpy(np.float64), df[shadowed].to_numpy(np.float64),
                 f"{shadowed}_raw after {kind} added a column named {shadowed!r}")


@cfg(10)
@given(op=st.sampled_from(["Normalize", "NormalizeMinMax", "Clip", "LogOp"]))
@example(op="Normalize")
def test_the_label_reaches_the_output_unchanged(backend, op):
    """A node may read the label as a feature (renamed); the label column itself is passed through unchanged."""
    df = pd.DataFrame({"y": [0.0, 1.0, 0.0, 1.0], "x": [1.0, 2.0, 3.0, 4.0]})
    make = {"Normalize": ops.Normalize, "NormalizeMinMax": ops.NormalizeMinMax, "LogOp": ops.LogOp,
            "Clip": lambda: ops.Clip(upper=0.5)}[op]
    wf = gp.Workflow(["y"] >> make() >> ops.Rename(postfix="_feature"), ["x"], label="y")
    try:
        out = host(outcome(lambda: wf.fit_transform(on_backend(df, backend)), "y"))
    except Refused:
        return
    assert out["y"].tolist() == df["y"].tolist(), f"the label came out rewritten by {op}: {out['y'].tolist()}"


# ============================================================================== model vs loader schema
def _frames_for_models(seed: int) -> tuple[pd.DataFrame, Any]:
    rng = np.random.default_rng(seed)
    n = 48
    df = pd.DataFrame({"a": rng.choice(list("pqrs"), n), "b": rng.choice(list("wxyz"), n),
                       "d": rng.choice(list("klmnop"), n), "x1": rng.normal(size=n), "x2": rng.normal(size=n) * 3,
                       "y": rng.integers(0, 2, n).astype(float)})
    return df, rng


@cfg(16)
@given(cats=st.permutations(["a", "b"]), conts=st.permutations(["x1", "x2"]),
       change=st.sampled_from(["none", "swap_card", "drop_cont", "extra_cont", "rename_cont"]),
       fn=st.sampled_from(["predict", "evaluate"]), model_kind=st.sampled_from(["TabularMLP", "DCNv2"]))
@example(cats=["b", "a"], conts=["x1", "x2"], change="none", fn="predict", model_kind="TabularMLP")
def test_model_and_loader_schemas_are_matched_by_name(backend, cats, conts, change, fn, model_kind):
    """gp.predict/gp.evaluate with a model built for categoricals [a, b] and continuous [x1, x2] on a loader
    whose schema orders them otherwise give the same result as on the model's own order; different
    cardinalities or missing/extra/renamed columns are a SchemaError naming a column; never an IndexError or
    silently other predictions."""
    import torch

    torch.manual_seed(0)
    df, _ = _frames_for_models(0)
    ref_wf = gp.Workflow(["a", "b"] >> ops.Categorify(), ["x1", "x2"] >> ops.Normalize(), label="y")
    ref = ref_wf.fit_transform(on_backend(df, backend))
    model_cls = getattr(gp.models, model_kind)
    model = model_cls.from_schema(ref_wf.output_schema, hidden=(8,))
    model.eval()
    run = getattr(gp, fn)
    base = run(model, gp.Loader(ref, batch_size=16, shuffle=False, schema=ref_wf.output_schema))
    cat_cols, cont_cols = list(cats), list(conts)
    data = df.copy()
    if change == "swap_card":
        data = data.drop(columns="b").rename(columns={"d": "b"})  # b now holds 6 values, not 4
    elif change == "drop_cont":
        cont_cols = cont_cols[:1]
    elif change == "extra_cont":
        data["x3"] = data["x1"] * 2
        cont_cols = [*cont_cols, "x3"]
    nodes = [cat_cols >> ops.Categorify(), cont_cols >> ops.Normalize()]
    if change == "rename_cont":
        nodes[1] = cont_cols >> ops.Normalize() >> ops.Rename(postfix="_z")
    wf = gp.Workflow(*nodes, label="y")
    out = wf.fit_transform(on_backend(data, backend))
    loader = gp.Loader(out, batch_size=16, shuffle=False, schema=wf.output_schema)
    try:
        got = outcome(lambda: run(model, loader))
    except Refused:
        assert change != "none", "a loader holding the model's columns in another order was refused"
        return
    assert change == "none", f"{change}: the model ran on a loader whose schema differs from its own"
    if fn == "predict":
        assert torch.allclose(got, base, atol=1e-6), "predictions depend on the loader's column order"
    else:
        assert got == pytest.approx(base), "metrics depend on the loader's column order"


# ============================================================================== parameters
def _param_frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0], "i": [1, 2, 3, 400, 5, 6], "c": list("abacba"),
                         "t": pd.date_range("2020-01-01", periods=6, freq="D"), "y": [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]})


def _fit_op(selection: list[str], make: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        df = _param_frame()
        wf = gp.Workflow(selection >> make(), label="y")
        wf.fit(df)
        return host(wf.transform(df))
    return run


def _op(selection: list[str], cls: Any, param: str, **fixed: Any) -> Callable[[Any], Callable[[], Any]]:
    return lambda v: _fit_op(selection, lambda: cls(**{**fixed, param: v}))


# (entry point, parameter, values it must refuse, how to call it with one of them)
OP_PARAMS: list[tuple[str, str, st.SearchStrategy[Any], Callable[[Any], Callable[[], Any]]]] = [
    ("Categorify", "freq_threshold", bad_int(0), _op(["c"], ops.Categorify, "freq_threshold")),
    ("Categorify", "max_size", bad_int(0).filter(lambda v: v is not None), _op(["c"], ops.Categorify, "max_size")),
    ("Categorify", "num_oov_buckets", bad_int(1), _op(["c"], ops.Categorify, "num_oov_buckets")),
    ("HashBucket", "num_buckets", bad_int(1), _op(["c"], ops.HashBucket, "num_buckets")),
    ("Clip", "lower", bad_number(finite=False).filter(lambda v: v is not None), _op(["x"], ops.Clip, "lower", upper=5)),
    ("Clip", "upper", st.one_of(bad_number(finite=False).filter(lambda v: v is not None), st.just(-10.0)),
     _op(["x"], ops.Clip, "upper", lower=0)),
    ("FillMissing", "fill_value", st.one_of(st.none(), st.booleans(), st.sampled_from([float("nan"), float("inf")]),
                                            st.just([0])), _op(["x"], ops.FillMissing, "fill_value")),
    ("FillMissing", "add_indicator", bad_bool(), _op(["x"], ops.FillMissing, "add_indicator")),
    ("FillMedian", "add_indicator", bad_bool(), _op(["x"], ops.FillMedian, "add_indicator")),
    ("Bucketize", "boundaries", st.sampled_from([None, 3, [], [3.0, 1.0], ["a"], [float("nan")], [True], "1,2"]),
     _op(["x"], ops.Bucketize, "boundaries")),
    ("DateParts", "parts", st.sampled_from([None, (), ("century",), ["Year"], 3, ("year", "year")]),
     _op(["t"], ops.DateParts, "parts")),
    ("TargetEncoding", "target", st.sampled_from([None, ["y"], 1, ""]), _op(["c"], ops.TargetEncoding, "target")),
    ("TargetEncoding", "kfold", bad_int(1), _op(["c"], ops.TargetEncoding, "kfold", target="y")),
    ("TargetEncoding", "smoothing", bad_number(min_value=0, finite=False), _op(["c"], ops.TargetEncoding, "smoothing",
                                                                              target="y")),
    ("TargetEncoding", "seed", st.sampled_from([None, 1.5, "a", True, [0]]),
     _op(["c"], ops.TargetEncoding, "seed", target="y")),
    ("JoinGroupby", "cont_cols", st.sampled_from([None, "x", [], [1]]), _op(["c"], ops.JoinGroupby, "cont_cols")),
    ("JoinGroupby", "stats", st.sampled_from([None, "mean", (), ("median",), ("Mean",)]),
     _op(["c"], ops.JoinGroupby, "stats", cont_cols=["x"])),
    ("JoinGroupby", "fill_value", st.sampled_from([None, "a", [0.0], True]),
     _op(["c"], ops.JoinGroupby, "fill_value", cont_cols=["x"])),
    ("JoinExternal", "frame", st.sampled_from([None, "planes.parquet", 3, [("a", 1.0)]]),
     _op(["c"], ops.JoinExternal, "frame", on="c")),
    ("JoinExternal", "on", st.sampled_from([None, 1, ["c", 1]]),
     _op(["c"], ops.JoinExternal, "on", frame=pd.DataFrame({"c": ["a", "b"], "v": [1.0, 2.0]}))),
    ("JoinExternal", "how", bad_choice(["left"]),
     _op(["c"], ops.JoinExternal, "how", frame=pd.DataFrame({"c": ["a", "b"], "v": [1.0, 2.0]}), on="c")),
    ("Rename", "mapping", st.sampled_from([lambda s: s + "_2", {"x": 1}, [("x", "z")], "z"]),
     _op(["x"], ops.Rename, "mapping")),
    ("Rename", "postfix", st.sampled_from([1, b"_2", ["_2"]]), _op(["x"], ops.Rename, "postfix")),
    ("LambdaOp", "fn", st.sampled_from([None, "np.log1p", 3]), _op(["x"], ops.LambdaOp, "fn")),
    ("LambdaOp", "dtype", st.sampled_from(["notatype", 3, "float128x"]),
     _op(["x"], ops.LambdaOp, "dtype", fn=lambda s: s * 2)),
    ("Filter", "predicate", st.sampled_from([None, "x > 1", 3]), _op(["x"], ops.Filter, "predicate")),
]


@pytest.mark.parametrize("entry,param,bad,call", OP_PARAMS, ids=[f"{e}.{p}" for e, p, _, _ in OP_PARAMS])
@cfg(8)
@given(data=st.data())
def test_op_parameters_are_refused_by_name(entry, param, bad, call, data):
    """Every op refuses a wrong parameter (None, a bool or float for an int, a truthy string for a flag, out of
    range, the wrong type) with a gpupipe error naming the parameter; never accepts it, never a bare error."""
    value = data.draw(bad, label=f"{entry}.{param}")
    must_refuse(call(value), param)


# Odd but valid values: they must work (a right result) or be refused by name, never a bare error.
def _clip_int(**bounds: Any) -> Callable[[], Any]:
    def run() -> Any:
        out = _fit_op(["i"], lambda: ops.Clip(**bounds))()
        want = np.clip(_param_frame()["i"].to_numpy(np.float64), bounds.get("lower", -np.inf),
                       bounds.get("upper", np.inf))
        assert_close(out["i"].to_numpy(np.float64), want, f"Clip({bounds}) on an int column")
    return run


def _te_infinite_smoothing() -> Any:
    out = _fit_op(["c"], lambda: ops.TargetEncoding(target="y", kfold=1, smoothing=float("inf")))()
    assert_close(out["TE_c_y"].to_numpy(np.float64), np.full(6, 0.5), "smoothing=inf gives the prior")


def _hash_many_buckets() -> Any:
    out = _fit_op(["c"], lambda: ops.HashBucket(num_buckets=2**33))()
    assert out["c"].between(0, 2**33 - 1).all()


def _join_arrow_table() -> Any:
    out = _fit_op(["c"], lambda: ops.JoinExternal(pa.table({"c": ["a", "b"], "v": [1.0, 2.0]}), on="c"))()
    assert out["v"].tolist()[:2] == [1.0, 2.0]


ODD_OP_VALUES = {
    "Clip(upper=inf) on int": _clip_int(upper=float("inf")),
    "Clip(lower=-inf) on int": _clip_int(lower=-float("inf")),
    "Clip(upper=2**70) on int": _clip_int(upper=2**70),
    "Clip(lower=1.5) on int": _clip_int(lower=1.5),
    "TargetEncoding(smoothing=inf)": _te_infinite_smoothing,
    "HashBucket(num_buckets=2**33)": _hash_many_buckets,
    "JoinExternal(frame=pyarrow.Table)": _join_arrow_table,
}


@pytest.mark.parametrize("case", sorted(ODD_OP_VALUES))
def test_odd_but_valid_op_parameters_work_or_are_refused_by_name(case):
    if case == "HashBucket(num_buckets=2**33)":  # the hash has 32 bits: refused by name (docs/reliability.md)
        assert isinstance(must_refuse(ODD_OP_VALUES[case], "num_buckets"), gp.ParameterError)
    else:
        outcome(ODD_OP_VALUES[case], refusal_ok=False)


NUMPY_EQUIVALENTS = {
    "Categorify.freq_threshold": lambda v: _fit_op(["c"], lambda: ops.Categorify(freq_threshold=v))(),
    "Categorify.max_size": lambda v: _fit_op(["c"], lambda: ops.Categorify(max_size=v))(),
    "Categorify.num_oov_buckets": lambda v: _fit_op(["c"], lambda: ops.Categorify(num_oov_buckets=v))(),
    "HashBucket.num_buckets": lambda v: _fit_op(["c"], lambda: ops.HashBucket(num_buckets=v))(),
    "TargetEncoding.kfold": lambda v: _fit_op(["c"], lambda: ops.TargetEncoding(target="y", kfold=v))(),
    "FillMissing.add_indicator": lambda v: _fit_op(["x"], lambda: ops.FillMissing(add_indicator=v))(),
    "Dataset.partition_rows": lambda v: gp.Dataset(_param_frame(), partition_rows=v).num_partitions,
    "Loader.batch_size": lambda v: len(gp.Loader(_model_frame()[0], batch_size=v, schema=_model_frame()[1])),
    "Loader.world_size": lambda v: len(gp.Loader(_model_frame()[0], batch_size=4, rank=0, world_size=v,
                                                 schema=_model_frame()[1])),
    "Loader.seed": lambda v: next(iter(gp.Loader(_model_frame()[0], batch_size=4, seed=v,
                                                 schema=_model_frame()[1]))).cont.tolist(),
}
_NP_VALUES = {"Categorify.freq_threshold": (2, np.int64(2)), "Categorify.max_size": (2, np.int32(2)),
              "Categorify.num_oov_buckets": (2, np.int64(2)), "HashBucket.num_buckets": (7, np.int64(7)),
              "TargetEncoding.kfold": (2, np.int64(2)), "FillMissing.add_indicator": (True, np.bool_(True)),
              "Dataset.partition_rows": (2, np.int64(2)), "Loader.batch_size": (4, np.int64(4)),
              "Loader.world_size": (2, np.int64(2)), "Loader.seed": (3, np.int64(3))}


@pytest.mark.parametrize("case", sorted(NUMPY_EQUIVALENTS))
def test_numpy_scalars_are_accepted_like_python_ones(case):
    """``np.int64(2)`` (what ``arr.max()`` or ``len(x) // k`` in NumPy code gives) means 2: the same result as
    the Python int, not a refusal."""
    py, npv = _NP_VALUES[case]
    want = NUMPY_EQUIVALENTS[case](py)
    got = outcome(lambda: NUMPY_EQUIVALENTS[case](npv), case.split(".")[1], refusal_ok=False)
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want)
    else:
        assert got == want


# ------------------------------------------------------------------------------ tensors, loader, training
_MODEL_FRAME: dict[str, Any] = {}


def _model_frame() -> tuple[pd.DataFrame, Any]:
    if not _MODEL_FRAME:
        df, _ = _frames_for_models(1)
        wf = gp.Workflow(["a", "b"] >> ops.Categorify(), ["x1", "x2"] >> ops.Normalize(), label="y")
        _MODEL_FRAME["frame"] = wf.fit_transform(df)
        _MODEL_FRAME["schema"] = wf.output_schema
    return _MODEL_FRAME["frame"], _MODEL_FRAME["schema"]


def _no_cuda() -> bool:
    import torch

    return not torch.cuda.is_available()


def bad_devices() -> st.SearchStrategy[Any]:
    bad = ["gpu", "CPU", "tpu", "cuda:99", 1.5, "cpu:0:1"]
    if _no_cuda():
        bad += ["cuda", "cuda:0", 0]  # this machine has no CUDA device: a named refusal, not torch's RuntimeError
    return st.sampled_from(bad)


def _loader(**kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        frame, schema = _model_frame()
        args = {"batch_size": 8, "schema": schema, **kw}
        return next(iter(gp.Loader(frame, **args)))
    return run


def _to_tensors(**kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        frame, schema = _model_frame()
        return gp.to_tensors(frame, **{"schema": schema, **kw})
    return run


class _CountingLoader(gp.Loader):
    """A Loader that records whether anything iterated it (validation must come before any batch is read)."""

    iterated = 0

    def __iter__(self):
        type(self).iterated += 1
        return super().__iter__()


def _train(**kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        import torch

        frame, schema = _model_frame()
        torch.manual_seed(0)
        model = gp.models.TabularMLP.from_schema(schema, hidden=(4,))
        _CountingLoader.iterated = 0
        loader = _CountingLoader(frame, batch_size=16, schema=schema)
        val = _CountingLoader(frame, batch_size=16, schema=schema, shuffle=False)
        try:
            return gp.train(model, loader, val=val, **{"progress": False, **kw})
        except gp.GpupipeError:
            assert _CountingLoader.iterated == 0, f"train({kw}) read batches before refusing its arguments"
            raise
    return run


def _score(fn: str, **kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        frame, schema = _model_frame()
        model = gp.models.TabularMLP.from_schema(schema, hidden=(4,))
        return getattr(gp, fn)(model, gp.Loader(frame, batch_size=16, schema=schema, shuffle=False), **kw)
    return run


def _model(cls: str, **kw: Any) -> Callable[[], Any]:
    return lambda: getattr(gp.models, cls).from_schema(_model_frame()[1], **kw)


def _baseline(**kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        frame, schema = _model_frame()
        return gp.baselines.fit(frame, schema, **kw).score(frame)
    return run


TENSOR_PARAMS: list[tuple[str, str, st.SearchStrategy[Any], Callable[[Any], Callable[[], Any]]]] = [
    ("Loader", "batch_size", bad_int(1), lambda v: _loader(batch_size=v)),
    ("Loader", "seed", st.sampled_from([None, 1.5, "a", True, [0]]), lambda v: _loader(seed=v)),
    ("Loader", "shuffle", bad_bool(), lambda v: _loader(shuffle=v)),
    ("Loader", "drop_last", bad_bool(), lambda v: _loader(drop_last=v)),
    ("Loader", "rank", st.sampled_from([True, 1.0, -1, None, "0"]), lambda v: _loader(rank=v, world_size=2)),
    ("Loader", "world_size", bad_int(1), lambda v: _loader(world_size=v)),
    ("Loader", "workers", bad_int(0).filter(lambda v: v is not None), lambda v: _loader(workers=v)),
    ("Loader", "device", bad_devices(), lambda v: _loader(device=v)),
    ("Loader", "label", st.sampled_from(["nope", 1, ["y"]]), lambda v: _loader(schema=None, label=v)),
    ("Loader", "schema", st.sampled_from(["x", {"columns": []}, 3]), lambda v: _loader(schema=v)),
    ("to_tensors", "device", bad_devices(), lambda v: _to_tensors(device=v)),
    ("to_tensors", "label", st.sampled_from(["nope", 1, ["y"]]), lambda v: _to_tensors(schema=None, label=v)),
    ("to_tensors", "schema", st.sampled_from(["x", {"columns": []}, 3]), lambda v: _to_tensors(schema=v)),
    ("train", "epochs", bad_int(1), lambda v: _train(epochs=v)),
    ("train", "lr", bad_number(min_value=0, strictly=True), lambda v: _train(lr=v)),
    ("train", "weight_decay", bad_number(min_value=0).filter(lambda v: not (isinstance(v, float) and v == 0)),
     lambda v: _train(weight_decay=v)),
    ("train", "seed", st.sampled_from([None, 1.5, "a", True, 2**70]), lambda v: _train(seed=v)),
    ("train", "optimizer", bad_choice(["adam", "adamw"]), lambda v: _train(optimizer=v)),
    ("train", "early_stopping", st.sampled_from([-1, 1.5, "auc", [2]]), lambda v: _train(early_stopping=v)),
    ("train", "task", bad_choice(["binary", "regression"]).filter(lambda v: v is not None), lambda v: _train(task=v)),
    ("train", "amp", bad_bool().filter(lambda v: v is not None), lambda v: _train(amp=v)),
    ("train", "progress", bad_bool(), lambda v: _train(progress=v)),
    ("train", "checkpoint", st.sampled_from([123, ["ckpt"]]), lambda v: _train(checkpoint=v)),
    ("evaluate", "task", bad_choice(["binary", "regression"]).filter(lambda v: v is not None),
     lambda v: _score("evaluate", task=v)),
    ("evaluate", "amp", bad_bool().filter(lambda v: v is not None), lambda v: _score("evaluate", amp=v)),
    ("predict", "task", bad_choice(["binary", "regression"]).filter(lambda v: v is not None),
     lambda v: _score("predict", task=v)),
    ("TabularMLP", "hidden", st.sampled_from([8, None, (-1,), (0,), (8.5,), "8"]), lambda v: _model("TabularMLP",
                                                                                                   hidden=v)),
    ("TabularMLP", "dropout", st.one_of(bad_number(min_value=0), st.just(1.5)), lambda v: _model("TabularMLP",
                                                                                                dropout=v)),
    ("TabularMLP", "embedding_dim", st.sampled_from([0, -2, 2.5, {"a": 4}, "4"]),
     lambda v: _model("TabularMLP", embedding_dim=v)),
    ("TabularMLP", "task", bad_choice(["binary", "regression"]), lambda v: _model("TabularMLP", task=v)),
    ("TabularMLP", "batchnorm", bad_bool(), lambda v: _model("TabularMLP", batchnorm=v)),
    ("DCNv2", "cross_layers", bad_int(0), lambda v: _model("DCNv2", cross_layers=v)),
    ("DCNv2", "low_rank", st.sampled_from([-1, 0, 2.5, "4"]), lambda v: _model("DCNv2", low_rank=v)),
    ("DCNv2", "structure", bad_choice(["stacked", "parallel"]), lambda v: _model("DCNv2", structure=v)),
    ("baselines.fit", "kind", bad_choice(["logistic", "random_forest", "linear", "ridge"]),
     lambda v: _baseline(kind=v)),
    ("baselines.fit", "seed", st.sampled_from([None, 1.5, "a", True]), lambda v: _baseline(seed=v)),
    ("baselines.fit", "C", st.sampled_from([-1.0, 0.0, "1"]), lambda v: _baseline(C=v)),
    ("baselines.fit", "nonsense", st.just(1), lambda v: _baseline(nonsense=v)),
]


@pytest.mark.parametrize("entry,param,bad,call", TENSOR_PARAMS, ids=[f"{e}.{p}" for e, p, _, _ in TENSOR_PARAMS])
@cfg(6)
@given(data=st.data())
def test_tensor_loader_model_and_training_parameters_are_refused_by_name(entry, param, bad, call, data):
    """gp.Loader, gp.to_tensors, gp.train/evaluate/predict, the models and baselines refuse a wrong argument
    with a gpupipe error naming the parameter (train: before reading a batch); never accept it silently
    (``epochs=2.5`` is not 2 epochs, ``shuffle="no"`` is not True), never a bare torch/sklearn error."""
    value = data.draw(bad, label=f"{entry}.{param}")
    must_refuse(call(value), param)


# ------------------------------------------------------------------------------ readers and writers
def _csv_file(d: str, text: str = "a,b\n1,x\n2,y\n") -> Path:
    p = Path(d) / "f.csv"
    p.write_text(text)
    return p


def _read_csv(**kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        with tempfile.TemporaryDirectory() as d:
            return host(gp.read_csv(_csv_file(d), **kw))
    return run


def _parquet(**kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        args = dict(kw)
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "f.parquet"
            gp.write_parquet(pd.DataFrame({"ab": [1, 2], "b": ["x", "y"]}), p)
            return host(gp.read_parquet(args.pop("path", p), **args))
    return run


def _write(**kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        args = dict(kw)
        with tempfile.TemporaryDirectory() as d:
            path = args.pop("path", Path(d) / "o.parquet")
            if path == "<directory>":
                path = d
            return gp.write_parquet(pd.DataFrame({"a": [1, 2]}), path, **args)
    return run


def _dataset(**kw: Any) -> Callable[[], Any]:
    return lambda: gp.Dataset(_param_frame(), **kw).to_frame()


IO_PARAMS: list[tuple[str, str, st.SearchStrategy[Any], Callable[[Any], Callable[[], Any]]]] = [
    ("read_csv", "sep", st.sampled_from(["||", "", 1, "\\t", ", "]), lambda v: _read_csv(sep=v)),
    ("read_csv", "skip_rows", bad_int(0), lambda v: _read_csv(skip_rows=v)),
    ("read_csv", "header", bad_bool(), lambda v: _read_csv(header=v)),
    ("read_csv", "columns", st.sampled_from(["ab", 3, [1]]), lambda v: _read_csv(columns=v)),
    ("read_csv", "na_values", st.sampled_from(["NA", 3, [None]]), lambda v: _read_csv(na_values=v)),
    ("read_csv", "names", st.sampled_from([[1, 2], "ab", ["a"]]), lambda v: _read_csv(names=v)),
    ("read_csv", "dtype", st.sampled_from([str, "int64", [("a", "int64")]]), lambda v: _read_csv(dtype=v)),
    ("read_parquet", "path", st.sampled_from([None, 123, b"f.parquet", ["f.parquet", 3]]),
     lambda v: _parquet(path=v)),
    ("read_parquet", "columns", st.sampled_from(["ab", 3, [1]]), lambda v: _parquet(columns=v)),
    ("write_parquet", "compression", st.sampled_from(["nope", 3, "SNAPPY!"]), lambda v: _write(compression=v)),
    ("write_parquet", "path", st.sampled_from([None, 123, "<directory>"]), lambda v: _write(path=v)),
    ("Dataset", "partition_rows", bad_int(1).filter(lambda v: v is not None), lambda v: _dataset(partition_rows=v)),
    ("Dataset", "columns", st.sampled_from(["xc", 3, [1]]), lambda v: _dataset(columns=v)),
]


@pytest.mark.parametrize("entry,param,bad,call", IO_PARAMS, ids=[f"{e}.{p}" for e, p, _, _ in IO_PARAMS])
@cfg(6)
@given(data=st.data())
def test_reader_and_writer_parameters_are_refused_by_name(entry, param, bad, call, data):
    """The readers, write_parquet and gp.Dataset refuse a wrong argument with a gpupipe error naming the
    parameter: a multi-character separator, ``header="no"``, a bare string for a list of names (iterated
    letter by letter today), a negative or fractional row count."""
    value = data.draw(bad, label=f"{entry}.{param}")
    must_refuse(call(value), param)


def test_read_csv_dtype_for_a_column_the_file_lacks_is_refused_by_name():
    must_refuse(_read_csv(dtype={"nope": "int64"}), "nope")


# ------------------------------------------------------------------------------ wrong objects
def _wrong_objects() -> st.SearchStrategy[Any]:
    return st.sampled_from([None, 3, 2.5, {"a": [1]}, [1, 2], np.zeros((2, 2)), pa.chunked_array([[1, 2]]),
                            pa.array([1, 2]), pd.Series([1, 2], name="a")])


def _write_to_temp(obj: Any) -> Any:
    """What write_parquet wrote, read back with pyarrow."""
    with tempfile.TemporaryDirectory() as d:
        return pq.read_table(gp.write_parquet(obj, Path(d) / "o.parquet"))


_ENTRY_POINTS = {
    "from_arrow": lambda o: gp.from_arrow(o),
    "from_pandas": lambda o: gp.from_pandas(o),
    "to_arrow": lambda o: gp.to_arrow(o),
    "to_pandas": lambda o: gp.to_pandas(o),
    "write_parquet": lambda o: _write_to_temp(o),
    "Workflow.fit": lambda o: gp.Workflow(["a"]).fit(o),
    "to_tensors": lambda o: gp.to_tensors(o),
    "Loader": lambda o: gp.Loader(o),
    "Dataset": lambda o: gp.Dataset(o),
    "baselines.fit": lambda o: gp.baselines.fit(o, _model_frame()[1]),
    "predict": lambda o: gp.predict(o, gp.Loader(_model_frame()[0], shuffle=False, schema=_model_frame()[1])),
    "train(loader=)": lambda o: gp.train(gp.models.TabularMLP.from_schema(_model_frame()[1]), o, progress=False),
    "JoinExternal(frame=)": lambda o: gp.Workflow(["a"] >> ops.JoinExternal(o, on="a")).fit(pd.DataFrame({"a": [1]})),
}


#: the (entry, type) pairs that take the object and what they must give for it; every other pair is refused
_ACCEPTED = {
    ("to_arrow", "Series"): lambda o, got: got.column_names == ["a"] and got.column("a").to_pylist() == o.tolist(),
    ("write_parquet", "Series"): lambda o, got: got.column_names == ["a"] and got.column("a").to_pylist() == o.tolist(),
    ("to_pandas", "Series"): lambda o, got: got is o,  # host objects pass through unchanged
    ("to_pandas", "ndarray"): lambda o, got: got is o,
}


@pytest.mark.parametrize("entry", sorted(_ENTRY_POINTS))
@cfg(9)
@given(obj=_wrong_objects())
def test_entry_points_name_the_wrong_object_they_were_given(entry, obj):
    """Each public function given something that is not what it takes (None, a number, a dict, a NumPy array,
    an Arrow array, a Series) raises a gpupipe error naming the type it got, or, for the few pairs that take
    it (a named Series written as a one-column table), returns the right thing; never an AttributeError or
    ArrowInvalid from inside."""
    kind = "None" if obj is None else type(obj).__name__
    check = _ACCEPTED.get((entry, kind))
    if check is None:
        must_refuse(lambda: _ENTRY_POINTS[entry](obj), kind)
    else:
        got = outcome(lambda: _ENTRY_POINTS[entry](obj), refusal_ok=False)
        assert check(obj, got), f"{entry}({kind}) gave {str(got)[:200]}"


_OP_CLASSES = ["Categorify", "Normalize", "NormalizeMinMax", "FillMissing", "FillMedian", "Clip", "LogOp",
               "HashBucket", "Bucketize", "DateParts", "Dropna", "TargetEncoding", "JoinGroupby", "JoinExternal",
               "Filter", "Rename", "LambdaOp"]


@cfg(20)
@given(cls=st.sampled_from(_OP_CLASSES), how=st.sampled_from(["list", "str", "node", "chain"]))
@example(cls="Normalize", how="list")
def test_an_op_class_instead_of_an_instance_is_named(cls, how):
    """``["x"] >> ops.Normalize`` (the class), ``"x" >> ops.Normalize``, or ``ops.FillMissing() >> ops.Normalize()``
    with no selection: a gpupipe error naming the op and the fix (``Normalize()``), not Python's bare
    "unsupported operand" TypeError."""
    klass = getattr(ops, cls)
    build = {"list": lambda: ["x"] >> klass, "str": lambda: "x" >> klass,
             "node": lambda: ["x"] >> ops.Dropna() >> klass, "chain": lambda: ops.Dropna() >> ops.Dropna()}[how]
    must_refuse(build, cls if how != "chain" else "Dropna")


_LAMBDA_OUTPUTS = {
    "text": lambda s: "k" + s.astype(str),
    "datetime": lambda s: pd.to_datetime(s.fillna(0), unit="D"),
    "timedelta": lambda s: pd.to_timedelta(s, unit="s"),
    "complex": lambda s: s * 1j,
    "permuted index": lambda s: s.sort_values(),
    "frame": lambda s: s.to_frame(),
    "shorter": lambda s: s.iloc[:2],
    "object numbers": lambda s: s.astype(object),
    "list": lambda s: list(s * 2),
}


@cfg(20)
@given(kind=st.sampled_from(sorted(_LAMBDA_OUTPUTS)), name=names())
@example(kind="text", name="x")
def test_lambda_op_outputs_are_numbers_aligned_with_their_rows_or_refused(kind, name):
    """A LambdaOp whose function returns text, datetimes, complex numbers, a frame, too few rows, or a series
    with its rows permuted (aligned by index, as pandas assigns) gives the right numbers for each row or a
    gpupipe error naming the column; never a bare ValueError, never silently moved rows or dropped parts."""
    x = pd.Series([3.0, 1.0, np.nan, 2.0])
    df = pd.DataFrame({name: x})
    fn = _LAMBDA_OUTPUTS[kind]
    wf = gp.Workflow([name] >> ops.LambdaOp(fn))
    try:
        out = outcome(lambda: wf.fit_transform(df), name)
    except Refused:
        return
    want = fn(x)
    if isinstance(want, pd.Series):
        want = want.reindex(x.index)
    want_values = np.asarray(want, dtype=object)
    assert all(isinstance(v, (int, float, np.integer, np.floating, bool, np.bool_)) or v is None or v is pd.NA
               for v in want_values), f"{kind}: non-numeric output accepted as a continuous column"
    assert_close(host(out)[name].to_numpy(np.float64), np.asarray(pd.to_numeric(pd.Series(want_values)), np.float64),
                 f"LambdaOp returning {kind}")


# ------------------------------------------------------------------------------ the CLI
def _cli_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    afile = tmp / "afile"
    afile.write_text("x")
    cases = {
        "--out is a file": (["--out", str(afile)], "--out"),
        "--out under a file": (["--out", str(afile / "sub")], "--out"),
        "--baseline unknown": (["--baseline", "xgboost"], "--baseline"),
        "--baseline empty": (["--baseline", ""], "--baseline"),
        "--seed negative": (["--seed", "-1"], "--seed"),
    }
    foreign = tmp / "holds_other_things"
    (foreign / "model").mkdir(parents=True)
    (foreign / "model" / "mine.txt").write_text("keep")
    cases["--out holds other files where the model goes"] = (["--out", str(foreign)], "--out")
    if _no_cuda():
        cases["--backend hybrid without CUDA"] = (["--backend", "hybrid"], "hybrid")
    return cases


_CLI_CASE_NAMES = ["--out is a file", "--out under a file", "--baseline unknown", "--baseline empty",
                   "--seed negative", "--out holds other files where the model goes", "--backend hybrid without CUDA"]


@pytest.mark.parametrize("case", _CLI_CASE_NAMES)
@pytest.mark.parametrize("pipeline", ["flights-delay", "criteo-ctr"])
def test_cli_run_checks_its_arguments_before_the_pipeline_runs(case, pipeline, tmp_path, monkeypatch, capsys):
    """``gpupipe run`` with a bad --out, --baseline, --seed or a backend this machine lacks exits with status
    2 and one ``gpupipe: error:`` line naming the option, before any data is read (here: the pipeline's run
    is replaced by a stand-in that records being called)."""
    import importlib

    from gpupipe.cli import main
    from pipelines import PIPELINES

    cases = _cli_cases(tmp_path)
    if case not in cases:
        pytest.skip("this machine has a CUDA device, so hybrid is a valid backend here")
    args, culprit = cases[case]
    module = importlib.import_module(PIPELINES[pipeline])
    calls: list[dict[str, Any]] = []

    def stand_in(**kw: Any) -> Any:
        calls.append(kw)
        raise SystemExit(99)  # the real pipeline would run here for seconds to minutes

    monkeypatch.setattr(module, "run", stand_in)
    try:
        code = main(["run", pipeline, "--no-progress", *args])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert not calls, f"{case}: the pipeline started before the arguments were checked"
    assert code == 2, f"{case}: exit status {code}"
    assert "gpupipe: error:" in err and culprit in err, f"{case}: {err!r}"
