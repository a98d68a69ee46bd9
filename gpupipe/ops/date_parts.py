"""DateParts: calendar fields (year, month, day, weekday, hour...) of datetime columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import frame as F
from .base import ColumnInfo, Op, register_op

__all__ = ["PARTS", "DateParts"]

PARTS = F.DATE_PARTS


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

    def _check_params(self) -> None:
        self._parts()

    def _parts(self) -> list[str]:
        from .. import _validate as V

        parts = V.name_list(self.parts, "parts", "DateParts", what=f"date parts ({', '.join(PARTS)})")
        unknown = [p for p in parts if p not in PARTS]  # type: ignore[union-attr]
        if unknown:
            V.fail("DateParts", "parts", self.parts, f"a list of parts from {list(PARTS)}", f"{unknown} are not parts")
        return parts  # type: ignore[return-value]

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        return [f"{c}_{p}" for c in columns for p in self._parts()]

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        return {name: ColumnInfo("int64") for name in self.output_columns(columns)}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        parts = self._parts()
        frame = self._inputs(frame, columns, "DateParts")
        F.require_kinds(frame, columns, "DateParts", ["datetime"],
                        "Parse text dates first (pandas.to_datetime, or a dtype when reading the file)")
        return F.build_frame(frame, {f"{c}_{p}": F.date_part(frame[c], p) for c in columns for p in parts})
