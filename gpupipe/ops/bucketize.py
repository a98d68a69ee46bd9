"""Bucketize: continuous values to bucket ids by fixed boundaries."""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..backend import array_namespace
from ..backend import frame as F
from ..errors import SchemaError
from .base import ColumnInfo, Op, register_op

__all__ = ["Bucketize"]


@register_op
class Bucketize(Op):
    """Replace numbers by the index of the bucket they fall in.

    With increasing boundaries ``b[0] < ... < b[k-1]`` the id of ``x`` is ``np.digitize(x, b)``
    (``right=False``): ``0`` for ``x < b[0]``, ``i`` for ``b[i-1] <= x < b[i]`` (buckets closed on
    the left, open on the right), ``k`` for ``x >= b[k-1]``. Nulls and NaN get their own id ``k + 1``.
    Comparisons are exact: integer columns are compared with the boundaries as integers (through
    float64, values above 2**53 would round into a neighbouring bucket), and an integer boundary
    is kept exact for float columns too.

    Output: int64, role ``cat``, cardinality ``len(boundaries) + 2`` (the null bucket included).

    Parameters
    ----------
    boundaries : list of numbers, or dict of column name -> list of numbers
        Shared boundaries for every selected column, or one list per column. Must be finite and
        strictly increasing; integers stay integers (saved exactly).

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe.ops import Bucketize
    >>> df = pd.DataFrame({"age": [3.0, 18.0, 40.0, None, 70.0]})
    >>> Bucketize([18, 65]).transform(df, ["age"])["age"].tolist()
    [0, 1, 1, 3, 2]
    """

    def __init__(self, boundaries: Sequence[float] | Mapping[str, Sequence[float]]) -> None:
        self.boundaries = boundaries

    def _check_params(self) -> None:
        b = self.boundaries
        if isinstance(b, Mapping):
            bad = [k for k in b if not isinstance(k, str)]
            if bad or not b:
                from .. import _validate as V

                V.fail("Bucketize", "boundaries", b, "a list of numbers, or a dict of column name -> list of numbers",
                       f"{bad[0]!r} is not a column name" if bad else "the dict is empty")
            for k, v in b.items():
                _check_bounds(v, f"boundaries[{k!r}]")
        else:
            _check_bounds(b, "boundaries")

    def _bounds(self, column: str) -> list[int | float]:
        b = self.boundaries
        if isinstance(b, Mapping):
            if column not in b:
                msg = (f"Bucketize: no boundaries for column {column!r}; boundaries are given for {sorted(b)}. "
                       "Add an entry for it, or pass one list shared by every column")
                raise SchemaError(msg)
            return _check_bounds(b[column], f"boundaries[{column!r}]")
        return _check_bounds(b, "boundaries")

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("int64", "cat", len(self._bounds(c)) + 2, self.boundaries_digest(c)) for c in columns}

    def boundaries_digest(self, column: str) -> str:
        """16 hex digits of the sha256 of ``column``'s boundaries, each as the number it is (``300`` and ``300.0``
        agree): what its ids mean. It goes into the output schema (``properties["vocabulary"]``, as
        :meth:`Categorify.vocabulary_digest` does), so a model trained on ids of some boundaries is not fed ids of
        as many other ones."""
        import hashlib
        import json

        bounds = [int(b) if isinstance(b, float) and b.is_integer() else b for b in self._bounds(column)]
        return hashlib.sha256(json.dumps(["Bucketize", bounds]).encode()).hexdigest()[:16]

    def get_params(self) -> dict[str, Any]:
        b = self.boundaries
        # plain ints and floats, so the parameters are JSON-able even when given as NumPy arrays (ints stay exact)
        try:
            if isinstance(b, Mapping):
                return {"boundaries": {k: [_plain(x) for x in v] for k, v in b.items()}}
            return {"boundaries": [_plain(x) for x in b]}
        except (TypeError, ValueError):  # not boundaries at all: shown as given (repr), refused by _check_params
            return {"boundaries": b}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        frame = self._inputs(frame, columns, "Bucketize")
        out = {}
        for c in columns:
            bounds = self._bounds(c)
            series = frame[c]
            F.check_kind(series, c, "Bucketize", ("int", "float"))
            if F.kind(series) == "int":
                # integers compared with integers: through float64, values above 2**53 would round into the
                # neighbouring bucket
                values, nulls = F.numeric_arrays(series)
                xp = array_namespace(values)
                ids = _int_ids(xp, values, bounds)
            else:
                values, nulls = F.numeric_arrays(series, dtype="float64", fill=0.0)
                xp = array_namespace(values)
                cuts = xp.asarray([_float_cut(b) for b in bounds], dtype=xp.float64)
                ids = xp.searchsorted(cuts, values, side="right").astype(xp.int64)
                nulls = nulls | xp.isnan(values)
            ids[nulls] = len(bounds) + 1
            out[c] = ids
        return F.build_frame(frame, out)


def _plain(x: Any) -> int | float:
    from .. import _validate as V

    return int(x) if V.is_integer(x) else float(x)


def _float_cut(b: int | float) -> float:
    """The least float64 at or above ``b``: for a float ``x``, ``b <= x`` exactly when ``_float_cut(b) <= x``
    (an integer boundary above 2**53 may have no float of its own)."""
    try:
        f = float(b)
    except OverflowError:  # an integer beyond float64 (10**400): above every finite float, or below every one
        return math.inf if b > 0 else -sys.float_info.max
    return math.nextafter(f, math.inf) if f < b else f


def _int_ids(xp: Any, values: Any, bounds: list[int | float]) -> Any:
    """Bucket ids of integer ``values`` (an integer array of the column's dtype), compared exactly: for an integer
    ``x``, ``b <= x`` exactly when ``ceil(b) <= x``, and ``ceil(b)`` is compared in the column's own dtype."""
    import numpy as np

    info = np.iinfo(values.dtype)
    cuts = [b if isinstance(b, int) else math.ceil(b) for b in bounds]
    below = sum(1 for t in cuts if t <= info.min)  # at or below every value the dtype holds
    inside = [t for t in cuts if info.min < t <= info.max]  # those above info.max are above every value
    ids = xp.searchsorted(xp.asarray(inside, dtype=values.dtype), values, side="right").astype(xp.int64)
    if below:
        ids += below
    return ids


def _check_bounds(b: Any, name: str) -> list[int | float]:
    """Boundaries as Python numbers (integers kept exact, other numbers as floats): a non-empty list (tuple,
    array) of finite, strictly increasing real numbers."""
    from .. import _validate as V

    accepted = "a non-empty list of finite, strictly increasing numbers"
    values = V.sequence_of(b)
    if values is None:
        V.fail("Bucketize", name, b, accepted)
    numbers = [int(v) if V.is_integer(v) else V.number(v, f"each of {name}", "Bucketize") for v in values]
    if not numbers:
        V.fail("Bucketize", name, b, accepted)
    if any(x >= y for x, y in itertools.pairwise(numbers)):  # Python compares ints and floats exactly
        V.fail("Bucketize", name, b, accepted, "sort them and drop repeats")
    return numbers  # type: ignore[return-value]
