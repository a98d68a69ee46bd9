"""JoinExternal against pandas' left merge: row order and count kept, duplicate keys refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe.errors import DataError, SchemaError
from gpupipe.ops import JoinExternal


def _weather():
    return pd.DataFrame({"origin": pd.array(["EWR", "JFK", "LGA", "EWR"], dtype="str"),
                         "hour": pd.array([5, 5, 6, 6], dtype="Int64"),
                         "temp": [10.5, 11.0, np.nan, 12.5], "wind": pd.array([3, 4, 5, 6], dtype="Int64")})


def test_matches_pandas_left_merge(backend):
    rng = np.random.default_rng(0)
    flights = pd.DataFrame({"origin": pd.array(rng.choice(["EWR", "JFK", "LGA", "XXX"], 200), dtype="str"),
                            "hour": pd.array(rng.integers(4, 8, 200), dtype="Int64")}, index=np.arange(200)[::-1])
    op = JoinExternal(_weather(), on=["origin", "hour"]).fit(gp.from_pandas(flights), ["origin", "hour"])
    out = gp.to_pandas(op.transform(gp.from_pandas(flights), ["origin", "hour"]))
    want = flights.merge(_weather(), on=["origin", "hour"], how="left")
    assert len(out) == len(flights) and list(out.index) == list(flights.index)
    assert list(out.columns) == ["temp", "wind"]
    np.testing.assert_array_equal(out["temp"].to_numpy(), want["temp"].to_numpy())
    assert out["wind"].astype("Float64").tolist() == want["wind"].astype("Float64").tolist()


def test_columns_subset_and_single_key():
    ext = pd.DataFrame({"k": [1, 2, 3], "a": [0.1, 0.2, 0.3], "b": ["x", "y", "z"]})
    data = pd.DataFrame({"k": [3, 3, 9, 1]})
    out = JoinExternal(ext, on="k", columns=["b"]).fit(data, ["k"]).transform(data, ["k"])
    assert list(out.columns) == ["b"]
    assert out["b"].tolist()[:2] == ["z", "z"] and pd.isna(out["b"].iloc[2]) and out["b"].iloc[3] == "x"


def test_duplicate_keys_are_refused_naming_the_key():
    ext = _weather()
    ext.loc[3, "origin"], ext.loc[3, "hour"] = "EWR", 5
    with pytest.raises(DataError, match=r"\['origin', 'hour'\].*EWR"):
        JoinExternal(ext, on=["origin", "hour"]).fit(pd.DataFrame({"origin": ["EWR"], "hour": [5]}), ["origin"])


def test_errors():
    data = pd.DataFrame({"origin": ["EWR"], "hour": [5]})
    with pytest.raises(ValueError, match="how='left'"):
        JoinExternal(_weather(), on="origin", how="inner").fit(data, ["origin"])
    with pytest.raises(SchemaError, match="'nope'"):
        JoinExternal(_weather(), on="nope").fit(data, ["origin"])
    op = JoinExternal(_weather().drop_duplicates("origin"), on="origin").fit(data, ["origin"])
    with pytest.raises(SchemaError, match="'origin'"):
        op.transform(pd.DataFrame({"x": [1]}), ["x"])
    with pytest.raises(SchemaError, match=r"'origin'.*int"):
        op.transform(pd.DataFrame({"origin": [1]}), ["origin"])


def test_flights_weather():
    with gp.use_backend("pandas"):
        data = gp.datasets.flights()
    flights = data["flights"].head(5000)
    weather = data["weather"]
    keys = ["origin", "year", "month", "day", "hour"]
    weather = weather.drop_duplicates(subset=keys)
    op = JoinExternal(weather, on=keys, columns=["temp", "visib"]).fit(flights, keys)
    out = op.transform(flights, keys)
    want = flights[keys].merge(weather[[*keys, "temp", "visib"]], on=keys, how="left")
    assert len(out) == len(flights)
    np.testing.assert_array_equal(out["temp"].to_numpy(dtype="float64", na_value=np.nan),
                                  want["temp"].to_numpy(dtype="float64", na_value=np.nan))
