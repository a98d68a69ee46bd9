"""JoinGroupby: per-group statistics of continuous columns, joined back onto each row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import array_namespace
from ..backend import frame as F
from ..errors import DataError, SchemaError
from .base import ColumnInfo, StatOp, register_op
from .normalize import overflow_error

__all__ = ["JoinGroupby"]

STATS = ("count", "sum", "mean", "std", "var", "min", "max")
_KEY_KINDS = ("int", "bool", "str")


@register_op
class JoinGroupby(StatOp):
    """Group the fit data by key columns and join statistics of ``cont_cols`` back onto rows.

    For each key group ``k`` (one selected column, or a list of columns from ``keys``), each
    ``c`` in ``cont_cols`` and each statistic ``s`` the op outputs ``<k>_<c>_<s>`` (float32,
    ``cont``; a multi-column key's name joins its columns with ``_``). Statistics, over the
    non-null values of ``c`` in the group:

    ``count`` (number of non-null values), ``sum``, ``mean``, ``std`` (population, ddof=0),
    ``var`` (population), ``min``, ``max``.

    Rows whose key was not seen at fit, or is null, get ``count`` 0 and ``fill_value`` for the
    other statistics; so does a statistic that is undefined for its group (the mean of a group
    whose values are all null), and every row when a key column arrives all missing at transform,
    in whatever dtype. The inputs are kept.

    A key column may also be one of ``cont_cols``: ``["k"] >> JoinGroupby(["k"], stats=("count",))``
    joins the number of rows holding each key (count encoding). Infinite values in ``cont_cols``
    have no sum, mean or spread: fit raises :class:`~gpupipe.errors.DataError` naming the column.
    A categorical column of numbers in ``cont_cols`` is summarised by its values, as Normalize reads it.
    Integer keys are matched exactly, whatever their width and signedness at fit and at transform;
    a key column must hold the kind of values it was fitted on (int, bool or str), else
    :class:`~gpupipe.errors.SchemaError` naming both kinds.

    Statistics combine per partition exactly (counts, sums, min, max) or with Chan's parallel
    variance formula (mean, std, var: equal to the in-memory fit up to float rounding).

    Parameters
    ----------
    cont_cols : list of str
        Continuous columns to summarise.
    stats : sequence of str, default ("count", "mean")
        Any of ``count, sum, mean, std, var, min, max``.
    keys : list of (str or list of str), optional
        Key groups; by default each selected column is its own key. ``[["a", "b"], "c"]`` gives
        a two-column key ``a_b`` and a single key ``c``.
    fill_value : float, default 0.0
        Value for unseen keys and undefined statistics.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe.ops import JoinGroupby
    >>> df = pd.DataFrame({"shop": ["a", "a", "b"], "price": [1.0, 3.0, 10.0]})
    >>> op = JoinGroupby(["price"], stats=("count", "mean")).fit(df, ["shop"])
    >>> op.transform(pd.DataFrame({"shop": ["b", "a", "z"]}), ["shop"]).values.tolist()
    [[1.0, 10.0], [2.0, 2.0], [0.0, 0.0]]
    """

    def __init__(self, cont_cols: Sequence[str], stats: Sequence[str] = ("count", "mean"),
                 keys: Sequence[str | Sequence[str]] | None = None, fill_value: float = 0.0) -> None:
        self.cont_cols = cont_cols
        self.stats = stats
        self.keys = keys
        self.fill_value = fill_value

    # -- columns ---------------------------------------------------------------------------
    def _groups(self, columns: Sequence[str]) -> list[list[str]]:
        if self.keys is None:
            return [[c] for c in columns]
        return [[k] if isinstance(k, str) else list(k) for k in self.keys]

    def _check_params(self) -> None:
        from .. import _validate as V

        self.cont_cols = V.name_list(self.cont_cols, "cont_cols", "JoinGroupby")
        stats = V.name_list(self.stats, "stats", "JoinGroupby", what=f"statistics ({', '.join(STATS)})")
        unknown = [x for x in stats if x not in STATS]  # type: ignore[union-attr]
        if unknown:
            V.fail("JoinGroupby", "stats", self.stats, f"a list of statistics from {list(STATS)}",
                   f"{unknown} are not statistics (names are lower case)")
        if self.keys is not None:
            keys = V.sequence_of(self.keys)
            ok = keys is not None and keys and all(
                isinstance(k, str) or (V.sequence_of(k) and all(isinstance(x, str) for x in k)) for k in keys)
            if not ok:
                V.fail("JoinGroupby", "keys", self.keys, "None or a non-empty list of column names or lists of names")
        fill = self.fill_value
        if not (isinstance(fill, float) and fill != fill):  # NaN (unseen keys stay missing) is a valid choice
            fill = V.number(fill, "fill_value", "JoinGroupby", finite=False)
        self.fill_value = fill

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        return [f"{'_'.join(g)}_{c}_{s}" for g in self._groups(columns) for c in self.cont_cols for s in self.stats]

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {name: ColumnInfo("float32", "cont") for name in self.output_columns(columns)}

    def required_columns(self, columns: Sequence[str]) -> list[str]:
        needed = [c for g in self._groups(columns) for c in g if c not in columns]
        return list(dict.fromkeys([*needed, *(c for c in self.cont_cols if c not in columns)]))

    def _check(self, frame: Any, columns: Sequence[str]) -> None:
        self._check_params()
        self._require(frame, [*dict.fromkeys(c for g in self._groups(columns) for c in g)], "JoinGroupby")
        self._require(frame, list(self.cont_cols), "JoinGroupby (cont_cols)")
        for g in self._groups(columns):
            for c in g:
                F.check_kind(frame[c], c, "JoinGroupby (key)", _KEY_KINDS)
        spread = sorted(set(self.stats) & {"sum", "mean", "std", "var"})  # count, min and max hold with ±inf
        for c in self.cont_cols:
            if F.check_kind(frame[c], c, "JoinGroupby (cont_cols)", ("int", "float", "bool")) != "float" or not spread:
                continue
            x = F.float_values(frame[c])
            infinite = int(array_namespace(x).isinf(x).sum())
            if infinite:
                msg = (f"JoinGroupby: column {c!r} (cont_cols) holds {infinite} infinite value(s), which have no "
                       f"{'/'.join(spread)} to join; replace them (for example with NaN, which the statistics skip), "
                       "filter those rows out first, or ask only for count, min and max")
                raise DataError(msg)

    # -- statistics ------------------------------------------------------------------------
    def partial_fit(self, frame: Any, columns: Sequence[str]) -> dict[tuple[str, ...], Any]:
        self._check(frame, columns)
        return {tuple(g): _group_moments(frame, g, list(self.cont_cols)) for g in self._groups(columns)}

    def combine(self, partials: list[dict[tuple[str, ...], Any]]) -> dict[tuple[str, ...], Any]:
        return {g: _combine_moments([p[g] for p in partials], list(g), list(self.cont_cols)) for g in partials[0]}

    def finalize(self, combined: dict[tuple[str, ...], Any], columns: Sequence[str]) -> None:
        import numpy as np
        import pandas as pd

        self.tables_ = {}
        for g in self._groups(columns):
            m = combined[tuple(g)]
            table = pd.DataFrame({k: m[k] for k in g})
            for c in self.cont_cols:
                n = m[f"{c}__n"].to_numpy(dtype="float64")
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = m[f"{c}__sum"].to_numpy(dtype="float64") / n
                    var = m[f"{c}__m2"].to_numpy(dtype="float64") / n
                values = {"count": n, "sum": m[f"{c}__sum"].to_numpy(dtype="float64"), "mean": mean,
                          "var": var, "std": np.sqrt(var), "min": m[f"{c}__min"].to_numpy(dtype="float64"),
                          "max": m[f"{c}__max"].to_numpy(dtype="float64")}
                spread = [s for s in self.stats if s in ("sum", "mean", "std", "var")]
                if spread and not all(bool(np.isfinite(values[s][n > 0]).all()) for s in spread):
                    # the values are finite (fit refuses ±inf for these statistics): their sum or squares passed 1.8e308
                    raise overflow_error("JoinGroupby", c, float(np.nanmin(values["min"])),
                                         float(np.nanmax(values["max"])), "/".join(spread))
                for s in self.stats:
                    table[f"{c}_{s}"] = values[s]
            self.tables_[tuple(g)] = table.sort_values(g, kind="stable").reset_index(drop=True)
        self._cache: dict[Any, Any] = {}

    # -- transforming ----------------------------------------------------------------------
    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self.check_fitted()
        groups = self._groups(columns)
        self._require(frame, [*dict.fromkeys(c for g in groups for c in g)], "JoinGroupby")
        # every check before any work: each key group fitted, each key column of the kind fitted
        no_kind = set()
        for g in groups:
            table = self.tables_.get(tuple(g))
            if table is None:
                msg = f"JoinGroupby was fitted on key(s) {list(self.tables_)}, not {g}; fit it on the same selection"
                raise SchemaError(msg)
            for k in g:
                fitted = F.value_kind(table[k]) if len(table) else None
                if F.check_fitted_kind(frame[k], k, "JoinGroupby (key)", _KEY_KINDS, fitted):
                    no_kind.add(k)
        out = {}
        for g in groups:
            table = self.tables_[tuple(g)]
            if no_kind.intersection(g):  # a key column all missing, in a dtype of no kind fitted: no row matches
                xp = array_namespace(F.missing(frame[g[0]]))
                pos = xp.full(len(frame), -1, dtype="int64")
            else:
                pos = F.table_positions(frame, g, table[g])
            xp = array_namespace(pos)
            seen = pos >= 0
            safe = xp.where(seen, pos, 0)
            for c in self.cont_cols:
                for s in self.stats:
                    col = F.to_device(pos, table[f"{c}_{s}"].to_numpy(dtype="float64"))
                    vals = col[safe] if len(col) else xp.zeros(len(pos))
                    fill = 0.0 if s == "count" else float(self.fill_value)
                    name = f"{'_'.join(g)}_{c}_{s}"
                    out[name] = F.float32_output(xp.where(seen & ~xp.isnan(vals), vals, fill), name, "JoinGroupby",
                                                 f"scale {c!r} down (ops.LogOp, or divide it) or bound it (ops.Clip) "
                                                 "before JoinGroupby")
        return F.build_frame(frame, out)

    # -- fitted tables ---------------------------------------------------------------------
    def table(self, key: str | Sequence[str]) -> Any:
        """The fitted statistics of one key group as a pandas frame, one row per key seen at fit, by key.

        ``key`` is a key column (``"shop"``), the list of a multi-column key (``["a", "b"]``) or its joined
        name (``"a_b"``). Columns: the key column(s), then ``<c>_<stat>`` (float64) for each of
        ``cont_cols`` and ``stats``: what :meth:`transform` joins onto rows with that key (as float32;
        a NaN statistic, and every statistic of a key not in the table, become ``fill_value``, counts 0).

        Examples
        --------
        >>> import pandas as pd
        >>> from gpupipe.ops import JoinGroupby
        >>> op = JoinGroupby(["price"], stats=("count", "mean")).fit(
        ...     pd.DataFrame({"shop": ["a", "a", "b"], "price": [1.0, 3.0, 10.0]}), ["shop"])
        >>> op.table("shop")
          shop  price_count  price_mean
        0    a          2.0         2.0
        1    b          1.0        10.0
        """
        self.check_fitted()
        group = (key,) if isinstance(key, str) else tuple(key)
        if group not in self.tables_:
            by_name = {"_".join(g): g for g in self.tables_}
            found = by_name.get(key) if isinstance(key, str) else None
            if found is None:
                msg = (f"JoinGroupby.table: no statistics for key {key!r}; it was fitted on the key(s) "
                       f"{[list(g) if len(g) > 1 else g[0] for g in self.tables_]}")
                raise SchemaError(msg)
            group = found
        return self.tables_[group].copy()

    def table_keys(self, columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Output column → the key group :meth:`table` takes."""
        return {f"{'_'.join(g)}_{c}_{s}": tuple(g) for g in self._groups(columns) for c in self.cont_cols
                for s in self.stats}

    # -- saving ----------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        self.check_fitted()
        groups = [list(g) for g in self.tables_]
        return {"groups": groups}, {f"groups_{i}": self.tables_[tuple(g)] for i, g in enumerate(groups)}

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        import pandas as pd

        self.tables_ = {}
        for i, g in enumerate(state["groups"]):
            art = artifacts[f"groups_{i}"]
            table = pd.DataFrame({k: F.canonical_values(art[k]) for k in g})
            for name in art.columns:
                if name not in g:
                    table[name] = art[name].to_numpy(dtype="float64", na_value=float("nan"))
            self.tables_[tuple(g)] = table
        self._cache = {}


def _combine_moments(parts: list[Any], keys: list[str], conts: list[str]) -> Any:
    """Merge per-partition moments (Chan et al.'s pairwise update for m2)."""
    import numpy as np
    import pandas as pd

    parts = [p for p in parts if len(p)]
    if len(parts) <= 1:
        return parts[0] if parts else _empty_moments(keys, conts)
    # int64 keys beside uint64 ones: all uint64, not float64 (where 2**53 + 1 is 2**53)
    both = pd.concat(F.frames_with_same_int_dtype(parts, keys), ignore_index=True)
    g = both.groupby(keys, sort=False, dropna=True)
    # sums past 1.8e308 are inf, which the op's check names by column; groups without values divide by 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = g[[f"{c}__{s}" for c in conts for s in ("n", "sum", "m2")]].sum()
        for c in conts:
            out[f"{c}__min"] = g[f"{c}__min"].min()
            out[f"{c}__max"] = g[f"{c}__max"].max()
            # m2 = sum of m2_i + sum of n_i (mean_i - mean)^2
            n_tot = g[f"{c}__n"].transform("sum").to_numpy()
            s_tot = g[f"{c}__sum"].transform("sum").to_numpy()
            n_i = both[f"{c}__n"].to_numpy()
            dev = np.where(n_i > 0, n_i * (both[f"{c}__sum"].to_numpy() / n_i - s_tot / n_tot) ** 2, 0.0)
            out[f"{c}__m2"] += pd.Series(dev, index=both.index).groupby([both[k] for k in keys], sort=False).sum()
    out = out.reset_index()
    for k in keys:
        out[k] = F.canonical_values(out[k])
    return out


def _empty_moments(keys: list[str], conts: list[str]) -> Any:
    import pandas as pd

    cols = {k: [] for k in keys}
    cols.update({f"{c}__{s}": pd.array([], dtype="float64") for c in conts for s in ("n", "sum", "m2", "min", "max")})
    return pd.DataFrame(cols)


def _group_moments(frame: Any, keys: list[str], conts: list[str]) -> Any:
    """:func:`~gpupipe.backend.frame.group_moments`, also of a value column that is one of the keys (count encoding:
    ``["k"] >> JoinGroupby(["k"], stats=("count",))``): such a column is summarised from a copy under a private name."""
    both = [c for c in conts if c in keys]
    if not both:
        return F.group_moments(frame, keys, conts)
    taken = {*keys, *conts}
    private = {}
    for c in both:
        name = f"__{c}_value"
        while name in taken:
            name = f"_{name}"
        private[c] = name
        taken.add(name)
    data = {**{k: frame[k] for k in keys}, **{private.get(c, c): frame[c] for c in conts}}
    moments = F.group_moments(F.build_frame(frame, data), keys, [private.get(c, c) for c in conts])
    return moments.rename(columns={f"{p}__{s}": f"{c}__{s}" for c, p in private.items()
                                   for s in ("n", "sum", "m2", "min", "max")})
