"""DateParts against pandas' own datetime accessors."""

from __future__ import annotations

import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import SchemaError


def test_parts_match_pandas(backend: str) -> None:
    t = pd.Series(pd.to_datetime(["2013-01-07 05:06:07", None, "2020-02-29 23:59:00", "1999-12-31 00:00:00"]))
    df = pd.DataFrame({"t": t})
    parts = ("year", "month", "day", "dow", "doy", "hour", "minute", "second")
    out = gp.to_pandas(ops.DateParts(parts=parts).transform(gp.from_pandas(df), ["t"]))
    assert list(out.columns) == [f"t_{p}" for p in parts]
    for p, attr in [("year", "year"), ("month", "month"), ("day", "day"), ("dow", "day_of_week"),
                    ("doy", "day_of_year"), ("hour", "hour"), ("minute", "minute"), ("second", "second")]:
        expected = getattr(t.dt, attr).astype("Int64")
        assert out[f"t_{p}"].astype("Int64").tolist() == expected.tolist(), p
    assert out["t_year"].isna().tolist() == [False, True, False, False]


def test_unknown_part() -> None:
    with pytest.raises(ValueError, match="weekday"):
        ops.DateParts(parts=("weekday",)).output_columns(["t"])


def test_text_dates_refused_with_advice() -> None:
    with pytest.raises(SchemaError, match="to_datetime"):
        ops.DateParts().transform(pd.DataFrame({"t": ["2013-01-01"]}), ["t"])


def test_an_object_column_of_timestamps_is_split_on_its_own() -> None:
    # on its own (no Workflow converting dtypes) the op refused an object column of Timestamps as text to parse
    t = pd.Series([pd.Timestamp("2013-01-07 05:06:07"), None, pd.Timestamp("1969-12-31 23:00")], dtype=object)
    out = ops.DateParts(parts=("year", "dow", "hour")).transform(pd.DataFrame({"t": t}), ["t"])
    ref = pd.to_datetime(t)
    for part, attr in (("year", "year"), ("dow", "day_of_week"), ("hour", "hour")):
        pd.testing.assert_series_equal(out[f"t_{part}"], getattr(ref.dt, attr).astype("Int64"), check_names=False)
