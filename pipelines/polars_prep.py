"""The ready pipelines' data preparation written the way a Polars user would write it.

``gpupipe bench``'s ``polars`` entry (and ``polars-gpu``, the same queries collected with
``engine="gpu"``) times this code where the other entries run a gpupipe Workflow. It reads the same
data, applies the same split and computes the same features with Polars expressions on lazy frames,
collected with the engine given: the split frames in ``read``; in ``fit`` the joined training frame
(read by both the statistics and the transform), every statistic in one :func:`polars.collect_all`
call, then the training features; in ``transform`` the validation features. Its output is checked
equal to the gpupipe Workflow's before anything is timed (:func:`pipelines._polars_bench.verify`).

What each gpupipe op becomes:

* ``JoinExternal``: ``LazyFrame.join(how="left", maintain_order="left")``; weather de-duplicated with
  ``unique(keep="first", maintain_order=True)``;
* ``FillMissing`` / ``FillMedian``: ``fill_null(value)`` / ``fill_null(median)`` (Polars' median is
  the mean of the two middle values for an even count, as gpupipe's);
* ``Clip`` / ``LogOp``: ``clip(lower_bound=0)`` / ``log1p()``;
* ``Normalize``: ``(x - mean) / std`` with ``std(ddof=0)`` (population), a zero std taken as 1, cast
  to Float32;
* ``DateParts``: ``dt.month()``, ``dt.weekday() - 1`` (Monday = 0), ``dt.hour()``;
* ``Categorify``: ``group_by(c).len()`` without the null group, rare values dropped
  (``freq_threshold``), sorted by descending count then ascending value; ids by ``replace_strict``
  with gpupipe's layout: 0 padding (never produced), 1 null, 2 out of vocabulary, the vocabulary
  from 3;
* ``JoinGroupby(stats=("mean",))``: ``group_by(keys).agg(mean)`` joined back, unseen or null keys 0;
* ``TargetEncoding``: smoothed means ``(sum + smoothing * prior) / (count + smoothing)`` from
  ``group_by`` tables for new data; on the training rows out of fold, with gpupipe's folds
  (MurmurHash3_x86_32 of the row number, modulo ``kfold``, written as Polars integer expressions)
  and the per-category, per-fold sums as window expressions (``sum().over([c, fold])``).

Examples
--------
>>> from pipelines import polars_prep                                 # doctest: +SKIP
>>> prep = polars_prep.prepare("criteo-ctr", rows=20_000, seed=0)     # doctest: +SKIP
>>> prep.train.width == len(prep.schema)                              # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    import gpupipe as gp

__all__ = ["ENGINES", "Prepared", "collect_engine", "murmur3_int64", "prepare"]

#: Engines :func:`prepare` takes: Polars' default CPU engine, or the GPU engine of cudf-polars.
ENGINES = ("cpu", "gpu")

NULL_ID, OOV_ID, FIRST_ID = 1, 2, 3

_C1, _C2 = 0xCC9E2D51, 0x1B873593
_MASK = 0xFFFFFFFF


@dataclass
class Prepared:
    """Model-ready frames from :func:`prepare`: the same columns, in the same order, as the Workflow's output."""

    train: pl.DataFrame
    val: pl.DataFrame
    schema: gp.Schema
    #: the fitted statistics (vocabularies, means, tables), for inspection
    fitted: dict[str, Any] = field(default_factory=dict)


def collect_engine(engine: str) -> Any:
    """What ``collect(engine=...)`` gets: Polars' default engine, or a GPU engine that raises rather than
    falling back to the CPU (so a ``polars-gpu`` timing is never silently a CPU one)."""
    if engine == "cpu":
        return "auto"
    if engine == "gpu":
        import polars as pl

        return pl.GPUEngine(raise_on_fail=True)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


@contextlib.contextmanager
def _stage(timer: Any, name: str) -> Iterator[None]:
    if timer is None:
        yield
    else:
        with timer.stage(name):
            yield


