"""TargetEncoding against scikit-learn's TargetEncoder and a pandas oracle of the out-of-fold formula."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import mmh3_hash
from hypothesis import given, settings
from hypothesis import strategies as st
from stat_helpers import Partitioned, save_load

import gpupipe as gp
from gpupipe.errors import DataError, NotFittedError, SchemaError
from gpupipe.ops import ColumnInfo, TargetEncoding


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"c": pd.array(rng.integers(0, 15, n), dtype="Int32"),
                         "s": pd.array([f"k{v}" for v in rng.integers(0, 6, n)], dtype="str"),
                         "y": rng.random(n)})


def test_transform_matches_sklearn(backend):
    from sklearn.preprocessing import TargetEncoder

    df = _data()
    te = TargetEncoding("y", smoothing=7.5).fit(gp.from_pandas(df), ["c", "s"])
    new = pd.DataFrame({"c": pd.array([0, 3, 14, 99], dtype="Int32"), "s": pd.array(["k0", "k5", "zz", "k1"], dtype="str")})
    out = gp.to_pandas(te.transform(gp.from_pandas(new), ["c", "s"]))
    assert list(out.columns) == ["TE_c_y", "TE_s_y"] and str(out["TE_c_y"].dtype) == "float32"
    for col in ("c", "s"):
        sk = TargetEncoder(target_type="continuous", smooth=7.5).fit(df[[col]].astype(object).to_numpy(), df["y"])
        want = sk.transform(new[[col]].astype(object).to_numpy()).ravel()
        np.testing.assert_allclose(out[f"TE_{col}_y"].to_numpy(), want, rtol=1e-6)
    assert out["TE_c_y"].iloc[3] == pytest.approx(df["y"].mean(), rel=1e-6)  # unseen -> prior


def _oof_oracle(df, col, target, k, smoothing, seed):
    fold = np.array([mmh3_hash(np.int64(i).tobytes(), seed) % k for i in range(len(df))])
    out = np.empty(len(df))
    for f in range(k):
        rest = df[fold != f]
        prior = rest[target].mean()
        g = rest.groupby(col, dropna=True)[target].agg(["sum", "count"])
        rows = df[fold == f]
        s = rows[col].map(g["sum"]).astype("float64").fillna(0).to_numpy()
        n = rows[col].map(g["count"]).astype("float64").fillna(0).to_numpy()
        out[fold == f] = (s + smoothing * prior) / (n + smoothing)
    return out


@pytest.mark.parametrize(("k", "seed"), [(5, 0), (3, 7)])
def test_fit_transform_is_out_of_fold(backend, k, seed):
    df = _data(300, seed=1)
    df.loc[5, "c"] = None
    te = TargetEncoding("y", kfold=k, smoothing=4, seed=seed)
    out = gp.to_pandas(te.fit_transform(gp.from_pandas(df), ["c", "s"]))
    for col in ("c", "s"):
        want = _oof_oracle(df, col, "y", k, 4, seed)
        np.testing.assert_allclose(out[f"TE_{col}_y"].to_numpy(), want, rtol=1e-5)
    # fit_transform leaves the full-data statistics for new data
    full = te.transform(gp.from_pandas(df), ["c"])
    assert not np.allclose(gp.to_pandas(full)["TE_c_y"].to_numpy(), out["TE_c_y"].to_numpy())


def test_own_target_never_leaks():
    # each category appears once: out-of-fold, a row can only see the other rows' prior
    df = pd.DataFrame({"c": np.arange(50), "y": np.r_[np.ones(25), np.zeros(25)]})
    out = TargetEncoding("y", kfold=5, smoothing=1).fit_transform(df, ["c"])["TE_c_y"].to_numpy()
    ones = out[:25]
    assert (ones < 0.75).all()  # with leakage a row with y=1 would be encoded (1 + p)/2 >= 0.5 + p/2


@settings(max_examples=25, deadline=None)
@given(cats=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=2, max_size=40),
       cuts=st.lists(st.integers(0, 40), max_size=4))
def test_partitioned_fit_equals_in_memory(cats, cuts):
    df = pd.DataFrame({"c": pd.array(cats, dtype="str"), "y": np.arange(len(cats)) % 3 * 0.5})
    a = TargetEncoding("y", smoothing=2).fit(df, ["c"])
    b = TargetEncoding("y", smoothing=2).fit(Partitioned(df, cuts), ["c"])
    assert a.prior_ == pytest.approx(b.prior_)
    pd.testing.assert_frame_equal(a.transform(df, ["c"]), b.transform(df, ["c"]), rtol=1e-6)


def test_save_load_and_info(backend):
    df = _data()
    te = TargetEncoding("y", smoothing=3).fit(gp.from_pandas(df), ["c", "s"])
    loaded = save_load(te, TargetEncoding("y", smoothing=3))
    pd.testing.assert_frame_equal(gp.to_pandas(te.transform(gp.from_pandas(df), ["c", "s"])),
                                  gp.to_pandas(loaded.transform(gp.from_pandas(df), ["c", "s"])))
    assert te.required_columns(["c"]) == ["y"]
    assert te.output_info(["c"], {"c": ColumnInfo("int32")}) == {"TE_c_y": ColumnInfo("float32", "cont")}


def test_errors_name_the_columns():
    df = _data(20)
    with pytest.raises(NotFittedError):
        TargetEncoding("y").transform(df, ["c"])
    with pytest.raises(SchemaError, match="target column 'label'"):
        TargetEncoding("label").fit(df, ["c"])
    bad = df.copy()
    bad.loc[3, "y"] = np.nan
    with pytest.raises(DataError, match="'y'"):
        TargetEncoding("y").fit(bad, ["c"])
    with pytest.raises(SchemaError, match="'y'"):
        TargetEncoding("y").fit(df.assign(y=df["s"]), ["c"])
    with pytest.raises(SchemaError, match="'nope'"):
        TargetEncoding("y").fit(df, ["nope"])
    with pytest.raises(SchemaError, match="'f'"):
        TargetEncoding("y").fit(df.assign(f=df["y"]), ["f"])


B = 2**53  # above it float64 has no odd integers


def _exact_means(fit, col, target, values):
    """smoothing=0 encodings by pandas on Python ints (object keys), the prior where unseen: exact for any width."""
    means = fit.astype({col: object}).groupby(col)[target].mean()
    return pd.Series(values, dtype=object).map(means).fillna(fit[target].mean()).to_numpy(dtype="float32")


def test_dataset_fit_of_uint64_categories_equals_the_in_memory_fit():
    # partitions of values below 2**63 canonicalise to int64, others to uint64: summed exactly, not in float64
    df = pd.DataFrame({"k": np.array([B, B + 1, 2**63 + 5, B + 1], dtype=np.uint64), "y": [1.0, 0.0, 1.0, 0.0]})
    want = _exact_means(df, "k", "y", df["k"].tolist())
    a = TargetEncoding("y", smoothing=0, kfold=1).fit(df, ["k"])
    b = TargetEncoding("y", smoothing=0, kfold=1).fit(Partitioned(df, [2]), ["k"])
    np.testing.assert_array_equal(a.transform(df, ["k"])["TE_k_y"].to_numpy(), want)
    np.testing.assert_array_equal(b.transform(df, ["k"])["TE_k_y"].to_numpy(), want)
    assert b.table("k")["value"].dtype == np.uint64 and b.table("k")["count"].tolist() == [1, 2, 1]
    wf = gp.Workflow(["k"] >> TargetEncoding("y", smoothing=0, kfold=1)).fit(gp.Dataset(df, partition_rows=2))
    np.testing.assert_array_equal(wf.transform(df)["TE_k_y"].to_numpy(), want)


@pytest.mark.parametrize(("fit_dtype", "new_dtype"), [("int64", "uint64"), ("uint64", "int64"), ("int64", "UInt64")])
def test_integer_categories_of_other_signedness_match_exactly(backend, fit_dtype, new_dtype):
    big = 2**64 - 1 if fit_dtype == "uint64" else -1  # the other dtype has no such value: it matches nothing
    fit = pd.DataFrame({"k": np.array([B, B, 7, big], dtype=fit_dtype), "y": [1.0, 1.0, 0.0, 0.5]})
    values = [B + 1, 7, B, 2**64 - 1 if new_dtype.lower() == "uint64" else -1]
    new = pd.DataFrame({"k": np.array(values, dtype=new_dtype.lower())})
    new["k"] = new["k"].astype(new_dtype)
    te = TargetEncoding("y", smoothing=0, kfold=1).fit(gp.from_pandas(fit), ["k"])
    got = gp.to_pandas(te.transform(gp.from_pandas(new), ["k"]))["TE_k_y"].to_numpy()
    np.testing.assert_array_equal(got, _exact_means(fit, "k", "y", values))


@pytest.mark.parametrize(("fitted", "given"), [([0, 1, 1, 0, 1], [False, True]), ([False, True, True, False, True], [0, 1])])
def test_a_column_of_another_kind_than_fitted_is_refused(fitted, given):
    wf = gp.Workflow(["k"] >> TargetEncoding("y", smoothing=0, kfold=1))
    wf.fit(pd.DataFrame({"k": fitted, "y": [0.0, 1.0, 1.0, 0.0, 1.0]}))
    with pytest.raises(SchemaError, match=r"TargetEncoding: column 'k' was fitted on (int|bool) values but now holds "
                                          r"(bool|int) values.*astype"):
        wf.transform(pd.DataFrame({"k": given}))


@pytest.mark.parametrize("empty", [[None, None], [np.nan, np.nan]])
@pytest.mark.parametrize("fitted", [["a", "b", "a"], [3, 4, 3]])
def test_a_column_all_missing_at_transform_gets_the_prior(empty, fitted):
    fit = pd.DataFrame({"k": fitted, "y": [1.0, 0.0, 0.0]})
    wf = gp.Workflow(["k"] >> TargetEncoding("y", smoothing=1, kfold=1)).fit(fit)
    prior = np.float32(fit["y"].mean())
    assert wf.transform(pd.DataFrame({"k": empty}))["TE_k_y"].tolist() == [prior, prior]
    op = wf.ops[0]
    assert op.transform(pd.DataFrame({"k": empty}), ["k"])["TE_k_y"].tolist() == [prior, prior]


def test_an_object_column_of_ints_is_encoded_as_ints_on_its_own():
    # Called on its own (no Workflow to convert dtypes), an object column of Python ints was fitted as the strings
    # "1", "2", "3" and looked up as ints: every row got the prior (5 of 6 rows wrong here).
    df = pd.DataFrame({"c": pd.Series([1, 2, None, 1, 3, 2], dtype=object), "y": [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]})
    te = TargetEncoding("y", smoothing=2.0).fit(df, ["c"])
    got = te.transform(df, ["c"])["TE_c_y"].to_numpy()
    # the documented formula, by pandas: (sum_y + smoothing * prior) / (count + smoothing), nulls -> prior
    prior = df["y"].mean()
    g = df.assign(c=df["c"].astype("Int64")).groupby("c")["y"].agg(["sum", "count"])
    keys = df["c"].astype("Int64")
    want = ((keys.map(g["sum"]).fillna(0) + 2.0 * prior) / (keys.map(g["count"]).fillna(0) + 2.0)).to_numpy(float)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert te.stats_["c"]["value"].tolist() == [1, 2, 3]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the DataError alone: no NumPy warning first
def test_encodings_beyond_float32_or_a_prior_beyond_float64_are_a_data_error_naming_the_target() -> None:
    """Means of a target past float32's range became inf in the float32 output, and a target whose sum passes 1.8e308
    gave a prior of inf and NaN encodings, silently."""
    df = pd.DataFrame({"c": [1, 1, 2], "y": [1e300, 1e300, 0.0]})
    te = TargetEncoding("y", smoothing=0, kfold=2)
    with pytest.raises(DataError, match=r"TargetEncoding: output column 'TE_c_y' has .* finite value.*'y'"):
        te.fit_transform(df, ["c"])
    with pytest.raises(DataError, match=r"TargetEncoding: output column 'TE_c_y' has 2 finite value.*'y'"):
        te.transform(df, ["c"])
    df = pd.DataFrame({"c": [1, 1, 2], "y": [1.7e308, 1.7e308, 1.7e308]})
    for data in (df, Partitioned(df, [1])):
        with pytest.raises(DataError, match=r"TargetEncoding: target column 'y' holds values too large"):
            TargetEncoding("y").fit(data, ["c"])
