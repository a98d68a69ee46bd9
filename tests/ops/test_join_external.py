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


B = 2**53  # above it float64 has no odd integers: pandas' int64/uint64 merge (through float64) matches B + 1 with B


def _ints(values, dtype):
    """An integer array of ``dtype`` holding ``values`` exactly (pd.array(..., dtype="uint64") rounds values through
    float64 when one is above 2**63 - 1)."""
    return np.array(values, dtype=dtype) if dtype.islower() else pd.array(values, dtype=dtype)


def _exact_merge(data, ext, on, added):
    """pandas' left merge on Python ints (object keys): the exact oracle for integer keys of any width."""
    cast = {k: object for k in on}
    return data[on].astype(cast).merge(ext.astype(cast), on=on, how="left")[added]


@pytest.mark.parametrize(("data_dtype", "ext_dtype"), [("int64", "uint64"), ("uint64", "int64"), ("Int64", "UInt64"),
                                                       ("int32", "uint64"), ("UInt64", "int64")])
def test_integer_keys_of_other_signedness_match_exactly(backend, data_dtype, ext_dtype):
    data = pd.DataFrame({"k": _ints([B + 1, 5, B, 7] if "32" not in data_dtype else [2**31 - 1, 5, 3, 7], data_dtype)})
    # B and B + 1 both in the table (their float64 is one key), a negative value against uint64 data, and a value
    # above 2**63 - 1 against int64 data: neither exists in the data's dtype, so they match nothing
    keys = [B, B + 1, 5] if "32" not in data_dtype else [2**31 - 1, 2**31, 5]
    keys += [-1] if ext_dtype.lower().startswith("int") else [2**63 + 7]
    ext = pd.DataFrame({"k": _ints(keys, ext_dtype), "r": [1.0, 2.0, 3.0, 4.0]})
    op = JoinExternal(ext, on="k").fit(gp.from_pandas(data), ["k"])
    got = gp.to_pandas(op.transform(gp.from_pandas(data), ["k"]))["r"].to_numpy(dtype="float64", na_value=np.nan)
    want = _exact_merge(data, ext, ["k"], ["r"])["r"].to_numpy(dtype="float64", na_value=np.nan)
    np.testing.assert_array_equal(got, want)


def test_multi_column_integer_keys_match_exactly_and_survive_a_save(backend, tmp_path):
    data = pd.DataFrame({"k": np.array([B + 1, B, 7, 2**63 + 1], dtype=np.uint64), "j": ["x", "x", "x", "x"]})
    ext = pd.DataFrame({"k": np.array([B, 7, -3], dtype=np.int64), "j": pd.array(["x", "x", "x"], dtype="str"),
                        "r": [1.0, 2.0, 3.0]})
    want = _exact_merge(data, ext, ["k", "j"], ["r"])["r"].to_numpy(dtype="float64", na_value=np.nan)
    assert np.array_equal(want, [np.nan, 1.0, 2.0, np.nan], equal_nan=True)
    wf = gp.Workflow(["k", "j"] >> JoinExternal(ext, on=["k", "j"]))
    got = gp.to_pandas(wf.fit_transform(gp.from_pandas(data)))["r"].to_numpy(dtype="float64")
    np.testing.assert_array_equal(got, want)
    # the saved external frame reads back with nullable UInt64/Int64 keys: the same rows match
    wf.save(tmp_path / "wf")
    loaded = gp.Workflow.load(tmp_path / "wf")
    np.testing.assert_array_equal(gp.to_pandas(loaded.transform(gp.from_pandas(data)))["r"].to_numpy(dtype="float64"),
                                  want)


def test_a_saved_uint64_external_key_joins_int64_data(tmp_path):
    data = pd.DataFrame({"k": np.array([B + 1, 5], dtype=np.int64)})
    ext = pd.DataFrame({"k": np.array([B, B + 1], dtype=np.uint64), "r": [1.0, 2.0]})
    wf = gp.Workflow(["k"] >> JoinExternal(ext, on="k"))
    first = wf.fit_transform(data)["r"].tolist()
    wf.save(tmp_path / "wf")
    again = gp.Workflow.load(tmp_path / "wf").transform(data)["r"].tolist()
    want = _exact_merge(data, ext, ["k"], ["r"])["r"].tolist()
    assert first[0] == again[0] == want[0] == 2.0
    assert np.isnan(first[1]) and np.isnan(again[1]) and np.isnan(want[1])


def test_keys_read_as_decimals_on_both_sides_join_as_pandas_merges_them(tmp_path):
    # both files hold DECIMAL keys; the data reaches the op as float64 (the dtype rule), and so does the external frame
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    dec = [decimal.Decimal(v) for v in ("1.10", "2.20", "3.30")]
    pq.write_table(pa.table({"k": pa.array(dec, pa.decimal128(5, 2))}), tmp_path / "data.parquet")
    pq.write_table(pa.table({"k": pa.array(dec[:2], pa.decimal128(5, 2)), "v": [10.0, 20.0]}), tmp_path / "ext.parquet")
    with gp.use_backend("pandas"):
        data, ext = gp.read_parquet(tmp_path / "data.parquet"), gp.read_parquet(tmp_path / "ext.parquet")
    want = data.merge(ext, on="k", how="left")["v"].to_numpy()
    np.testing.assert_array_equal(gp.Workflow(["k"] >> JoinExternal(ext, on="k")).fit_transform(data)["v"], want)
    # an external frame of Python ints (object) joins int64 data as the Int64 column it normalises to
    obj = pd.DataFrame({"k": pd.Series([2, 1], dtype=object), "v": [20.0, 10.0]})
    ints = pd.DataFrame({"k": [1, 2, 3]})
    got = gp.Workflow(["k"] >> JoinExternal(obj, on="k")).fit_transform(ints)["v"].to_numpy()
    np.testing.assert_array_equal(got, [10.0, 20.0, np.nan])


