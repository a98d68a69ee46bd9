"""Categorify: map categorical values to contiguous integer ids by a fitted vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import array_namespace, backend_of
from ..backend import frame as F
from ..errors import SchemaError
from .base import ColumnInfo, StatOp, register_op

__all__ = ["Categorify"]

_KINDS = ("int", "bool", "str")
PADDING_ID, NULL_ID, FIRST_OOV_ID = 0, 1, 2


@register_op
class Categorify(StatOp):
    """Encode categorical values as integer ids from a vocabulary fitted on the data.

    Id layout (the same on every backend and every partitioning):

    * ``0``: padding, never produced;
    * ``1``: null;
    * ``2 .. 2 + num_oov_buckets - 1``: out of vocabulary: values unseen at fit, or rarer than
      ``freq_threshold``, or cut by ``max_size``. With several buckets a value's bucket is
      ``2 + murmur3(value) % num_oov_buckets`` (see :mod:`gpupipe.backend._murmur3`), so a value always
      lands in the same bucket, on either backend;
    * then the vocabulary, by descending frequency, ties broken by ascending value.

    Output is int64 with role ``cat`` and cardinality ``2 + num_oov_buckets + len(vocabulary)``.

    Parameters
    ----------
    freq_threshold : int, default 0
        Values seen fewer than this many times at fit go to the out-of-vocabulary bucket(s).
    max_size : int, optional
        Keep at most this many vocabulary entries (the most frequent); the special ids are not counted.
    num_oov_buckets : int, default 1
        Number of out-of-vocabulary ids (at least 1).

    Notes
    -----
    Accepts integer (nullable ``Int32``/``Int64`` included), boolean, string and categorical columns;
    a float or datetime column raises :class:`~gpupipe.errors.SchemaError` (cast or Bucketize it).
    The statistics are per-partition value counts summed across partitions, so a ``gp.Dataset``
    fit gives exactly the in-memory vocabulary. A vocabulary fitted on cuDF transforms pandas
    frames and vice versa. The vocabulary of column ``c`` is ``vocab_[c]``, a pandas frame
    ``(value, count)`` in id order, saved as a parquet artifact.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe.ops import Categorify
    >>> df = pd.DataFrame({"c": ["b", "a", "b", None, "z"]})
    >>> op = Categorify().fit(df, ["c"])
    >>> op.transform(df, ["c"])["c"].tolist()
    [3, 4, 3, 1, 5]
    >>> op.transform(pd.DataFrame({"c": ["never seen"]}), ["c"])["c"].tolist()
    [2]
    """

    def __init__(self, freq_threshold: int = 0, max_size: int | None = None, num_oov_buckets: int = 1) -> None:
        self.freq_threshold = freq_threshold
        self.max_size = max_size
        self.num_oov_buckets = num_oov_buckets

    # -- parameters ------------------------------------------------------------------------
    def _check_params(self) -> None:
        from .. import _validate as V

        self.num_oov_buckets = V.integer(self.num_oov_buckets, "num_oov_buckets", "Categorify", min_value=1)
        self.freq_threshold = V.integer(self.freq_threshold, "freq_threshold", "Categorify", min_value=0)
        self.max_size = V.integer(self.max_size, "max_size", "Categorify", min_value=0, none_ok=True,
                                  none_means="no limit")

    @property
    def _first_vocab_id(self) -> int:
        return FIRST_OOV_ID + self.num_oov_buckets

    # -- fitting ---------------------------------------------------------------------------
    def _checked(self, frame: Any, columns: Sequence[str]) -> dict[str, str]:
        self._require(frame, columns, "Categorify")
        return {c: F.check_kind(frame[c], c, "Categorify", _KINDS) for c in columns}

    def partial_fit(self, frame: Any, columns: Sequence[str]) -> dict[str, Any]:
        self._check_params()
        kinds = self._checked(frame, columns)
        counts = F.map_columns(frame, columns, F.value_counts)
        return {c: (kinds[c], vc) for c, vc in zip(columns, counts, strict=True)}

    def combine(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        out = {}
        for col in partials[0]:
            kinds = {p[col][0] for p in partials if len(p[col][1])}
            if len(kinds) > 1:
                msg = (f"Categorify: column {col!r} holds different kinds of values in different partitions "
                       f"({sorted(kinds)}); cast it to one dtype before fitting")
                raise SchemaError(msg)
            kind = kinds.pop() if kinds else partials[0][col][0]
            out[col] = (kind, F.sum_counts([p[col][1] for p in partials]))
        return out

    def finalize(self, combined: dict[str, Any], columns: Sequence[str]) -> None:
        self.vocab_ = {}
        self.kinds_ = {}
        for col in columns:
            kind, counts = combined[col]
            self.kinds_[col] = kind
            self.vocab_[col] = self._select(counts)
        self._indexes: dict[Any, Any] = {}

    def _select(self, counts: Any) -> Any:
        """Order by descending count, then ascending value; apply freq_threshold and max_size."""
        if self.freq_threshold > 0:
            counts = counts[counts["count"] >= self.freq_threshold]
        counts = counts.sort_values(["count", "value"], ascending=[False, True], kind="stable")
        if self.max_size is not None:
            counts = counts.head(self.max_size)
        return counts.reset_index(drop=True)

    # -- schema ----------------------------------------------------------------------------
    def cardinality(self, column: str) -> int:
        """Number of ids column ``column`` can take (padding, null and OOV ids included)."""
        self.check_fitted()
        return self._first_vocab_id + len(self.vocab_[column])

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("int64", "cat", self.cardinality(c)) for c in columns}

    # -- transforming ----------------------------------------------------------------------
    def _index(self, column: str, backend: str, dtype: Any) -> Any:
        key = (column, backend, str(dtype))
        cache = self.__dict__.setdefault("_indexes", {})
        index = cache.get(key)
        if index is None:
            index = F.make_index.impl(backend)(self.vocab_[column]["value"].to_numpy(), dtype)
            cache[key] = index
        return index

    def _check_transform_kind(self, series: Any, column: str) -> None:
        got = F.check_kind(series, column, "Categorify", _KINDS)
        fitted = self.kinds_[column]
        if len(self.vocab_[column]) and fitted != got:
            msg = (f"Categorify: column {column!r} was fitted on {fitted} values but now holds {got} values "
                   f"(dtype {series.dtype}); cast it back to the dtype it was fitted on")
            raise SchemaError(msg)

    def _ids(self, series: Any, column: str) -> Any:
        self._check_transform_kind(series, column)
        backend = backend_of(series)
        dtype = series.dtype if F.kind(series) == "int" else None
        # In place from here on: on a 5M-row column every fresh 40 MB array costs more than the lookup.
        ids = F.lookup(series, self._index(column, backend, dtype))
        xp = array_namespace(ids)
        if ids.dtype != xp.int64:
            ids = ids.astype(xp.int64)
        if self.num_oov_buckets == 1:
            ids += self._first_vocab_id  # unseen (-1) lands on FIRST_OOV_ID == first vocabulary id - 1
            unseen = None
        else:
            unseen = ids < 0
            ids += self._first_vocab_id
        if unseen is not None and bool(unseen.any()):
            hashed, _ = F.hash_values(series, 0)
            oov = FIRST_OOV_ID + (hashed % xp.uint32(self.num_oov_buckets)).astype(xp.int64)
            ids[unseen] = oov[unseen]
        nulls = F.missing(series)
        if bool(nulls.any()):
            ids[nulls] = NULL_ID
        return ids

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self.check_fitted()
        self._require(frame, columns, "Categorify")
        for c in columns:  # dtype errors first, in column order, before any column's work starts
            self._check_transform_kind(frame[c], c)
        ids = F.map_columns(frame, columns, lambda s: self._ids(s, s.name))
        return F.build_frame(frame, dict(zip(columns, ids, strict=True)))

    def fit_transform(self, frame: Any, columns: Sequence[str]) -> Any:
        """Fit on ``frame`` and return its ids. On an in-memory frame the values are hashed once
        (factorize), not once to count and again to look up: each distinct value's id is found on the
        host, then one gather per row maps the codes to ids where the data lives."""
        if hasattr(frame, "map_partials"):
            return super().fit_transform(frame, columns)
        import numpy as np
        import pandas as pd

        self._check_params()
        columns = list(columns)
        kinds = self._checked(frame, columns)
        factorized, partial = {}, {}
        for col in columns:
            codes, values = F.factorize(frame[col])
            xp = array_namespace(codes)
            counts = F.to_host(xp.bincount(codes + 1, minlength=len(values) + 1)[1:])
            factorized[col] = (codes, values)
            partial[col] = (kinds[col], F.counts_frame(values, counts))
        self.finalize(self.combine([partial]), columns)
        out = {}
        for col in columns:
            codes, values = factorized.pop(col)
            # ids of the (few) distinct values on the host, NULL_ID appended for code -1, then one gather per row
            table = np.append(self._ids(pd.Series(values), col), NULL_ID)
            out[col] = F.to_device(codes, table)[codes]
        return F.build_frame(frame, out)

    # -- saving ----------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        self.check_fitted()
        columns = list(self.vocab_)
        state = {"columns": columns, "kinds": [self.kinds_[c] for c in columns]}
        artifacts = {f"vocab_{i}": self.vocab_[c] for i, c in enumerate(columns)}
        return state, artifacts

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        import pandas as pd

        self.vocab_, self.kinds_ = {}, {}
        for i, (col, kind) in enumerate(zip(state["columns"], state["kinds"], strict=True)):
            art = artifacts[f"vocab_{i}"]
            self.vocab_[col] = pd.DataFrame({"value": F.canonical_values(art["value"]),
                                             "count": art["count"].to_numpy().astype("int64")})
            self.kinds_[col] = kind
        self._indexes = {}
