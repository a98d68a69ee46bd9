"""JoinGroupby against a pandas groupby + merge oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stat_helpers import Partitioned, save_load

import gpupipe as gp
from gpupipe.errors import DataError, NotFittedError, SchemaError
from gpupipe.ops import ColumnInfo, JoinGroupby

STATS = ("count", "sum", "mean", "std", "var", "min", "max")


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 3, n)
    x[::13] = np.nan
    return pd.DataFrame({"shop": pd.array([f"s{v}" for v in rng.integers(0, 8, n)], dtype="str"),
                         "day": pd.array(rng.integers(0, 4, n), dtype="Int32"), "x": x,
                         "q": pd.array(rng.integers(0, 100, n), dtype="Int64")})


def _oracle(fit, new, keys, cont, fill=0.0):
    g = fit.groupby(keys, dropna=True)[cont]
    table = pd.DataFrame({"count": g.count(), "sum": g.sum(), "mean": g.mean(), "std": g.std(ddof=0),
                          "var": g.var(ddof=0), "min": g.min(), "max": g.max()}).reset_index()
    merged = new[keys].merge(table, on=keys, how="left")
    merged["count"] = merged["count"].fillna(0)
    return merged.fillna(fill)


def test_single_and_multi_keys_match_pandas(backend):
    fit, new = _data(), _data(80, seed=5)
    new.loc[0, "shop"] = "unseen"
    new.loc[1, "day"] = None
    op = JoinGroupby(["x", "q"], stats=STATS, keys=["shop", ["shop", "day"]], fill_value=-1.0)
    op.fit(gp.from_pandas(fit), ["shop", "day"])
    out = gp.to_pandas(op.transform(gp.from_pandas(new), ["shop", "day"]))
    assert list(out.columns) == op.output_columns(["shop", "day"])
    for keys, prefix in ((["shop"], "shop"), (["shop", "day"], "shop_day")):
        for cont in ("x", "q"):
            want = _oracle(fit.astype({"q": "float64"}), new, keys, cont, fill=-1.0)
            for s in STATS:
                got = out[f"{prefix}_{cont}_{s}"]
                assert str(got.dtype) == "float32"
                np.testing.assert_allclose(got.to_numpy(), want[s].to_numpy(dtype="float64"), rtol=1e-5,
                                           err_msg=f"{prefix}_{cont}_{s}")
    assert out["shop_x_count"].iloc[0] == 0 and out["shop_x_mean"].iloc[0] == -1


def test_selected_columns_are_keys_by_default():
    df = _data()
    op = JoinGroupby(["x"], stats=("mean",)).fit(df, ["shop", "day"])
    assert op.output_columns(["shop", "day"]) == ["shop_x_mean", "day_x_mean"]
    assert op.required_columns(["shop", "day"]) == ["x"]
    assert op.output_info(["shop"], {"shop": ColumnInfo("str")}) == {"shop_x_mean": ColumnInfo("float32", "cont")}


@settings(max_examples=25, deadline=None)
@given(keys=st.lists(st.integers(0, 4), min_size=1, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=5),
       data=st.data())
def test_partitioned_fit_equals_in_memory(keys, cuts, data):
    vals = data.draw(st.lists(st.one_of(st.none(), st.floats(-1e3, 1e3)), min_size=len(keys), max_size=len(keys)))
    df = pd.DataFrame({"k": pd.array(keys, dtype="Int64"), "v": pd.array(vals, dtype="Float64")})
    a = JoinGroupby(["v"], stats=STATS).fit(df, ["k"])
    b = JoinGroupby(["v"], stats=STATS).fit(Partitioned(df, cuts), ["k"])
    pd.testing.assert_frame_equal(a.transform(df, ["k"]), b.transform(df, ["k"]), rtol=1e-4, atol=1e-3)


def test_save_load(backend):
    df = _data()
    op = JoinGroupby(["x"], stats=("count", "std"), keys=[["shop", "day"]]).fit(gp.from_pandas(df), ["shop", "day"])
    loaded = save_load(op, JoinGroupby(["x"], stats=("count", "std"), keys=[["shop", "day"]]))
    pd.testing.assert_frame_equal(gp.to_pandas(op.transform(gp.from_pandas(df), ["shop", "day"])),
                                  gp.to_pandas(loaded.transform(gp.from_pandas(df), ["shop", "day"])))


def test_errors():
    df = _data(20)
    with pytest.raises(NotFittedError):
        JoinGroupby(["x"]).transform(df, ["shop"])
    with pytest.raises(SchemaError, match="'nope'"):
        JoinGroupby(["x"]).fit(df, ["nope"])
    with pytest.raises(SchemaError, match="'zz'"):
        JoinGroupby(["zz"]).fit(df, ["shop"])
    with pytest.raises(SchemaError, match="'shop'"):
        JoinGroupby(["shop"]).fit(df, ["day"])
    with pytest.raises(ValueError, match="median"):
        JoinGroupby(["x"], stats=("median",)).fit(df, ["shop"])
    with pytest.raises(SchemaError, match="'x'"):
        JoinGroupby(["q"]).fit(df, ["x"])


B = 2**53  # above it float64 has no odd integers: an int64/uint64 merge through float64 matches B + 1 with B


def _exact_oracle(fit, new, keys, cont):
    """count and mean per key group by pandas on Python ints (object keys): exact for integers of any width."""
    cast = {k: object for k in keys}
    g = fit.astype(cast).groupby(keys, dropna=True)[cont]
    table = pd.DataFrame({"count": g.count(), "mean": g.mean()}).reset_index()
    merged = new[keys].astype(cast).merge(table, on=keys, how="left")
    return merged.fillna({"count": 0.0, "mean": 0.0})


@pytest.mark.parametrize(("fit_dtype", "new_dtype"), [("int64", "uint64"), ("uint64", "int64"), ("int64", "UInt64")])
def test_multi_column_integer_keys_of_other_signedness_match_exactly(backend, fit_dtype, new_dtype):
    big = 2**63 + 1 if fit_dtype == "uint64" else -1  # a value the other dtype cannot hold: it matches nothing
    fit = pd.DataFrame({"k": np.array([B, B, 7, big], dtype=fit_dtype), "j": ["x"] * 4, "v": [1.0, 3.0, 5.0, 9.0]})
    values = [B + 1, 7, B, 2**63 + 1 if new_dtype.lower() == "uint64" else -1]
    new = pd.DataFrame({"k": np.array(values, dtype=new_dtype.lower()), "j": ["x"] * 4})
    new["k"] = new["k"].astype(new_dtype)
    op = JoinGroupby(["v"], stats=("count", "mean"), keys=[["k", "j"]]).fit(gp.from_pandas(fit), ["k", "j"])
    out = gp.to_pandas(op.transform(gp.from_pandas(new), ["k", "j"]))
    want = _exact_oracle(fit, new, ["k", "j"], "v")
    np.testing.assert_array_equal(out["k_j_v_count"].to_numpy(), want["count"].to_numpy(dtype="float32"))
    np.testing.assert_array_equal(out["k_j_v_mean"].to_numpy(), want["mean"].to_numpy(dtype="float32"))
    assert out["k_j_v_count"].tolist()[:3] == [0.0, 1.0, 2.0]


def test_dataset_fit_of_uint64_keys_equals_the_in_memory_fit():
    # partitions of values below 2**63 canonicalise to int64, others to uint64: combined exactly, not in float64
    df = pd.DataFrame({"k": np.array([B, B + 1, 2**63 + 5, B + 1, 7, 2**63 + 5], dtype=np.uint64),
                       "j": ["x"] * 6, "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    for keys in (None, [["k", "j"]]):
        a = JoinGroupby(["v"], stats=("count", "mean"), keys=keys).fit(df, ["k", "j"])
        b = JoinGroupby(["v"], stats=("count", "mean"), keys=keys).fit(Partitioned(df, [2, 4]), ["k", "j"])
        pd.testing.assert_frame_equal(a.transform(df, ["k", "j"]), b.transform(df, ["k", "j"]))
        name = "k" if keys is None else "k_j"
        assert b.table(name)["k"].dtype == np.uint64
        want = _exact_oracle(df, df, ["k"] if keys is None else ["k", "j"], "v")
        np.testing.assert_array_equal(b.transform(df, ["k", "j"])[f"{name}_v_count"].to_numpy(),
                                      want["count"].to_numpy(dtype="float32"))
        np.testing.assert_array_equal(b.transform(df, ["k", "j"])[f"{name}_v_mean"].to_numpy(),
                                      want["mean"].to_numpy(dtype="float32"))
    wf = gp.Workflow(["k"] >> JoinGroupby(["v"], stats=("count", "mean")))
    pd.testing.assert_frame_equal(wf.fit(gp.Dataset(df, partition_rows=2)).transform(df),
                                  gp.Workflow(["k"] >> JoinGroupby(["v"], stats=("count", "mean"))).fit_transform(df))


@pytest.mark.parametrize(("fitted", "given"), [([0, 1, 1, 0], [False, True]), ([False, True, True, False], [0, 1])])
def test_a_key_of_another_kind_than_fitted_is_refused(fitted, given):
    wf = gp.Workflow(["k"] >> JoinGroupby(["v"], stats=("count",)))
    wf.fit(pd.DataFrame({"k": fitted, "v": [1.0, 2.0, 3.0, 4.0]}))
    with pytest.raises(SchemaError, match=r"'k'.*fitted on (int|bool) values.*holds (bool|int) values.*astype"):
        wf.transform(pd.DataFrame({"k": given}))
    op = JoinGroupby(["v"], keys=[["k", "j"]]).fit(pd.DataFrame({"k": fitted, "j": "x", "v": 1.0}), ["k", "j"])
    with pytest.raises(SchemaError, match="'k'"):
        op.transform(pd.DataFrame({"k": given, "j": "x"}), ["k", "j"])


@pytest.mark.parametrize("empty", [[None, None], [np.nan, np.nan]])
def test_a_key_all_missing_at_transform_is_unseen_whatever_its_dtype(empty):
    wf = gp.Workflow(["k"] >> JoinGroupby(["v"], stats=("count", "mean"), fill_value=-1.0))
    wf.fit(pd.DataFrame({"k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]}))
    out = wf.transform(pd.DataFrame({"k": empty}))  # float64 or object: no kind
    assert out["k_v_count"].tolist() == [0.0, 0.0] and out["k_v_mean"].tolist() == [-1.0, -1.0]


def test_count_encoding_with_the_key_among_the_values(backend):
    df = pd.DataFrame({"k": pd.array([1, 1, 2, None, 1, 3], dtype="Int64"), "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    want = df.groupby("k")["k"].count()
    wf = gp.Workflow(["k"] >> JoinGroupby(["k"], stats=("count",)))
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(df)))
    expected = df["k"].map(want).fillna(0).to_numpy(dtype="float32")
    np.testing.assert_array_equal(out["k_k_count"].to_numpy(), expected)
    # also beside another value column, on partitions
    op = JoinGroupby(["k", "v"], stats=("count", "mean")).fit(Partitioned(df, [2, 4]), ["k"])
    got = op.transform(df, ["k"])
    np.testing.assert_array_equal(got["k_k_count"].to_numpy(), expected)
    np.testing.assert_array_equal(got["k_k_mean"].to_numpy(), df["k"].to_numpy(dtype="float32", na_value=0.0))
    np.testing.assert_allclose(got["k_v_mean"].to_numpy(),
                               df["k"].map(df.groupby("k")["v"].mean()).fillna(0).to_numpy(dtype="float32"))


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_values_are_refused_naming_the_column(bad):
    df = pd.DataFrame({"k": ["a"] * 4, "v": [bad, 1.0, 2.0, 3.0], "w": [1.0, 2.0, 3.0, 4.0]})
    for data in (df, Partitioned(df, [2])):
        with pytest.raises(DataError, match=r"JoinGroupby: column 'v' \(cont_cols\) holds 1 infinite"):
            JoinGroupby(["w", "v"], stats=("std",)).fit(data, ["k"])
    with pytest.raises(DataError, match="'v'"):
        gp.Workflow(["k"] >> JoinGroupby(["v"], stats=("std",))).fit(gp.Dataset(df, partition_rows=2))


def test_count_min_and_max_hold_with_infinite_values_as_pandas_gives_them():
    df = pd.DataFrame({"k": [1, 1, 2, 2], "x": [1.0, np.inf, 3.0, -np.inf]})
    want = df.groupby("k")["x"].agg(["count", "min", "max"])
    for data in (df, gp.Dataset(df, partition_rows=1)):
        wf = gp.Workflow(["k"] >> JoinGroupby(["x"], stats=("count", "min", "max"))).fit(data)
        out = wf.transform(df)
        for s in ("count", "min", "max"):
            np.testing.assert_array_equal(out[f"k_x_{s}"].to_numpy(dtype="float64"),
                                          df["k"].map(want[s]).to_numpy(dtype="float64"))
    with pytest.raises(DataError, match=r"no mean to join.*count, min and max"):
        gp.Workflow(["k"] >> JoinGroupby(["x"], stats=("count", "mean"))).fit(df)


@pytest.mark.parametrize("dtype", ["int64", "Int64", "uint64"])
def test_sums_and_means_of_large_integers_do_not_wrap(backend, dtype):
    # pandas' int64 groupby sum wraps past 2**63 (2**62 + 2**62 gave -2**63, a mean of -4.6e18); the statistics are
    # sums of float64 values, as pandas' own groupby mean gives them, on every backend
    big = 2**63 if dtype == "uint64" else 2**62
    df = pd.DataFrame({"k": ["a", "a", "b", "b"], "x": pd.array([big, big, 5, 7], dtype=dtype)})
    want = df.astype({"x": "float64"}).groupby("k")["x"].agg(["sum", "mean"])
    for data in (gp.from_pandas(df), Partitioned(df, [1, 3])):
        op = JoinGroupby(["x"], stats=("sum", "mean", "std")).fit(data, ["k"])
        out = gp.to_pandas(op.transform(gp.from_pandas(df), ["k"]))
        np.testing.assert_allclose(out["k_x_sum"].to_numpy(dtype="float64"), df["k"].map(want["sum"]), rtol=1e-6)
        np.testing.assert_allclose(out["k_x_mean"].to_numpy(dtype="float64"), df["k"].map(want["mean"]), rtol=1e-6)
        assert out["k_x_mean"].tolist()[:2] == [float(np.float32(big))] * 2
        assert out["k_x_std"].tolist() == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("cats", [[10, 3, 1], [10.0, 3.5, 1.0]])
def test_a_categorical_of_numbers_is_summarised_by_its_values(backend, cats):
    # pandas does not sum a categorical (TypeError: category type does not support sum operations); its values are
    # numbers, read as Normalize reads them: the statistics are those of the plain column, whatever the category order
    values = [cats[2], cats[1], cats[0], None, cats[1]]
    df = pd.DataFrame({"k": ["a", "a", "b", "b", "b"],
                       "v": pd.Series(values, dtype=pd.CategoricalDtype(cats, ordered=True))})
    plain = df.assign(v=df["v"].astype("float64"))
    want = gp.Workflow(["k"] >> JoinGroupby(["v"], stats=STATS)).fit_transform(plain)
    assert want["k_v_sum"].tolist() == [float(cats[2] + cats[1])] * 2 + [float(cats[0] + cats[1])] * 3
    for data in (gp.from_pandas(df), Partitioned(df, [2]), gp.Dataset(df, partition_rows=2)):
        if isinstance(data, Partitioned):
            op = JoinGroupby(["v"], stats=STATS).fit(data, ["k"])
            out = gp.to_pandas(op.transform(gp.from_pandas(df), ["k"]))
        else:
            out = gp.to_pandas(gp.Workflow(["k"] >> JoinGroupby(["v"], stats=STATS)).fit(data).transform(df))
        pd.testing.assert_frame_equal(out, want, rtol=1e-6)
    text = df.assign(v=pd.Series(["x", "y", "x", None, "y"], dtype="category"))
    with pytest.raises(SchemaError, match=r"JoinGroupby \(cont_cols\): column 'v' has dtype category \(str values\)"):
        JoinGroupby(["v"], stats=("sum",)).fit(text, ["k"])


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the DataError alone: no NumPy warning first
def test_statistics_beyond_float32_or_float64_are_a_data_error_naming_the_column() -> None:
    """Group statistics past float32's range became inf in the float32 output, and a sum past float64's range gave an
    inf mean (and std 0), silently; both are refused by name, in memory and on partitions."""
    df = pd.DataFrame({"k": [1, 1, 2], "x": [1e300, 1e300, 1.0]})
    for data in (df, Partitioned(df, [1, 2])):
        op = JoinGroupby(["x"], stats=("min", "max")).fit(data, ["k"])
        with pytest.raises(DataError, match=r"JoinGroupby: output column 'k_x_min' has 2 finite value.*1e\+300"):
            op.transform(df, ["k"])
    df = pd.DataFrame({"k": [1, 1, 2], "x": [1.7e308, 1.7e308, 1.0]})
    for data in (df, Partitioned(df, [1, 2])):
        with pytest.raises(DataError, match=r"JoinGroupby: column 'x' holds values too large for their mean/std"):
            JoinGroupby(["x"], stats=("mean", "std")).fit(data, ["k"])
    # count, min and max of such values are fine in float64; only float32 cannot hold them
    op = JoinGroupby(["x"], stats=("count",)).fit(df, ["k"])
    assert op.transform(df, ["k"])["k_x_count"].tolist() == [2.0, 2.0, 1.0]


def test_float32_values_are_summarised_in_float64_as_pandas_does_their_float64_values() -> None:
    """A float32 column was grouped in float32: over 200,000 values near 1e4 the std was off by 1.6e-5 of itself
    (270 float32 ulps) and the sum rounded to float32, differently in memory and on partitions."""
    rng = np.random.default_rng(0)
    x = (rng.random(200_000) * 1000 + 1e4).astype(np.float32)
    df = pd.DataFrame({"k": rng.integers(0, 2, len(x)), "x": x})
    ref = df.assign(x=df["x"].astype("float64")).groupby("k")["x"].agg(["sum", "mean", lambda v: v.std(ddof=0)])
    for data in (df, Partitioned(df, [7, 50_000, 150_001])):
        t = JoinGroupby(["x"], stats=("sum", "mean", "std")).fit(data, ["k"]).table("k").set_index("k")
        np.testing.assert_allclose(t.to_numpy(), ref.loc[t.index].to_numpy(), rtol=1e-9)
