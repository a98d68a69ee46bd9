"""DateParts: calendar fields (year, month, day, weekday, hour...) of datetime columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import Dispatch
from ._columns import frame_like, require_kind
from .base import ColumnInfo, Op, register_op

__all__ = ["PARTS", "DateParts"]

# part name -> datetime accessor attributes, preferred first: pandas 3 deprecates `dayofweek`
# and `weekday` for `day_of_week`, which cuDF's accessor may lack.
PARTS = {
    "year": ("year",), "month": ("month",), "day": ("day",), "dow": ("day_of_week", "dayofweek"),
    "doy": ("day_of_year", "dayofyear"), "hour": ("hour",), "minute": ("minute",), "second": ("second",),
}


def _field(accessor: Any, names: tuple[str, ...]) -> Any:
    for name in names[:-1]:
        if hasattr(type(accessor), name):
            return getattr(accessor, name)
    return getattr(accessor, names[-1])


@register_op
class DateParts(Op):
    """Split each datetime column into ``<column>_<part>`` integer columns.

    Parameters
    ----------
    parts : sequence of str, default ("year", "month", "day", "dow", "hour")
        Any of ``year``, ``month`` (1-12), ``day`` (1-31), ``dow`` (day of week, Monday = 0),
        ``doy`` (day of year, 1-366), ``hour``, ``minute``, ``second``.

    Notes
    -----
    Outputs are int64 with nulls where the timestamp is null (pandas' nullable ``Int64``, as for
    integer columns read from files). Their role is left open, so they end up continuous unless a
    later op (for example ``Categorify``) encodes them. Timezone-aware columns give local fields.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> df = pd.DataFrame({"t": pd.to_datetime(["2013-01-07 05:00"])})
    >>> out = ops.DateParts(parts=("month", "dow", "hour")).transform(df, ["t"])
    >>> out.iloc[0].tolist()
    [1, 0, 5]
    """

    def __init__(self, parts: Sequence[str] = ("year", "month", "day", "dow", "hour")) -> None:
        self.parts = parts

    def _parts(self) -> list[str]:
        parts = [self.parts] if isinstance(self.parts, str) else list(self.parts)
        unknown = [p for p in parts if p not in PARTS]
        if unknown or not parts:
            msg = f"DateParts(parts={self.parts!r}): unknown or no parts {unknown}; choose from {list(PARTS)}"
            raise ValueError(msg)
        return parts

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        return [f"{c}_{p}" for c in columns for p in self._parts()]

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {name: ColumnInfo("int64") for name in self.output_columns(columns)}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        parts = self._parts()
        self._require(frame, columns, "DateParts")
        require_kind(frame, columns, "DateParts", ["datetime"],
                     "Parse text dates first (pandas.to_datetime, or a dtype when reading the file)")
        data = {}
        for c in columns:
            accessor = frame[c].dt
            for p in parts:
                data[f"{c}_{p}"] = _as_int64(_field(accessor, PARTS[p]))
        return frame_like(frame, data)


_as_int64 = Dispatch("as_int64", doc="Integer series (nulls kept) as int64: nullable Int64 on pandas.")


@_as_int64.register("pandas")
def _as_int64_pandas(series: Any) -> Any:
    return series.astype("Int64")  # pandas gives float64 with NaN when a timestamp is NaT


@_as_int64.register("cudf")
def _as_int64_cudf(series: Any) -> Any:
    return series.astype("int64")
