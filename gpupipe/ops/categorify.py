"""Categorify: map categorical values to contiguous integer ids by a fitted vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..backend import array_namespace, backend_of
from ..backend import frame as F
from ..errors import DataError, SchemaError
from .base import ColumnInfo, StatOp, register_op

__all__ = ["OOV_MARKER", "Categorify"]

_KINDS = ("int", "bool", "str")
PADDING_ID, NULL_ID, FIRST_OOV_ID = 0, 1, 2
#: What out-of-vocabulary ids read back as in a text column (``inverse_transform``, ``vocabulary``).
OOV_MARKER = "<OOV>"
_SPECIAL = {PADDING_ID: "padding", NULL_ID: "null"}


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
        Number of out-of-vocabulary ids (at least 1, at most ``2**32 - 1``: the hash is 32 bits).

    Notes
    -----
    Accepts integer (nullable ``Int32``/``Int64`` included), boolean, string and categorical columns;
    a float or datetime column raises :class:`~gpupipe.errors.SchemaError` (cast or Bucketize it).
    At transform a column must hold the kind of values it was fitted on (int, bool or str; else a
    ``SchemaError`` naming both kinds and the cast), except a column holding nothing but missing values
    (serving data with nothing in it reads as float64 or object): it carries no kind, and every row gets
    the null id. Integers are looked up exactly in the data's own dtype, whatever the width and
    signedness at fit (``uint64`` data against an ``int64`` vocabulary included).
    The statistics are per-partition value counts summed across partitions, so a ``gp.Dataset``
    fit gives exactly the in-memory vocabulary. A vocabulary fitted on cuDF transforms pandas
    frames and vice versa. The vocabulary of column ``c`` is ``vocab_[c]``, a pandas frame
    ``(value, count)`` in id order, saved as a parquet artifact; :meth:`vocabulary` lists it with
    its ids and the special ids, and :meth:`inverse_transform` reads ids back as values.

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
    >>> op.inverse_transform(pd.DataFrame({"c": [3, 2, 1, 0]}), ["c"])["c"].tolist()
    ['b', '<OOV>', nan, nan]
    """

    def __init__(self, freq_threshold: int = 0, max_size: int | None = None, num_oov_buckets: int = 1) -> None:
        self.freq_threshold = freq_threshold
        self.max_size = max_size
        self.num_oov_buckets = num_oov_buckets

    # -- parameters ------------------------------------------------------------------------
    def _check_params(self) -> None:
        from .. import _validate as V

        # OOV buckets are a 32-bit hash modulo their number: more than 2**32 - 1 could never be reached
        self.num_oov_buckets = V.integer(self.num_oov_buckets, "num_oov_buckets", "Categorify", min_value=1,
                                         max_value=2**32 - 1)
        self.freq_threshold = V.integer(self.freq_threshold, "freq_threshold", "Categorify", min_value=0)
        self.max_size = V.integer(self.max_size, "max_size", "Categorify", min_value=0, none_ok=True,
                                  none_means="no limit")

    @property
    def _first_vocab_id(self) -> int:
        return FIRST_OOV_ID + self.num_oov_buckets

    # -- fitting ---------------------------------------------------------------------------
    def _checked(self, frame: Any, columns: Sequence[str]) -> tuple[Any, dict[str, str | None]]:
        """The frame with ``columns`` in their canonical dtypes (an object column of ints read as ints) and each
        column's kind (None: all missing)."""
        frame = self._inputs(frame, columns, "Categorify")
        kinds: dict[str, str | None] = {}
        for c in columns:
            s = frame[c]
            # a column all missing (one partition's share of a sparse column, read as float NaN) carries no kind
            # and adds no value; the other partitions give the column its kind (combine)
            kinds[c] = None if F.value_kind(s) not in _KINDS and F.all_missing(s) else F.check_kind(s, c, "Categorify", _KINDS)
        return frame, kinds

    def partial_fit(self, frame: Any, columns: Sequence[str]) -> dict[str, Any]:
        self._check_params()
        frame, kinds = self._checked(frame, columns)
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
            out[col] = (kind, F.sum_counts([p[col][1] for p in partials], col))
        return out

    def finalize(self, combined: dict[str, Any], columns: Sequence[str]) -> None:
        self.vocab_ = {}
        self.kinds_ = {}
        for col in columns:
            kind, counts = combined[col]
            self.kinds_[col] = kind
            self.vocab_[col] = self._select(counts)
        self._indexes: dict[Any, Any] = {}
        self._digests: dict[str, str] = {}

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
        return {c: ColumnInfo("int64", "cat", self.cardinality(c), self.vocabulary_digest(c)) for c in columns}

    def vocabulary_digest(self, column: str) -> str:
        """16 hex digits of the sha256 of what ``column``'s ids mean: the values in id order and the special ids.

        Two fits give the same digest exactly when every id reads back as the same value, whatever the counts: a
        refit on other data whose vocabulary has as many values in another order (ids of other values, the same
        cardinality) gets another digest. It goes into the output schema (``properties["vocabulary"]``), so a
        model built from one fit is not fed ids of another (``gp.train``/``gp.predict``, ``batch_predict``). The
        same on every backend and after ``Workflow.load``.
        """
        import hashlib
        import json

        import numpy as np

        self.check_fitted()
        cache = self.__dict__.setdefault("_digests", {})
        digest = cache.get(column)
        if digest is None:
            values = np.asarray(F.canonical_values(self.vocab_[column]["value"].to_numpy()))
            h = hashlib.sha256(json.dumps([self.kinds_[column], self._first_vocab_id, len(values)]).encode())
            # the values' bytes in one width per kind, whatever dtype the column had (an int32 and an int64 fit of
            # the same values agree); no Python object per value (2.7M Criteo ids: 0.55 s as text, 0.01 s so)
            if values.dtype.kind in "iu":
                big = values.dtype.kind == "u" and len(values) and int(values.max()) > np.iinfo(np.int64).max
                h.update(b"u8" if big else b"i8")
                h.update(values.astype("<u8" if big else "<i8").tobytes())
            elif values.dtype.kind == "b":
                h.update(values.astype("u1").tobytes())
            else:  # text: the UTF-8 bytes and where each value ends
                import pyarrow as pa

                text = pa.array(values, type=pa.large_string(), from_pandas=True)
                _, offsets, data = text.buffers()
                ends = np.frombuffer(offsets, dtype="<i8", count=len(text) + 1)
                h.update(ends.tobytes())
                if data is not None:
                    h.update(memoryview(data)[:int(ends[-1])])
            digest = cache[column] = h.hexdigest()[:16]
        return digest

    # -- transforming ----------------------------------------------------------------------
    def _index(self, column: str, backend: str, dtype: Any) -> Any:
        key = (column, backend, str(dtype))
        cache = self.__dict__.setdefault("_indexes", {})
        index = cache.get(key)
        if index is None:
            index = F.KeyIndex(backend, self.vocab_[column]["value"].to_numpy(), dtype)
            cache[key] = index
        return index

    def _check_transform_kind(self, series: Any, column: str) -> bool:
        """True when the column is all missing in another kind than fitted (every row is null); SchemaError for a
        kind Categorify does not take, or another kind than fitted."""
        fitted = self.kinds_[column] if len(self.vocab_[column]) else None
        return F.check_fitted_kind(series, column, "Categorify", _KINDS, fitted)

    def _ids(self, series: Any, column: str, no_kind: bool = False) -> Any:
        if no_kind:  # all missing, in a dtype of no kind fitted: every row is null
            nulls = F.missing(series)
            return array_namespace(nulls).full(len(nulls), NULL_ID, dtype="int64")
        backend = backend_of(series)
        # In place from here on: on a 5M-row column every fresh 40 MB array costs more than the lookup.
        ids = self._index(column, backend, F.int_dtype(series)).positions(series)
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
        frame = self._inputs(frame, columns, "Categorify")
        # dtype errors first, in column order, before any column's work starts
        no_kind = {c for c in columns if self._check_transform_kind(frame[c], c)}
        ids = F.map_columns(frame, columns, lambda s: self._ids(s, s.name, s.name in no_kind))
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
        frame, kinds = self._checked(frame, columns)
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

    # -- reading ids back ------------------------------------------------------------------
    def _fitted_column(self, column: str, what: str) -> None:
        self.check_fitted()
        if column not in self.vocab_:
            msg = f"Categorify.{what}: no vocabulary for column {column!r}; it was fitted on {list(self.vocab_)}"
            raise SchemaError(msg)

    def _value_dtype(self, column: str, dtype: Any = None) -> str:
        """The pandas dtype ids read back to: nullable (the special ids read as missing) and of the fitted kind,
        in ``dtype``'s width when ``dtype`` (the column's dtype at fit) is an integer dtype that holds the values."""
        kind = self.kinds_[column]
        if kind == "str":
            return "str"
        if kind == "bool":
            return "boolean"
        values = self.vocab_[column]["value"]
        canonical = "UInt64" if values.dtype == "uint64" else "Int64"
        if dtype is None or F.kind(dtype) != "int":
            return canonical
        import numpy as np

        np_dtype = np.dtype(F.plain_dtype_name(dtype))
        name = f"{'UInt' if np_dtype.kind == 'u' else 'Int'}{np_dtype.itemsize * 8}"
        if len(values):
            info = np.iinfo(np_dtype)
            if int(values.min()) < info.min or int(values.max()) > info.max:
                return canonical
        return name

    def _oov_value(self, column: str, oov: Any, explicit: bool, shown: str | None = None) -> Any:
        """The value OOV ids read back as in ``column``: ``oov`` when the column's kind can hold it, else
        missing (an explicit per-column value that cannot be held is an error naming the column ``shown``)."""
        kind = self.kinds_[column]
        fits = (oov is None
                or (kind == "str" and isinstance(oov, str))
                or (kind == "bool" and isinstance(oov, bool))
                or (kind == "int" and isinstance(oov, int) and not isinstance(oov, bool)))
        if fits:
            return oov
        if explicit:
            msg = (f"Categorify.inverse_transform: oov={oov!r} for column {shown or column!r}, which holds {kind} values; "
                   f"give a {kind} value or None (missing)")
            raise SchemaError(msg)
        return None

    def _check_oov_not_a_value(self, column: str, oov_value: Any, shown: str) -> None:
        """SchemaError when out-of-vocabulary ids would read back as a value of the vocabulary (a real ``"<OOV>"``
        seen at fit): the decoded column could not tell the two apart."""
        if oov_value is None:
            return
        import numpy as np

        hits = np.flatnonzero(np.asarray(self.vocab_[column]["value"] == oov_value, dtype=bool))
        if len(hits):
            msg = (f"Categorify.inverse_transform: column {shown!r} has the value {oov_value!r} in its vocabulary "
                   f"(id {self._first_vocab_id + int(hits[0])}), so out-of-vocabulary ids would read back as that "
                   f"value too; pass oov={{{shown!r}: <a value the column never holds>}} or oov=None (missing)")
            raise SchemaError(msg)

    def _decode_table(self, column: str, oov: Any = OOV_MARKER, dtype: Any = None, explicit: bool = False) -> Any:
        """The value of every id of ``column`` as a host pandas Series (position = id), then one missing entry
        (the value of a missing id)."""
        import pandas as pd

        target = self._value_dtype(column, dtype)
        oov_value = self._oov_value(column, oov, explicit)
        special = pd.Series([None, None, *([oov_value] * self.num_oov_buckets)], dtype=object)
        vocab = pd.Series(self.vocab_[column]["value"])
        parts = [special.astype(target), vocab.astype(target), pd.Series([None], dtype=object).astype(target)]
        return pd.concat(parts, ignore_index=True)

    def vocabulary(self, column: str) -> Any:
        """The vocabulary of ``column`` as a pandas frame, one row per id, in id order.

        Columns: ``id`` (int64); ``value`` (what :meth:`inverse_transform` reads the id back as: a
        nullable dtype of the fitted kind, ``str``, ``Int64`` or ``boolean``); ``count`` (``Int64``: rows
        holding the value at fit; missing for the special ids); ``special`` (``"padding"`` for id 0,
        ``"null"`` for id 1, ``"oov"`` for the out-of-vocabulary ids, missing for vocabulary entries).
        The special ids' values are missing, except the OOV ids of a text column, which read
        :data:`OOV_MARKER` (``"<OOV>"``).

        Examples
        --------
        >>> import pandas as pd
        >>> from gpupipe.ops import Categorify
        >>> op = Categorify().fit(pd.DataFrame({"c": ["b", "a", "b", None]}), ["c"])
        >>> op.vocabulary("c")
           id  value  count  special
        0   0    NaN   <NA>  padding
        1   1    NaN   <NA>     null
        2   2  <OOV>   <NA>      oov
        3   3      b      2      NaN
        4   4      a      1      NaN
        """
        import numpy as np
        import pandas as pd

        self._fitted_column(column, "vocabulary")
        values = self._decode_table(column)[:-1].reset_index(drop=True)
        n_special = self._first_vocab_id
        counts = self.vocab_[column]["count"].to_numpy(dtype=np.int64)
        count = pd.array(np.concatenate([np.zeros(n_special, dtype=np.int64), counts]), dtype="Int64")
        count[:n_special] = pd.NA
        special = [_SPECIAL.get(i, "oov") for i in range(n_special)] + [None] * len(counts)
        return pd.DataFrame({"id": np.arange(len(values), dtype=np.int64), "value": values, "count": count,
                             "special": pd.array(special, dtype="str")})

    def table(self, column: str) -> Any:
        """The fitted table of ``column``: its :meth:`vocabulary` (the name every op with fitted tables shares)."""
        return self.vocabulary(column)

    def table_keys(self, columns: Sequence[str]) -> dict[str, str]:
        """Output column → the name :meth:`table` takes, for the columns this op encodes from ``columns``."""
        return {c: c for c in columns}

    def inverse_transform(self, frame: Any, columns: Sequence[str], oov: Any = OOV_MARKER,
                          dtypes: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None) -> Any:
        """Read the ids in ``frame[columns]`` back as values: a frame of exactly ``columns``, on ``frame``'s backend.

        Id 0 (padding) and id 1 (null) read as missing; out-of-vocabulary ids read as ``oov``
        (default :data:`OOV_MARKER`, ``"<OOV>"``) in columns whose values can hold it, and as missing
        in the others (an integer or boolean column cannot hold text). ``oov`` may be a mapping
        ``{column: value}`` (columns it leaves out take the default); a value there that the column
        cannot hold raises :class:`~gpupipe.errors.SchemaError`. ``oov=None`` reads them as missing.
        A missing id reads as missing.

        The values come back in a nullable dtype of the kind fitted (``str``, ``Int64``, ``boolean`` on
        pandas; the matching cuDF dtype with nulls), or in the nullable form of ``dtypes[column]`` (the
        column's dtype at fit, e.g. ``Int32``) when it is an integer dtype. ``names`` gives the name error
        messages call a column by (a Workflow passes its output names: ``c_id`` after a Rename).

        Raises
        ------
        SchemaError
            A column has no vocabulary or does not hold integer ids, or OOV ids would read back as a value the
            vocabulary holds (a real ``"<OOV>"`` seen at fit: give another ``oov``).
        DataError
            An id outside ``0 .. cardinality - 1``, naming the column.
        """
        self.check_fitted()
        self._require(frame, columns, "Categorify.inverse_transform")
        per_column = dict(oov) if isinstance(oov, Mapping) else {}
        unknown = [c for c in per_column if c not in columns]
        if unknown:
            msg = f"Categorify.inverse_transform: oov names {unknown}, which are not among the columns {list(columns)}"
            raise SchemaError(msg)
        tables = {}
        shown = {c: str((names or {}).get(c, c)) for c in columns}
        for c in columns:  # every check before any column's work
            self._fitted_column(c, "inverse_transform")
            if F.value_kind(frame[c]) != "int":
                msg = (f"Categorify.inverse_transform: column {shown[c]!r} has dtype {frame[c].dtype}, not integer ids; "
                       "give it the output of transform")
                raise SchemaError(msg)
            explicit = c in per_column
            value = per_column[c] if explicit else (OOV_MARKER if isinstance(oov, Mapping) else oov)
            self._check_oov_not_a_value(c, self._oov_value(c, value, explicit, shown[c]), shown[c])
            tables[c] = self._decode_table(c, value, (dtypes or {}).get(c), explicit)
        out = {}
        for c in columns:
            series = frame[c]
            ids, missing = F.numeric_arrays(series, "int64", 0)
            xp = array_namespace(ids)
            card = self.cardinality(c)
            bad = ((ids < 0) | (ids >= card)) & ~missing
            n_bad = int(bad.sum())
            if n_bad:
                first = int(F.to_host(ids[bad][:1])[0])
                msg = (f"Categorify.inverse_transform: column {shown[c]!r} holds {n_bad} id(s) outside 0..{card - 1} "
                       f"(e.g. {first}); it is not a column this Categorify encoded")
                raise DataError(msg)
            out[c] = F.take_values(series, tables[c], xp.where(missing, card, ids))
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
        self._digests = {}
