"""Bucketize: continuous values to bucket ids by fixed boundaries."""

from __future__ import annotations

import itertools
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

    Output: int64, role ``cat``, cardinality ``len(boundaries) + 2`` (the null bucket included).

    Parameters
    ----------
    boundaries : list of float, or dict of column name -> list of float
        Shared boundaries for every selected column, or one list per column. Must be finite and
        strictly increasing.

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

    def _bounds(self, column: str) -> list[float]:
        b = self.boundaries
        if isinstance(b, Mapping):
            if column not in b:
                msg = (f"Bucketize: no boundaries for column {column!r}; boundaries are given for {sorted(b)}. "
                       "Add an entry for it, or pass one list shared by every column")
                raise SchemaError(msg)
            return _check_bounds(b[column], f"boundaries[{column!r}]")
        return _check_bounds(b, "boundaries")

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {c: ColumnInfo("int64", "cat", len(self._bounds(c)) + 2) for c in columns}

    def get_params(self) -> dict[str, Any]:
        b = self.boundaries
        # plain floats, so the parameters are JSON-able even when given as NumPy arrays
        try:
            if isinstance(b, Mapping):
                return {"boundaries": {k: [float(x) for x in v] for k, v in b.items()}}
            return {"boundaries": [float(x) for x in b]}
        except (TypeError, ValueError):  # not boundaries at all: shown as given (repr), refused by _check_params
            return {"boundaries": b}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._require(frame, columns, "Bucketize")
        out = {}
        for c in columns:
            bounds = self._bounds(c)
            series = frame[c]
            F.check_kind(series, c, "Bucketize", ("int", "float"))
            values, nulls = F.numeric_arrays(series, dtype="float64", fill=0.0)
            xp = array_namespace(values)
            ids = xp.searchsorted(xp.asarray(bounds, dtype=xp.float64), values, side="right").astype(xp.int64)
            ids[nulls | xp.isnan(values)] = len(bounds) + 1
            out[c] = ids
        return F.build_frame(frame, out)


def _check_bounds(b: Any, name: str) -> list[float]:
    """Boundaries as floats: a non-empty list (tuple, array) of finite, strictly increasing real numbers."""
    from .. import _validate as V

    accepted = "a non-empty list of finite, strictly increasing numbers"
    values = V.sequence_of(b)
    if values is None:
        V.fail("Bucketize", name, b, accepted)
    floats = [V.number(v, f"each of {name}", "Bucketize") for v in values]
    if not floats:
        V.fail("Bucketize", name, b, accepted)
    if any(x >= y for x, y in itertools.pairwise(floats)):
        V.fail("Bucketize", name, b, accepted, "sort them and drop repeats")
    return floats  # type: ignore[return-value]