def test_timestamp_keys_with_and_without_a_zone_are_refused_by_name():
    naive = pd.to_datetime(["2020-01-01", "2020-01-02"])
    ext = pd.DataFrame({"t": naive, "v": [1.0, 2.0]})
    data = pd.DataFrame({"t": naive.tz_localize("UTC")})
    op = JoinExternal(ext, on="t").fit(data, ["t"])
    with pytest.raises(SchemaError, match=r"key 't'.*UTC.*time zone.*tz_localize"):
        op.transform(data, ["t"])
    # a column of zone-aware timestamps all missing holds no timestamp to compare: its rows match nothing
    nat = pd.DataFrame({"t": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns, UTC]")})
    assert op.transform(nat, ["t"])["v"].isna().all()
    # zones that differ are instants all the same: matched as pandas' merge matches them
    ny = pd.DataFrame({"t": naive.tz_localize("America/New_York"), "v": [1.0, 2.0]})
    utc = pd.DataFrame({"t": pd.to_datetime(["2020-01-01 05:00", "2020-01-03 00:00"], utc=True)})
    got = JoinExternal(ny, on="t").fit(utc, ["t"]).transform(utc, ["t"])["v"].to_numpy()
    np.testing.assert_array_equal(got, utc.merge(ny, on="t", how="left")["v"].to_numpy())



def test_keys_named_in_columns_or_of_list_values_are_refused_by_name():
    ext = pd.DataFrame({"k": [1, 2], "v": [1.0, 2.0]})
    with pytest.raises(gp.ParameterError, match=r"JoinExternal: columns.*\['k'\] is a key"):
        JoinExternal(ext, on="k", columns=["k", "v"]).fit(pd.DataFrame({"k": [1, 2]}), ["k"])
    lists = pd.DataFrame({"k": [[1], [2]], "v": [1.0, 2.0]})
    with pytest.raises(SchemaError, match=r"'k'.*nested"):
        gp.Workflow(["k"] >> JoinExternal(lists, on="k")).fit_transform(pd.DataFrame({"k": [[1], [2]]}))


@pytest.mark.parametrize("empty", [pd.Series([np.nan, np.nan]), pd.Series([None, None], dtype=object),
                                   pd.Series(pd.array([None, None], dtype="Int64")),
                                   pd.Series(pd.array([None, None], dtype="boolean")),
                                   pd.Series(pd.to_datetime([None, None]))])
def test_a_key_all_missing_in_another_dtype_joins_as_its_nulls(backend, empty):
    """A key column with nothing in it (float64 NaN or object None: serving data with no value) carries no kind, as
    in Categorify: its rows join as nulls of the external key's dtype, which is pandas' left merge of the column cast
    to that dtype; a key that still holds a value of another kind is refused."""
    ext = _weather()
    data = pd.DataFrame({"origin": empty, "hour": pd.array([5, 6], dtype="Int64")})
    fitted = pd.DataFrame({"origin": pd.array(["EWR", "JFK"], dtype="str"), "hour": pd.array([5, 6], dtype="Int64")})
    op = JoinExternal(ext, on=["origin", "hour"]).fit(gp.from_pandas(fitted), ["origin", "hour"])
    out = gp.to_pandas(op.transform(gp.from_pandas(data), ["origin", "hour"]))
    want = data.astype({"origin": ext["origin"].dtype}).merge(ext, on=["origin", "hour"], how="left")
    assert list(out.columns) == ["temp", "wind"] and len(out) == 2
    assert out["temp"].isna().all() and out["wind"].isna().all()
    np.testing.assert_array_equal(out["temp"].to_numpy(), want["temp"].to_numpy())
    assert out["wind"].astype("Float64").tolist() == want["wind"].astype("Float64").tolist()
    with pytest.raises(SchemaError, match=r"key 'origin'.*float64.*str"):
        op.transform(gp.from_pandas(pd.DataFrame({"origin": [np.nan, 1.0], "hour": [5, 6]})), ["origin", "hour"])


def test_a_key_all_missing_in_another_dtype_matches_the_external_null_key(backend):
    """A null key matches the external frame's null key (pandas' merge): so does a key column all missing in another
    dtype, as a column of the same dtype holding the same nulls would."""
    ext = pd.DataFrame({"k": pd.array(["a", None], dtype="str"), "v": [1.0, 2.0]})
    op = JoinExternal(ext, on="k").fit(gp.from_pandas(pd.DataFrame({"k": ["a"]})), ["k"])
    same = pd.DataFrame({"k": pd.array([None, None], dtype="str")})
    other = pd.DataFrame({"k": [np.nan, np.nan]})
    want = same.merge(ext, on="k", how="left")["v"].tolist()
    assert want == [2.0, 2.0]
    assert gp.to_pandas(op.transform(gp.from_pandas(same), ["k"]))["v"].tolist() == want
    assert gp.to_pandas(op.transform(gp.from_pandas(other), ["k"]))["v"].tolist() == want
    # through a workflow too (its input is normalised first: an all-None object column becomes float64)
    wf = gp.Workflow(["k"] >> JoinExternal(ext, on="k")).fit(pd.DataFrame({"k": ["a", "b"]}))
    assert wf.transform(pd.DataFrame({"k": pd.Series([None], dtype=object)}))["v"].tolist() == [2.0]
