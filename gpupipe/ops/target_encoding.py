"""TargetEncoding: replace a category by a smoothed mean of the target over its rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from ..backend import array_namespace
from ..backend import frame as F
from ..errors import DataError, SchemaError
from .base import ColumnInfo, StatOp, register_op

__all__ = ["TargetEncoding"]

_KINDS = ("int", "bool", "str")


@register_op
class TargetEncoding(StatOp):
    """Encode each category by the smoothed mean of ``target`` over the rows holding it.

    For a category with ``count`` rows whose targets sum to ``sum_y``::

        encoded = (sum_y + smoothing * prior) / (count + smoothing),   prior = mean of the target

    which is scikit-learn's ``TargetEncoder(smooth=smoothing)`` formula. Categories unseen at fit
    and null categories get ``prior``; so does every row of a column that arrives all missing at
    transform, in whatever dtype (it carries no kind). Otherwise a column must hold the kind of
    values it was fitted on (int, bool or str): another kind is a
    :class:`~gpupipe.errors.SchemaError` naming both, since every row would be unseen. Integer
    categories are matched exactly, whatever their width and signedness at fit and at transform.

    * ``transform`` (new data) uses the statistics of the whole fit data.
    * ``fit_transform`` (training data) returns *out-of-fold* encodings so that no row sees its own
      target: row ``i`` is in fold ``murmur3(i, seed) % kfold`` (``i`` its position in the frame;
      the same folds on every backend), and is encoded with the sums, counts and prior of the
      rows of the other folds. ``kfold=1`` turns this off (``fit_transform == fit + transform``).

    Output: one float32 ``cont`` column ``TE_<column>_<target>`` per selected column; the inputs
    are kept. The statistics are per-partition sums and counts, so a ``gp.Dataset`` fit equals the
    in-memory fit (integer categories are combined exactly, also where some partitions hold values
    above 2**63 - 1 and others not).

    Parameters
    ----------
    target : str
        The target column (numeric or boolean, no nulls/NaN/inf).
    kfold : int, default 5
        Number of folds for ``fit_transform``'s out-of-fold encodings (>= 1).
    smoothing : float, default 20
        Weight of the prior, in rows (>= 0; ``inf`` encodes every category to the prior).
    seed : int, default 0
        Seed of the fold assignment.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe.ops import TargetEncoding
    >>> df = pd.DataFrame({"c": ["a", "a", "b", "b"], "y": [1, 1, 0, 1]})
    >>> te = TargetEncoding("y", smoothing=1).fit(df, ["c"])
    >>> [round(float(v), 4) for v in te.transform(df, ["c"])["TE_c_y"]]
    [0.9167, 0.9167, 0.5833, 0.5833]
    """

    #: the workflow runs fit_transform (out-of-fold) on training frames, not fit + transform
    fit_transform_differs: ClassVar[bool] = True

    def __init__(self, target: str, kfold: int = 5, smoothing: float = 20, seed: int = 0) -> None:
        self.target = target
        self.kfold = kfold
        self.smoothing = smoothing
        self.seed = seed

    # -- columns ---------------------------------------------------------------------------
    def _name(self, column: str) -> str:
        return f"TE_{column}_{self.target}"

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        return [self._name(c) for c in columns]

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {self._name(c): ColumnInfo("float32", "cont") for c in columns}

    def required_columns(self, columns: Sequence[str]) -> list[str]:
        return [self.target]

    def _check_params(self) -> None:
        from .. import _validate as V

        V.string(self.target, "target", "TargetEncoding", empty_ok=False)
        self.kfold = V.integer(self.kfold, "kfold", "TargetEncoding", min_value=1)
        # smoothing=inf is the formula's limit: every category encodes to the prior
        self.smoothing = V.number(self.smoothing, "smoothing", "TargetEncoding", min_value=0, finite=False)
        self.seed = V.seed(self.seed, "TargetEncoding")

    def _check(self, frame: Any, columns: Sequence[str]) -> Any:
        """The fit data, its columns and target checked and in their canonical dtypes."""
        self._check_params()
        if self.target not in frame.columns:
            msg = (f"TargetEncoding: target column {self.target!r} not found in the data; it has "
                   f"{list(frame.columns)[:30]}. Keep the target in the data you fit on")
            raise SchemaError(msg)
        frame = self._inputs(frame, [*columns, self.target], "TargetEncoding")
        if self.target in columns:
            raise SchemaError(f"TargetEncoding: the target {self.target!r} cannot also be a column to encode")
        for c in columns:
            F.check_kind(frame[c], c, "TargetEncoding", _KINDS)
        return frame

    def _target(self, frame: Any) -> Any:
        series = frame[self.target]
        F.check_kind(series, self.target, "TargetEncoding (target)", ("int", "bool", "float"))
        y, nulls = F.numeric_arrays(series, dtype="float64", fill=0.0)
        xp = array_namespace(y)
        bad = nulls | ~xp.isfinite(y)
        if bool(bad.any()):
            msg = (f"TargetEncoding: target column {self.target!r} has {int(bad.sum())} null, NaN or infinite "
                   "value(s); drop those rows (ops.Dropna) or fill them before fitting")
            raise DataError(msg)
        return y

    # -- statistics ------------------------------------------------------------------------
    def _per_category(self, series: Any, y: Any) -> tuple[Any, Any, Any, Any]:
        """(codes, distinct values, sum of y per value, count per value) — arrays in y's namespace."""
        xp = array_namespace(y)
        codes, values = F.factorize(series)
        codes = xp.asarray(codes)
        n = len(values)
        valid = codes >= 0
        sums = xp.bincount(codes[valid], weights=y[valid], minlength=n)[:n]
        counts = xp.bincount(codes[valid], minlength=n)[:n]
        return codes, values, sums, counts

    def partial_fit(self, frame: Any, columns: Sequence[str]) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        frame = self._check(frame, columns)
        y = self._target(frame)
        with np.errstate(over="ignore"):  # a sum past 1.8e308 is inf: finalize names the target
            out: dict[str, Any] = {"__total__": (float(y.sum()), len(y))}
        for c in columns:
            _, values, sums, counts = self._per_category(frame[c], y)
            out[c] = pd.DataFrame({"value": values, "sum": F.to_host(sums).astype("float64"),
                                   "count": F.to_host(counts).astype("int64")})
        return out

    def combine(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        out: dict[str, Any] = {"__total__": (sum(p["__total__"][0] for p in partials),
                                             sum(p["__total__"][1] for p in partials))}
        for col in partials[0]:
            if col == "__total__":
                continue
            frames = [p[col] for p in partials if len(p[col])]
            if len(frames) <= 1:
                out[col] = frames[0] if frames else partials[0][col]
                continue
            frames = F.frames_with_same_int_dtype(frames, ["value"], col)  # int64 beside uint64: exact, not float64
            with np.errstate(over="ignore"):  # a sum past 1.8e308 is inf, named by the encoding's check
                g = pd.concat(frames, ignore_index=True).groupby("value", sort=False)[["sum", "count"]].sum()
            out[col] = pd.DataFrame({"value": F.canonical_values(g.index), "sum": g["sum"].to_numpy(),
                                     "count": g["count"].to_numpy()})
        return out

    def finalize(self, combined: dict[str, Any], columns: Sequence[str]) -> None:
        total, n = combined["__total__"]
        if n == 0:
            raise DataError(f"TargetEncoding: no rows to fit on (target {self.target!r})")
        self.prior_ = total / n
        if not math.isfinite(self.prior_):
            msg = (f"TargetEncoding: target column {self.target!r} holds values too large for their mean in float64 "
                   f"(their sum passes 1.8e308); scale the target down (divide it) before fitting")
            raise DataError(msg)
        # sorted by value so that the statistics (and the saved artifact) do not depend on partitioning
        self.stats_ = {c: combined[c].sort_values("value", kind="stable").reset_index(drop=True) for c in columns}
        self._cache: dict[Any, Any] = {}

    # -- transforming ----------------------------------------------------------------------
    def _tables(self, column: str, series: Any) -> tuple[Any, Any, Any]:
        """(index over the values, sums, counts), on the series' backend, cached per backend and integer dtype."""
        from ..backend import backend_of

        backend = backend_of(series)
        like = F.int_dtype(series)
        cache = self.__dict__.setdefault("_cache", {})
        key = (column, backend, str(like))
        if key not in cache:
            st = self.stats_[column]
            cache[key] = (F.KeyIndex(backend, st["value"].to_numpy(), like),
                          F.to_device(series, st["sum"].to_numpy(dtype="float64")),
                          F.to_device(series, st["count"].to_numpy(dtype="float64")))
        return cache[key]

    def _encode_full(self, series: Any, column: str) -> Any:
        index, sums, counts = self._tables(column, series)
        pos = index.positions(series)
        xp = array_namespace(pos)
        seen = pos >= 0
        safe = xp.where(seen, pos, 0)
        s = xp.where(seen, sums[safe] if len(sums) else 0.0, 0.0)
        n = xp.where(seen, counts[safe] if len(counts) else 0.0, 0.0)
        return self._smooth(xp, s, n, self.prior_, self._name(column))

    def _check_transform_kind(self, series: Any, column: str) -> bool:
        """True when the column is all missing in another kind than fitted (every row gets the prior); SchemaError
        for a kind TargetEncoding does not take, or another kind than fitted."""
        values = self.stats_[column]["value"]
        fitted = F.value_kind(values) if len(values) else None
        return F.check_fitted_kind(series, column, "TargetEncoding", _KINDS, fitted)

    def _smooth(self, xp: Any, s: Any, n: Any, prior: Any, name: str) -> Any:
        sm = float(self.smoothing)
        if math.isinf(sm):  # the limit of the formula: all weight on the prior
            return F.float32_output(xp.zeros_like(n) + prior, name, "TargetEncoding",
                                    f"scale the target {self.target!r} down (divide it) before fitting")
        denom = n + sm
        # a category with no rows and smoothing 0 has no information: use the prior
        enc = xp.where(denom > 0, (s + sm * prior) / xp.where(denom > 0, denom, 1.0), prior)
        return F.float32_output(enc, name, "TargetEncoding",
                                f"scale the target {self.target!r} down (divide it) or bound it before fitting")

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self.check_fitted()
        frame = self._inputs(frame, columns, "TargetEncoding")
        unknown = [c for c in columns if c not in self.stats_]
        if unknown:
            msg = (f"TargetEncoding was fitted on column(s) {list(self.stats_)}, not {unknown}; fit it on the same "
                   "selection")
            raise SchemaError(msg)
        # dtype errors first, in column order, before any column's work starts
        no_kind = {c for c in columns if self._check_transform_kind(frame[c], c)}
        out = {}
        for c in columns:
            if c in no_kind:  # all missing, in a dtype of no kind fitted: unseen everywhere
                xp = array_namespace(F.missing(frame[c]))
                out[self._name(c)] = self._smooth(xp, xp.zeros(len(frame)), xp.zeros(len(frame)),
                                                   self.prior_, self._name(c))
            else:
                out[self._name(c)] = self._encode_full(frame[c], c)
        return F.build_frame(frame, out)

    def fit_transform(self, frame: Any, columns: Sequence[str]) -> Any:
        """Fit on ``frame`` and return its out-of-fold encodings (see the class docstring)."""
        columns = list(columns)
        self.fit(frame, columns)
        if self.kfold == 1:
            return self.transform(frame, columns)
        frame = self._check(frame, columns)
        y = self._target(frame)
        xp = array_namespace(y)
        k = self.kfold
        fold = (F.murmur3_int64(xp.arange(len(y), dtype=xp.int64), self.seed) % xp.uint32(k)).astype(xp.int64)
        fold_sum = xp.bincount(fold, weights=y, minlength=k)
        fold_cnt = xp.bincount(fold, minlength=k).astype(xp.float64)
        rest_cnt = len(y) - fold_cnt
        # prior of the other folds; a fold holding every row falls back to the full prior
        rest_prior = xp.where(rest_cnt > 0, (float(y.sum()) - fold_sum) / xp.where(rest_cnt > 0, rest_cnt, 1),
                              self.prior_)
        out = {}
        for c in columns:
            codes, values, sums, counts = self._per_category(frame[c], y)
            ncat = len(values)
            valid = codes >= 0
            key = xp.where(valid, codes * k + fold, 0)
            cf_sum = xp.bincount(key[valid], weights=y[valid], minlength=ncat * k)
            cf_cnt = xp.bincount(key[valid], minlength=ncat * k).astype(xp.float64)
            safe = xp.where(valid, codes, 0)
            s = xp.where(valid, sums[safe] - cf_sum[key], 0.0) if ncat else xp.zeros(len(y))
            n = xp.where(valid, counts[safe] - cf_cnt[key], 0.0) if ncat else xp.zeros(len(y))
            enc = self._smooth(xp, s, n, rest_prior[fold], self._name(c))
            out[self._name(c)] = enc
        return F.build_frame(frame, out)

    # -- fitted tables ---------------------------------------------------------------------
    def table(self, column: str) -> Any:
        """The fitted statistics of ``column`` as a pandas frame, one row per category seen at fit, by value.

        Columns: ``value`` (the category), ``count`` (rows), ``sum`` and ``mean`` of the target over
        them, and ``encoding`` (float32: what :meth:`transform` gives rows holding the value). Unseen
        and null categories are encoded as the prior, ``prior_`` (the target's mean at fit).

        Examples
        --------
        >>> import pandas as pd
        >>> from gpupipe.ops import TargetEncoding
        >>> te = TargetEncoding("y", smoothing=1).fit(pd.DataFrame({"c": ["a", "a", "b"], "y": [1, 1, 0]}), ["c"])
        >>> te.table("c")
          value  count  sum  mean  encoding
        0     a      2  2.0   1.0  0.888889
        1     b      1  0.0   0.0  0.333333
        """
        import numpy as np
        import pandas as pd

        self.check_fitted()
        if column not in self.stats_:
            msg = f"TargetEncoding.table: no statistics for column {column!r}; it was fitted on {list(self.stats_)}"
            raise SchemaError(msg)
        st = self.stats_[column]
        s = st["sum"].to_numpy(dtype=np.float64)
        n = st["count"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s / n
        return pd.DataFrame({"value": st["value"].copy(), "count": st["count"].to_numpy(dtype=np.int64), "sum": s,
                             "mean": mean, "encoding": self._smooth(np, s, n, self.prior_, self._name(column))})

    def table_keys(self, columns: Sequence[str]) -> dict[str, str]:
        """Output column → the name :meth:`table` takes."""
        return {self._name(c): c for c in columns}

    # -- saving ----------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        self.check_fitted()
        columns = list(self.stats_)
        state = {"columns": columns, "prior": float(self.prior_)}
        return state, {f"stats_{i}": self.stats_[c] for i, c in enumerate(columns)}

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        import pandas as pd

        self.prior_ = float(state["prior"])
        self.stats_ = {}
        for i, c in enumerate(state["columns"]):
            art = artifacts[f"stats_{i}"]
            self.stats_[c] = pd.DataFrame({"value": F.canonical_values(art["value"]),
                                           "sum": art["sum"].to_numpy(dtype="float64"),
                                           "count": art["count"].to_numpy(dtype="int64")})
        self._cache = {}
