#!/usr/bin/env python
"""The Criteo workflow of scripts/bench_criteo_workflow.py written the way a Polars user writes it.

One process: read the parquet file, fit, transform; prints one JSON line with per-stage wall, user
and system seconds, minor page faults and the peak RSS.

* counts I1..I13: ``fill_null(0).clip(lower_bound=0).log1p()``, then ``(x - mean) / std`` with the
  population std (``std(ddof=0)``; a std of 0 counts as 1), float32 out: gpupipe's
  ``FillMissing(0) >> Clip(lower=0) >> LogOp() >> Normalize()``;
* ids C1..C26: ``group_by(c).len()`` without the null group, sorted by count (descending) then value
  (ascending): the vocabulary; ``replace_strict`` to ids 3.. (0 padding, 1 null, 2 out of vocabulary),
  Int64: gpupipe's ``Categorify()`` layout;
* the label as float32.

``--lazy`` fits the moments and all 26 vocabularies in one ``pl.collect_all`` over lazy queries
(what a performance-minded Polars user writes; faster on 2 cores); the default fits them with eager
calls. ``--dump DIR`` writes each output column as ``DIR/<name>.npy`` (compared with gpupipe's by
``scripts/bench_criteo_vs_polars.py``).

    python scripts/bench_criteo_polars.py PATH [--lazy] [--dump DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

COUNTS = [f"I{i}" for i in range(1, 14)]
IDS = [f"C{j}" for j in range(1, 27)]
NULL_ID, OOV_ID, FIRST_ID = 1, 2, 3


class Stages:
    """Wall, user, system seconds and minor faults of each stage (getrusage deltas)."""

    def __init__(self) -> None:
        self.out: dict[str, dict[str, float]] = {}
        self._mark()

    def _mark(self) -> None:
        self.t = time.perf_counter()
        self.r = resource.getrusage(resource.RUSAGE_SELF)

    def done(self, name: str) -> None:
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.out[name] = {"wall": time.perf_counter() - self.t, "user": r.ru_utime - self.r.ru_utime,
                          "sys": r.ru_stime - self.r.ru_stime, "minflt": r.ru_minflt - self.r.ru_minflt}
        self._mark()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--lazy", action="store_true", help="fit in one pl.collect_all over lazy queries")
    ap.add_argument("--dump", default=None, help="write each output column as DIR/<name>.npy")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    st = Stages()
    import polars as pl

    st.done("import")
    df = pl.read_parquet(args.path)
    st.done("read")

    def prep(c: str) -> pl.Expr:
        return pl.col(c).fill_null(0).clip(lower_bound=0).log1p()

    moment_exprs = ([prep(c).mean().alias(f"{c}_mean") for c in COUNTS]
                    + [prep(c).std(ddof=0).alias(f"{c}_std") for c in COUNTS])

    def vocabulary(frame: pl.DataFrame | pl.LazyFrame, c: str) -> pl.DataFrame | pl.LazyFrame:
        return frame.group_by(c).len().drop_nulls(c).sort(["len", c], descending=[True, False])

    if args.lazy:
        lf = df.lazy()
        results = pl.collect_all([lf.select(moment_exprs)] + [vocabulary(lf, c) for c in IDS])
        moments = results[0].row(0, named=True)
        vocab = {c: r[c] for c, r in zip(IDS, results[1:], strict=True)}
    else:
        moments = df.select(moment_exprs).row(0, named=True)
        vocab = {c: vocabulary(df, c)[c] for c in IDS}
    means = {c: moments[f"{c}_mean"] for c in COUNTS}
    stds = {c: (moments[f"{c}_std"] or 1.0) for c in COUNTS}  # a std of 0 counts as 1, as in gpupipe
    st.done("fit")

    def encode(c: str) -> pl.Expr:
        values = vocab[c]
        ids = pl.int_range(FIRST_ID, FIRST_ID + len(values), dtype=pl.Int64, eager=True)
        looked_up = pl.col(c).replace_strict(values, ids, default=OOV_ID, return_dtype=pl.Int64)
        return pl.when(pl.col(c).is_null()).then(NULL_ID).otherwise(looked_up).alias(c)

    out = df.select(
        [((prep(c) - means[c]) / stds[c]).cast(pl.Float32).alias(c) for c in COUNTS]
        + [encode(c) for c in IDS]
        + [pl.col("label").cast(pl.Float32)]
    )
    st.done("transform")
    res = {"engine": f"polars {pl.__version__}" + (" (lazy fit)" if args.lazy else ""), "stages": st.out,
           "total_wall": time.perf_counter() - t_start,
           "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "rows": out.height}
    if args.dump:
        import numpy as np

        os.makedirs(args.dump, exist_ok=True)
        for c in out.columns:
            np.save(os.path.join(args.dump, f"{c}.npy"), out[c].to_numpy())
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