def prepare(pipeline: str, rows: int | None = None, seed: int = 0, *, engine: str = "cpu",
            timer: Any = None) -> Prepared:
    """Read, split and feature-engineer ``pipeline``'s data with Polars.

    Parameters
    ----------
    pipeline : {"flights-delay", "criteo-ctr"}
    rows, seed : as the pipeline's ``run``
        ``rows=None`` is the pipeline's default data (the real flights; 500,000 Criteo rows).
    engine : {"cpu", "gpu"}
        ``gpu`` collects every query with cudf-polars' GPU engine (``raise_on_fail=True``).
    timer : gpupipe.bench.StageTimer, optional
        Charged with ``read`` (data in, label, split: two DataFrames), ``fit`` (joins, statistics,
        training frame transformed) and ``transform`` (the validation frame).

    Returns
    -------
    Prepared
    """
    eng = collect_engine(engine)
    if pipeline == "flights-delay":
        return _flights(rows, seed, eng, timer)
    if pipeline == "criteo-ctr":
        from .criteo_ctr import DEFAULT_ROWS

        return _criteo(DEFAULT_ROWS if rows is None else int(rows), seed, eng, timer)
    raise ValueError(f"unknown pipeline {pipeline!r}; choose from ['criteo-ctr', 'flights-delay']")


