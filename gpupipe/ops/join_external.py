"""JoinExternal: left-join columns of an external table (weather onto flights, say) onto each row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import array_namespace, backend_of
from ..backend import frame as F
from ..errors import DataError, SchemaError
from .base import ColumnInfo, Op, register_op

__all__ = ["JoinExternal"]

#: kinds of values a key may hold (a categorical counts as its categories' kind)
_KEY_KINDS = ("int", "float", "bool", "str", "datetime")


@register_op
class JoinExternal(Op):
    """Left-join ``columns`` of an external ``frame`` onto the data by the key column(s) ``on``.

    The result keeps the input's rows, in order, one output row per input row: the external
    frame must hold each key at most once (checked at fit, a :class:`~gpupipe.errors.DataError`
    naming the key and an example otherwise). Rows whose key is absent from the external frame
    get nulls (NaN for float columns); a null key matches a null key of the external frame, as
    in pandas' and cuDF's merges. A key column all missing in another dtype than the external key's (float64 NaN
    where the key holds strings: data with no value in it) carries no kind, as for Categorify: its rows join as
    nulls of the external key's dtype; a key holding a value of another kind is a
    :class:`~gpupipe.errors.SchemaError`. Integer keys are matched exactly whatever the two sides' widths
    and signedness (pandas would merge ``int64`` with ``uint64`` through float64, where
    2**53 + 1 equals 2**53): a key of the external frame that the data's dtype cannot hold (a
    negative one against ``uint64`` data) matches no row. The external frame is moved to the data's
    backend once and cached; saving a workflow stores it as a parquet artifact.

    Parameters
    ----------
    frame : pandas or cuDF DataFrame, or pyarrow.Table
        The external table (a pyarrow Table is converted to a frame of the active backend).
    on : str or list of str
        Key column(s), present in both the data and ``frame``.
    how : {"left"}
        Only left joins: a row-preserving join is what a feature op can be.
    columns : list of str, optional
        Columns of ``frame`` to add (default: all but the keys).

    Attributes
    ----------
    columns_ : list of str
        The columns the join adds, fixed at fit (the external frame is checked then: keys unique).

    Notes
    -----
    Integer and boolean columns of the external frame come out in their nullable dtypes (``Int64``,
    ``boolean`` on pandas; a null mask on cuDF), since unmatched rows have no value.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe.ops import JoinExternal
    >>> weather = pd.DataFrame({"day": [1, 2], "rain": [0.0, 5.5]})
    >>> flights = pd.DataFrame({"day": [2, 1, 3, 2]})
    >>> op = JoinExternal(weather, on="day").fit(flights, ["day"])
    >>> op.transform(flights, ["day"])["rain"].tolist()
    [5.5, 0.0, nan, 5.5]
    """

    stateful = True

    def __init__(self, frame: Any, on: str | Sequence[str], how: str = "left",
                 columns: Sequence[str] | None = None) -> None:
        self.frame = frame
        self.on = on
        self.how = how
        self.columns = columns

    @property
    def _on(self) -> list[str]:
        return [self.on] if isinstance(self.on, str) else list(self.on)

    def _added(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        return [c for c in self.frame.columns if c not in self._on]

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        return self._added()

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        out = {}
        for c in self._added():
            dtype = self.frame[c].dtype
            name = str(getattr(dtype, "numpy_dtype", dtype))
            out[c] = ColumnInfo(name, "cont" if getattr(dtype, "kind", "") == "f" else None)
        return out

    def required_columns(self, columns: Sequence[str]) -> list[str]:
        return [k for k in self._on if k not in columns]

    def _check_params(self) -> None:
        from .. import _validate as V

        frame = self.frame
        if type(frame).__module__.startswith("pyarrow") and hasattr(frame, "column_names"):
            from ..io.convert import from_arrow

            frame = self.frame = from_arrow(frame)  # a pyarrow Table/RecordBatch: a frame of the active backend
        if not (hasattr(frame, "columns") and hasattr(frame, "duplicated") and getattr(frame, "ndim", 2) == 2):
            V.fail("JoinExternal", "frame", frame, "a pandas or cuDF DataFrame (or a pyarrow Table)",
                   "read a file first (gp.read_parquet(path))" if isinstance(frame, (str, bytes)) else "")
        if not isinstance(self.on, str):
            V.name_list(self.on, "on", "JoinExternal", what="key column names")
        elif not self.on:
            V.fail("JoinExternal", "on", self.on, "a key column name or a list of them")
        if self.how != "left":
            V.fail("JoinExternal", "how", self.how, "'left'", "only how='left' is supported (a feature op keeps every "
                   "row); filter rows with ops.Filter or ops.Dropna afterwards")
        columns = V.name_list(self.columns, "columns", "JoinExternal", none_ok=True)
        keys = [c for c in columns or () if c in self._on]
        if keys:
            V.fail("JoinExternal", "columns", self.columns, "the external frame's columns to add, without the keys",
                   f"{keys} {'is a key' if len(keys) == 1 else 'are keys'} (on={self.on!r}), which the data holds "
                   "already; leave them out")

    def _validate(self) -> None:
        self._check_params()
        self._require(self.frame, self._on, "JoinExternal (external frame keys)")
        self._require(self.frame, self._added(), "JoinExternal (external frame columns)")
        dup = self.frame.duplicated(subset=self._on, keep=False)
        if bool(dup.any()):
            example = self.frame[dup][self._on].head(1)
            example = F.to_pandas(example)
            msg = (f"JoinExternal: the external frame holds {int(dup.sum())} rows with a repeated key {self._on} "
                   f"(for example {example.iloc[0].to_dict()}), which would multiply the data's rows; "
                   "aggregate or deduplicate it first (e.g. frame.drop_duplicates(subset=on))")
            raise DataError(msg)

    def fit(self, data: Any, columns: Sequence[str]) -> JoinExternal:
        self._validate()
        self._cache: dict[str, Any] = {}
        self.columns_ = self._added()
        return self

    def _external(self, frame: Any) -> Any:
        """The external frame on ``frame``'s backend, its integer keys in the data's integer dtypes (rows whose key
        no value of that dtype equals dropped: :func:`~gpupipe.backend.frame.keys_like`), cached."""
        backend = backend_of(frame)
        likes = [F.int_dtype(frame[k]) for k in self._on]
        cache = self.__dict__.setdefault("_cache", {})
        key = (backend, *map(str, likes))
        if key not in cache:
            ext = F.normalize(self.frame[[*self._on, *self._added()]])
            if any(like is not None for like in likes):
                ext, _ = F.keys_like(F.to_pandas(ext), self._on, likes)
            cache[key] = F.to_backend(ext, backend)
        return cache[key]

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self.check_fitted()
        self._require(frame, self._on, "JoinExternal")
        # the external keys as the join sees them (normalised: DECIMAL → float64, object ints → Int64, ...)
        ext_keys = self.__dict__.setdefault("_cache", {}).get("keys")
        if ext_keys is None:
            ext_keys = self._cache["keys"] = F.normalize(self.frame[self._on])
        no_kind = []  # keys all missing in another dtype than the external frame's: they carry no kind
        for k in self._on:
            ours, theirs = frame[k].dtype, ext_keys[k].dtype
            same_kind = F.value_kind(frame[k]) == F.value_kind(ext_keys[k])
            same_zone = (getattr(ours, "tz", None) is None) == (getattr(theirs, "tz", None) is None)
            if not (same_kind and same_zone) and F.all_missing(frame[k]):
                no_kind.append(k)
                continue
            F.check_kind(frame[k], k, "JoinExternal (key)", _KEY_KINDS)
            if not same_kind:
                msg = (f"JoinExternal: key {k!r} is {ours} in the data but {theirs} in the external frame; cast one "
                       "side so both hold the same kind of value")
                raise SchemaError(msg)
            if not same_zone:
                msg = (f"JoinExternal: key {k!r} is {ours} in the data but {theirs} in the external frame: timestamps "
                       "with a time zone never equal ones without; localize the naive side "
                       f"(s.dt.tz_localize('UTC') or its own zone) or drop the zone (s.dt.tz_localize(None))")
                raise SchemaError(msg)
        if no_kind:  # joined as the nulls they are, in the external key's dtype (a null key matches a null key)
            frame = F.build_frame(frame, {k: self._null_key(frame[k], ext_keys[k]) if k in no_kind else frame[k]
                                          for k in self._on})
        # integer keys are matched in one dtype, exactly (pandas would merge int64 with uint64 through float64)
        return F.left_join(frame, self._external(frame), self._on, self._added())

    @staticmethod
    def _null_key(like: Any, ext_key: Any) -> Any:
        """An all-null series in ``ext_key``'s dtype (its nullable form for NumPy ints and bools), with ``like``'s
        backend, index and name."""
        import numpy as np
        import pandas as pd

        dtype = F.to_pandas(ext_key.head(0).to_frame())[ext_key.name].dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iub":
            dtype = "boolean" if dtype.kind == "b" else f"{'UInt' if dtype.kind == 'u' else 'Int'}{dtype.itemsize * 8}"
        nulls = pd.Series(pd.array([None], dtype=dtype))
        positions = array_namespace(F.missing(like)).zeros(len(like), dtype="int64")
        return F.take_values(like, nulls, positions)

    def to_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}  # the external frame is a parameter, saved as an artifact by the workflow

    def load_state(self, state: dict[str, Any], artifacts: dict[str, Any]) -> None:
        self._validate()
        self._cache = {}
        self.columns_ = self._added()
