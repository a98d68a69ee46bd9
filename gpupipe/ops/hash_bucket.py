"""HashBucket: categorical ids by hashing values into a fixed number of buckets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import array_namespace
from ..backend import frame as F
from .base import ColumnInfo, Op, register_op

__all__ = ["HashBucket"]

_KINDS = ("int", "bool", "float", "str")
NULL_BUCKET = 0


@register_op
class HashBucket(Op):
    """Map each value to ``murmur3(value) % num_buckets``, identically on cuDF and pandas.

    The hash is MurmurHash3_x86_32 with seed 0 over the value's canonical bytes: integers and
    booleans as little-endian int64 (so ``Int32`` and ``int64`` columns agree), floats as float64,
    strings as UTF-8; cuDF computes it with ``Series.hash_values(method="murmur3")``, pandas with
    the same algorithm in NumPy (see :mod:`gpupipe.backend._murmur3`). Nulls (and float NaN) go to
    bucket ``0``, which they share with the values that hash there.

    Output: int64 ids in ``[0, num_buckets)``, role ``cat``, cardinality ``num_buckets``. No fit needed.
    Integers and floats hash apart (``3`` and ``3.0`` land in other buckets), so in a Workflow a column that
    reaches HashBucket holding integers at fit and floats at transform (an integer column with nulls read by
    ``pd.read_parquet``), or the reverse, is a :class:`~gpupipe.errors.SchemaError` naming it.

    Parameters
    ----------
    num_buckets : int
        Number of buckets (>= 1).

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe.ops import HashBucket
    >>> df = pd.DataFrame({"city": ["Paris", "Lima", None, "Paris"]})
    >>> ids = HashBucket(1000).transform(df, ["city"])["city"].tolist()
    >>> ids[0] == ids[3], ids[2]
    (True, 0)
    """

    #: 3 and 3.0 hash apart: in a Workflow, a column fitted as integers and given as floats is refused
    numeric_kind_matters = True

    def __init__(self, num_buckets: int) -> None:
        self.num_buckets = num_buckets

    def _check_params(self) -> None:
        from .. import _validate as V

        # the hash is 32 bits: more buckets than 2**32 - 1 could never be reached
        self.num_buckets = V.integer(self.num_buckets, "num_buckets", "HashBucket", min_value=1, max_value=2**32 - 1)

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        self._check_params()
        return {c: ColumnInfo("int64", "cat", self.num_buckets) for c in columns}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._check_params()
        frame = self._inputs(frame, columns, "HashBucket")
        out = {}
        for c in columns:
            series = frame[c]
            F.check_kind(series, c, "HashBucket", _KINDS)
            hashed, nulls = F.hash_values(series, 0)
            xp = array_namespace(hashed)
            ids = (hashed % xp.uint32(self.num_buckets)).astype(xp.int64)
            ids[nulls] = NULL_BUCKET
            out[c] = ids
        return F.build_frame(frame, out)