# -- building blocks ---------------------------------------------------------------------------------
def murmur3_int64(x: pl.Expr, seed: int = 0) -> pl.Expr:
    """MurmurHash3_x86_32 of each non-negative integer's 8 little-endian bytes, as a Polars expression (UInt64
    holding the 32-bit hash): the hash gpupipe's TargetEncoding folds rows by (``murmur3(row, seed) % kfold``).

    Polars has no bit shifts or wrapping 32-bit multiplies, so both are spelt out on UInt64: a 32-bit value
    times a 32-bit constant fits in 64 bits and is masked back to 32; ``rotl(v, r)`` is
    ``(v * 2**r) & mask | v // 2**(32 - r)``.

    Examples
    --------
    >>> import polars as pl
    >>> pl.select(murmur3_int64(pl.lit(pl.Series([10, 120, 30])))).to_series().to_list()
    [4004982076, 2063150778, 699010651]
    """
    import polars as pl

    def u(v: int) -> pl.Expr:
        return pl.lit(v, dtype=pl.UInt64)

    def mul(a: pl.Expr, c: int) -> pl.Expr:
        return (a * u(c)) & u(_MASK)

    def rotl(a: pl.Expr, r: int) -> pl.Expr:
        return ((a * u(1 << r)) & u(_MASK)) | (a // u(1 << (32 - r)))

    def mix(h: pl.Expr, k: pl.Expr) -> pl.Expr:
        k = mul(rotl(mul(k, _C1), 15), _C2)
        h = rotl(h ^ k, 13)
        return (h * u(5) + u(0xE6546B64)) & u(_MASK)

    v = x.cast(pl.UInt64)
    h = mix(mix(u(seed & _MASK), v & u(_MASK)), v // u(1 << 32))
    h = h ^ u(8)
    h = mul(h ^ (h // u(1 << 16)), 0x85EBCA6B)
    h = mul(h ^ (h // u(1 << 13)), 0xC2B2AE35)
    return h ^ (h // u(1 << 16))


def _vocab_query(lf: pl.LazyFrame, column: str | pl.Expr, name: str, threshold: int) -> pl.LazyFrame:
    """Values of ``column`` by descending count, ties by ascending value; nulls and values seen fewer than
    ``threshold`` times left out."""
    import polars as pl

    counts = lf.select(column.alias(name) if isinstance(column, pl.Expr) else pl.col(column)).group_by(name).len()
    counts = counts.drop_nulls(name)
    if threshold > 0:
        counts = counts.filter(pl.col("len") >= threshold)
    return counts.sort(["len", name], descending=[True, False])


def _encode(expr: pl.Expr, values: pl.Series, name: str) -> pl.Expr:
    """Categorify ids: 1 for null, 2 out of vocabulary, the vocabulary from 3 in its order."""
    import polars as pl

    ids = pl.int_range(FIRST_ID, FIRST_ID + len(values), dtype=pl.Int64, eager=True)
    looked_up = expr.replace_strict(values, ids, default=OOV_ID, return_dtype=pl.Int64)
    return pl.when(expr.is_null()).then(pl.lit(NULL_ID, dtype=pl.Int64)).otherwise(looked_up).alias(name)


def _standardize(expr: pl.Expr, mean: float, std: float, name: str) -> pl.Expr:
    import polars as pl

    return ((expr - mean) / std).cast(pl.Float32).alias(name)


def _moments(expr: pl.Expr, name: str) -> list[pl.Expr]:
    return [expr.mean().alias(f"{name}__mean"), expr.std(ddof=0).alias(f"{name}__std")]


def _mean_std(stats: dict[str, Any], name: str) -> tuple[float, float]:
    """Normalize's statistics: a zero (or undefined) std is 1, an all-null column has mean 0."""
    mean, std = stats[f"{name}__mean"], stats[f"{name}__std"]
    return (0.0 if mean is None else float(mean)), (float(std) if std else 1.0)


def _schema(cont: list[str], cats: dict[str, int], label: str) -> gp.Schema:
    from gpupipe.schema import ColumnSchema, Schema

    return Schema([*(ColumnSchema(c, "cont", "float32") for c in cont),
                   *(ColumnSchema(c, "cat", "int64", FIRST_ID + n) for c, n in cats.items()),
                   ColumnSchema(label, "label", "float32")])


# -- flights-delay -----------------------------------------------------------------------------------
def _flights_columns() -> dict[str, Any]:
    from . import flights_delay as fd

    return {"weather": list(fd.WEATHER), "plane": list(fd.PLANE), "dest": list(fd.DEST),
            "schedule": list(fd.SCHEDULE), "cats": [*fd.CATS, "tailnum"], "label": fd.LABEL}


#: flights columns the pipeline reads (the scan reads no other)
_FLIGHTS_USED = ("year", "month", "day", "hour", "origin", "dest", "carrier", "flight", "tailnum", "distance",
                 "sched_dep_time", "sched_arr_time", "arr_delay", "time_hour")
_WEATHER_KEYS = ["origin", "year", "month", "day", "hour"]
_TE = {"columns": ["tailnum", "dest", "flight"], "kfold": 5, "smoothing": 20.0}
_GROUPS = [["carrier", "hour"], ["origin", "dest"]]
_DATE_PARTS = ("month", "dow", "hour")
_FREQ_THRESHOLD = 3  # flights_delay.workflow's Categorify(freq_threshold=3)


def _resampled(lf: pl.LazyFrame, rows: int, seed: int, jitter: float = 0.05) -> pl.LazyFrame:
    """The rows of ``gp.datasets.flights_scaled(rows, seed, joined=False)``: the same draws from the same
    generator (rows with replacement, then Gaussian noise of ``jitter`` times each column's std on the
    delays and air time, integers rounded half to even, clipped to the column's range, a value at either end
    of it kept), applied with Polars."""
    import numpy as np
    import polars as pl

    import gpupipe as gp

    n = lf.select(pl.len()).collect().item()
    jittered = [c for c in gp.datasets.SCALED_JITTER if c in lf.collect_schema().names()]
    stats = lf.select(pl.col(jittered).std().name.suffix("__std"), pl.col(jittered).min().name.suffix("__min"),
                      pl.col(jittered).max().name.suffix("__max")).collect().row(0, named=True)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=int(rows))
    out = lf.select(pl.all().gather(pl.Series(idx)))
    dtypes = lf.collect_schema()
    for c in jittered:
        std = stats[f"{c}__std"]
        if std is None or not np.isfinite(std) or std == 0 or jitter <= 0:
            continue
        noise = rng.normal(0.0, jitter * std, size=int(rows))
        if c not in _FLIGHTS_USED:
            continue  # drawn all the same: the next column's noise comes after it
        value = pl.col(c).cast(pl.Float64) + pl.lit(pl.Series(noise))
        if dtypes[c].is_integer():
            value = value.round(0, mode="half_to_even")
        lo, hi = float(stats[f"{c}__min"]), float(stats[f"{c}__max"])
        at_end = (pl.col(c) == lo) | (pl.col(c) == hi)
        value = pl.when(at_end).then(pl.col(c).cast(pl.Float64)).otherwise(value.clip(lo, hi))
        out = out.with_columns(value.cast(dtypes[c]).alias(c))
    return out


def _flights(rows: int | None, seed: int, engine: Any, timer: Any) -> Prepared:
    import polars as pl

    import gpupipe as gp

    from ._split import validation_days

    cols = _flights_columns()
    label = cols["label"]
    with _stage(timer, "read"):
        flights = pl.scan_parquet(gp.datasets.flights_parquet("flights"))
        if rows is not None:
            flights = _resampled(flights, rows, seed)
        flights = (flights.select(_FLIGHTS_USED)
                   .filter(pl.col("arr_delay").is_not_null())  # cancelled or diverted: no arrival, no label
                   .with_columns((pl.col("arr_delay") > 15).cast(pl.Float32).alias(label)))
        is_val = (pl.col("month") * 100 + pl.col("day")).is_in(list(validation_days(seed)))
        weather = (pl.scan_parquet(gp.datasets.flights_parquet("weather")).select([*_WEATHER_KEYS, *cols["weather"]])
                   .unique(subset=_WEATHER_KEYS, keep="first", maintain_order=True))
        planes = (pl.scan_parquet(gp.datasets.flights_parquet("planes"))
                  .select("tailnum", pl.col("year").alias("plane_year"), pl.col("seats").alias("plane_seats"),
                          pl.col("engines").alias("plane_engines"), pl.col("manufacturer").alias("plane_manufacturer"),
                          pl.col("model").alias("plane_model"), pl.col("engine").alias("plane_engine")))
        airports = (pl.scan_parquet(gp.datasets.flights_parquet("airports"))
                    .select(pl.col("faa").alias("dest"), pl.col("lat").alias("dest_lat"),
                            pl.col("lon").alias("dest_lon"), pl.col("alt").alias("dest_alt")))
        train, val, weather, planes, airports = pl.collect_all(
            [flights.filter(~is_val), flights.filter(is_val), weather, planes, airports], engine=engine)

    def joined(frame: pl.DataFrame) -> pl.LazyFrame:
        lf = frame.lazy().with_row_index("_row")
        for ext, on in ((weather, _WEATHER_KEYS), (planes, ["tailnum"]), (airports, ["dest"])):
            lf = lf.join(ext.lazy(), on=on, how="left", maintain_order="left", nulls_equal=True)
        return lf

    numeric = [*cols["weather"], *cols["plane"], *cols["dest"]]
    y = pl.col(label).cast(pl.Float64)
    parts = {"month": pl.col("time_hour").dt.month(), "dow": pl.col("time_hour").dt.weekday() - 1,
             "hour": pl.col("time_hour").dt.hour()}
    part_names = {f"time_hour_{p}": parts[p] for p in _DATE_PARTS}

    with _stage(timer, "fit"):
        lf = joined(train).collect(engine=engine).lazy()  # joined once: the statistics and the transform read it
        filled = {c: pl.col(c).cast(pl.Float64).fill_null(pl.col(c).cast(pl.Float64).median()) for c in numeric}
        stat_exprs = [pl.col(c).cast(pl.Float64).median().alias(f"{c}__median") for c in numeric]
        stat_exprs += [e for c in numeric for e in _moments(filled[c], c)]
        stat_exprs += _moments(pl.col("distance").log1p(), "distance")
        stat_exprs += [e for c in cols["schedule"] for e in _moments(pl.col(c).fill_null(0).cast(pl.Float64), c)]
        stat_exprs += [y.sum().alias("__sum"), pl.len().alias("__n")]
        queries = [lf.select(stat_exprs)]
        queries += [_vocab_query(lf, e, name, 0) for name, e in part_names.items()]
        queries += [_vocab_query(lf, c, c, _FREQ_THRESHOLD) for c in cols["cats"]]
        queries += [lf.group_by(c).agg(y.sum().alias("__s"), pl.len().alias("__n")).drop_nulls(c)
                    for c in _TE["columns"]]
        queries += [lf.group_by(keys).agg(y.mean().alias(f"{'_'.join(keys)}_{label}_mean")) for keys in _GROUPS]
        results = pl.collect_all(queries, engine=engine)
        stats = results[0].row(0, named=True)
        k = 1
        vocab = {}
        for name in [*part_names, *cols["cats"]]:
            vocab[name] = results[k][name]
            k += 1
        te_tables = dict(zip(_TE["columns"], results[k:k + len(_TE["columns"])], strict=True))
        k += len(_TE["columns"])
        group_tables = results[k:]
        prior = stats["__sum"] / stats["__n"]
        fitted = {"stats": stats, "vocab": vocab, "te": te_tables, "groups": group_tables, "prior": prior}

        def features(lf: pl.LazyFrame, out_of_fold: bool) -> pl.LazyFrame:
            sm = _TE["smoothing"]
            te: list[pl.Expr] = []
            if out_of_fold:
                kf = _TE["kfold"]
                lf = lf.with_columns((murmur3_int64(pl.col("_row"), seed) % kf).alias("_fold"))
                # prior of the other folds (the fold holding every row falls back to the full prior)
                rest_n = pl.len() - pl.len().over("_fold")
                rest_prior = pl.when(rest_n > 0).then((y.sum() - y.sum().over("_fold")) / rest_n).otherwise(prior)
                for c in _TE["columns"]:
                    seen = pl.col(c).is_not_null()
                    s = pl.when(seen).then(y.sum().over(c) - y.sum().over([c, "_fold"])).otherwise(0.0)
                    n = pl.when(seen).then(pl.len().over(c) - pl.len().over([c, "_fold"])).otherwise(0)
                    te.append(((s + sm * rest_prior) / (n + sm)).cast(pl.Float32).alias(f"TE_{c}_{label}"))
            else:
                for c in _TE["columns"]:
                    table = te_tables[c].rename({"__s": f"__s_{c}", "__n": f"__n_{c}"})
                    lf = lf.join(table.lazy(), on=c, how="left", maintain_order="left")
                    s = pl.col(f"__s_{c}").fill_null(0.0)
                    n = pl.col(f"__n_{c}").fill_null(0)
                    te.append(((s + sm * prior) / (n + sm)).cast(pl.Float32).alias(f"TE_{c}_{label}"))
            for keys, table in zip(_GROUPS, group_tables, strict=True):
                lf = lf.join(table.lazy(), on=keys, how="left", maintain_order="left")
            group = [pl.col(f"{'_'.join(keys)}_{label}_mean").fill_null(0.0).cast(pl.Float32) for keys in _GROUPS]
            cont = [_standardize(pl.col(c).cast(pl.Float64).fill_null(stats[f"{c}__median"]), *_mean_std(stats, c), c)
                    for c in numeric]
            cont.append(_standardize(pl.col("distance").log1p(), *_mean_std(stats, "distance"), "distance"))
            cont += [_standardize(pl.col(c).fill_null(0).cast(pl.Float64), *_mean_std(stats, c), c)
                     for c in cols["schedule"]]
            ids = [_encode(e, vocab[name], name) for name, e in part_names.items()]
            ids += [_encode(pl.col(c), vocab[c], c) for c in cols["cats"]]
            return lf.select([*te, *group, *cont, *ids, pl.col(label)])

        train_out = features(lf, out_of_fold=True).collect(engine=engine)
    with _stage(timer, "transform"):
        val_out = features(joined(val), out_of_fold=False).collect(engine=engine)
    cont_names = [f"TE_{c}_{label}" for c in _TE["columns"]] + [f"{'_'.join(k)}_{label}_mean" for k in _GROUPS]
    cont_names += [*numeric, "distance", *cols["schedule"]]
    schema = _schema(cont_names, {name: len(vocab[name]) for name in [*part_names, *cols["cats"]]}, label)
    return Prepared(train_out, val_out, schema, fitted)


# -- criteo-ctr --------------------------------------------------------------------------------------
_CRITEO_FREQ_THRESHOLD = 10  # criteo_ctr.run's default: rarer ids fold into the out-of-vocabulary id


def _criteo(rows: int, seed: int, engine: Any, timer: Any) -> Prepared:
    import numpy as np
    import polars as pl

    from gpupipe.datasets.synthetic import criteo_arrow

    from .criteo_ctr import COUNTS, IDS, VAL_FRACTION

    with _stage(timer, "read"):
        frame = pl.from_arrow(criteo_arrow(rows, seed=seed))
        is_val = pl.Series(np.random.default_rng([seed, 99]).random(rows) < VAL_FRACTION)
        train, val = pl.collect_all([frame.lazy().filter(~is_val), frame.lazy().filter(is_val)], engine=engine)

    def prep(c: str) -> pl.Expr:
        return pl.col(c).fill_null(0).clip(lower_bound=0).log1p()

    with _stage(timer, "fit"):
        lf = train.lazy()
        queries = [lf.select([e for c in COUNTS for e in _moments(prep(c), c)])]
        queries += [_vocab_query(lf, c, c, _CRITEO_FREQ_THRESHOLD) for c in IDS]
        results = pl.collect_all(queries, engine=engine)
        stats = results[0].row(0, named=True)
        vocab = {c: r[c] for c, r in zip(IDS, results[1:], strict=True)}

        def features(lf: pl.LazyFrame) -> pl.LazyFrame:
            return lf.select([_standardize(prep(c), *_mean_std(stats, c), c) for c in COUNTS]
                             + [_encode(pl.col(c), vocab[c], c) for c in IDS]
                             + [pl.col("label").cast(pl.Float32)])

        train_out = features(lf).collect(engine=engine)
    with _stage(timer, "transform"):
        val_out = features(val.lazy()).collect(engine=engine)
    schema = _schema(list(COUNTS), {c: len(vocab[c]) for c in IDS}, "label")
    return Prepared(train_out, val_out, schema, {"stats": stats, "vocab": vocab})
