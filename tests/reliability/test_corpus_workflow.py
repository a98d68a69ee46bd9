"""Bad frames through Workflow fit/transform and every op: schema drift, wrong dtypes, NaN/inf, empty,
constant and all-null columns, unseen and very many categories, odd column names, timezones.

Results are checked against scikit-learn / pandas oracles; errors must be gpupipe's, naming the culprit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from corpus_helpers import expect_error, says_what_to_do

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError, NotFittedError, SchemaError

N = 40


def _frame(seed: int = 0, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "k": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "s": pd.array(rng.choice(["a", "b", "c"], n), dtype="str"),
        "t": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        "y": rng.integers(0, 2, n).astype("float32"),
    })


def _wf() -> gp.Workflow:
    return gp.Workflow(["x"] >> ops.FillMissing() >> ops.Normalize(), ["s", "k"] >> ops.Categorify(), label="y")


def _pd(frame):
    return gp.to_pandas(frame)


# ----------------------------------------------------------------------------------- schema drift
def test_a_column_missing_at_transform_is_a_schema_error_naming_it(backend):
    wf = _wf().fit(gp.from_pandas(_frame()))
    exc = expect_error(SchemaError, lambda: wf.transform(gp.from_pandas(_frame(1).drop(columns="k"))), "['k']",
                       "transform")
    assert says_what_to_do(exc) or "lacks" in str(exc)


def test_an_extra_column_at_transform_is_ignored(backend):
    wf = _wf().fit(gp.from_pandas(_frame()))
    plain = _pd(wf.transform(gp.from_pandas(_frame(1))))
    extra = _pd(wf.transform(gp.from_pandas(_frame(1).assign(extra=np.arange(N), other="z"))))
    pd.testing.assert_frame_equal(plain, extra)
    assert "extra" not in extra.columns


@pytest.mark.parametrize(("column", "new"), [("x", lambda f: f["x"].astype("str")),
                                             ("s", lambda f: np.arange(len(f))),
                                             ("k", lambda f: f["k"].astype("str"))])
def test_a_column_whose_dtype_changed_kind_is_a_schema_error_naming_it(backend, column, new):
    wf = _wf().fit(gp.from_pandas(_frame()))
    bad = _frame(1)
    bad[column] = new(bad)
    exc = expect_error(SchemaError, lambda: wf.transform(gp.from_pandas(bad)), f"'{column}'")
    assert says_what_to_do(exc)


def test_an_integer_id_column_arriving_as_float_is_refused_not_miscoded(backend):
    # Int64 with nulls often becomes float64 on the way through other tools: refused by Categorify.
    wf = _wf().fit(gp.from_pandas(_frame()))
    bad = _frame(1)
    bad["k"] = bad["k"].astype("float64")
    expect_error(SchemaError, lambda: wf.transform(gp.from_pandas(bad)), "'k'", "float64")


def test_a_label_that_is_text_is_a_schema_error(backend):
    expect_error(SchemaError, lambda: _wf().fit(gp.from_pandas(_frame().assign(y="yes"))), "'y'", "numeric")


def test_transform_before_fit_is_not_fitted(backend):
    expect_error(NotFittedError, lambda: _wf().transform(gp.from_pandas(_frame())), "fit")


@pytest.mark.parametrize("data", [[1, 2], np.ones((3, 2)), pd.Series([1.0, 2.0], name="x"), None],
                         ids=["list", "ndarray", "series", "none"])
def test_non_frames_are_data_errors_naming_what_was_given(backend, data):
    exc = expect_error(DataError, lambda: _wf().fit(data))
    assert type(data).__name__ in str(exc) or "DataFrame" in str(exc)


# ----------------------------------------------------------------------------------- wrong dtypes per op
OPS = {
    "FillMissing": lambda: ops.FillMissing(), "FillMedian": lambda: ops.FillMedian(),
    "Clip": lambda: ops.Clip(lower=0), "LogOp": lambda: ops.LogOp(), "Normalize": lambda: ops.Normalize(),
    "NormalizeMinMax": lambda: ops.NormalizeMinMax(), "Categorify": lambda: ops.Categorify(),
    "HashBucket": lambda: ops.HashBucket(8), "Bucketize": lambda: ops.Bucketize([0.0, 1.0]),
    "TargetEncoding": lambda: ops.TargetEncoding("y"), "JoinGroupby": lambda: ops.JoinGroupby(cont_cols=["x"]),
    "DateParts": lambda: ops.DateParts(),
}
# the column kind each op cannot take
REFUSED = {"FillMissing": ["s", "t"], "FillMedian": ["s", "t"], "Clip": ["s", "t"], "LogOp": ["s", "t"],
           "Normalize": ["s", "t"], "NormalizeMinMax": ["s", "t"], "Categorify": ["x", "t"], "HashBucket": ["t"],
           "Bucketize": ["s", "t"], "TargetEncoding": ["x", "t"], "JoinGroupby": ["x", "t"], "DateParts": ["s", "x"]}


@pytest.mark.parametrize(("op", "column"), [(op, c) for op, cols in REFUSED.items() for c in cols])
def test_each_op_refuses_a_dtype_it_cannot_take_naming_op_and_column(backend, op, column):
    wf = gp.Workflow([column] >> OPS[op](), label="y")
    exc = expect_error(SchemaError, lambda: wf.fit_transform(gp.from_pandas(_frame())), op, f"'{column}'")
    assert says_what_to_do(exc)


@pytest.mark.parametrize("column", ["s", "t"])
@pytest.mark.parametrize("op", ["Dropna", "Rename"])
def test_non_numeric_outputs_without_an_encoder_are_refused_at_fit(backend, op, column):
    wf = gp.Workflow([column] >> (ops.Dropna() if op == "Dropna" else ops.Rename(postfix="_r")), label="y")
    exc = expect_error(SchemaError, lambda: wf.fit(gp.from_pandas(_frame())), "a model cannot take")
    assert "Categorify" in str(exc)


# ----------------------------------------------------------------------------------- NaN and inf
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_a_non_finite_label_is_a_data_error_at_fit_and_transform(backend, value):
    bad = _frame()
    bad.loc[7, "y"] = value
    expect_error(DataError, lambda: _wf().fit(gp.from_pandas(bad)), "'y'", "1 null, NaN or infinite")
    wf = _wf().fit(gp.from_pandas(_frame()))
    expect_error(DataError, lambda: wf.transform(gp.from_pandas(bad)), "'y'")


@pytest.mark.parametrize("op", ["Normalize", "NormalizeMinMax"])
def test_infinite_features_have_no_scale_and_are_refused(backend, op):
    bad = _frame()
    bad.loc[3, "x"] = np.inf
    exc = expect_error(DataError, lambda: gp.Workflow(["x"] >> OPS[op]()).fit(gp.from_pandas(bad)), op, "'x'",
                       "infinite")
    assert "Clip" in str(exc)


def test_negative_and_minus_inf_input_to_log_is_refused(backend):
    bad = _frame().assign(x=-np.inf)
    expect_error(DataError, lambda: gp.Workflow(["x"] >> ops.LogOp()).fit_transform(gp.from_pandas(bad)), "'x'",
                 "negative")


def test_nan_features_stay_missing_through_normalize_and_match_sklearn_elsewhere(backend):
    from sklearn.preprocessing import StandardScaler

    src = _frame()
    src.loc[[2, 5, 11], "x"] = np.nan
    out = _pd(gp.Workflow(["x"] >> ops.Normalize()).fit_transform(gp.from_pandas(src)))
    expected = StandardScaler().fit_transform(src[["x"]]).ravel()  # sklearn ignores NaN in fit, keeps it
    np.testing.assert_allclose(out["x"].to_numpy(), expected, rtol=1e-5, equal_nan=True)
    assert out["x"].isna().sum() == 3


def test_bucketize_puts_inf_in_the_last_bucket_like_numpy(backend):
    src = _frame()
    src.loc[0, "x"], src.loc[1, "x"] = np.inf, -np.inf
    out = _pd(gp.Workflow(["x"] >> ops.Bucketize([0.0, 1.0])).fit_transform(gp.from_pandas(src)))
    expected = np.digitize(src["x"].to_numpy(), [0.0, 1.0])
    np.testing.assert_array_equal(out["x"].to_numpy(), expected)


# ----------------------------------------------------------------------------------- empty, constant, all-null
def test_empty_frames_are_refused_at_fit_and_transform(backend):
    empty = gp.from_pandas(_frame().iloc[:0])
    expect_error(DataError, lambda: _wf().fit(empty), "empty")
    expect_error(DataError, lambda: _wf().fit_transform(empty), "empty")
    wf = _wf().fit(gp.from_pandas(_frame()))
    expect_error(DataError, lambda: wf.transform(empty), "empty")


def test_a_filter_removing_every_row_before_a_statistic_is_refused(backend):
    wf = gp.Workflow(["x"] >> ops.Dropna() >> ops.Normalize())
    expect_error(DataError, lambda: wf.fit_transform(gp.from_pandas(_frame().assign(x=np.nan))), "removed every row")


@pytest.mark.parametrize(("op", "oracle"), [("Normalize", "StandardScaler"), ("NormalizeMinMax", "MinMaxScaler")])
def test_constant_columns_scale_to_zero_like_sklearn(backend, op, oracle):
    import sklearn.preprocessing as skp

    src = _frame().assign(x=7.25)
    out = _pd(gp.Workflow(["x"] >> OPS[op]()).fit_transform(gp.from_pandas(src)))
    expected = getattr(skp, oracle)().fit_transform(src[["x"]]).ravel()
    np.testing.assert_allclose(out["x"].to_numpy(), expected, atol=1e-6)
    assert not out["x"].isna().any()


def test_all_null_columns_give_documented_results(backend):
    from sklearn.impute import SimpleImputer

    src = _frame().assign(x=np.nan, k=pd.array([None] * N, dtype="Int64"))
    median = _pd(gp.Workflow(["x"] >> ops.FillMedian()).fit_transform(gp.from_pandas(src)))
    expected = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(src[["x"]]).ravel()
    np.testing.assert_array_equal(median["x"].to_numpy(), expected)
    filled = _pd(gp.Workflow(["x"] >> ops.FillMissing(fill_value=-1)).fit_transform(gp.from_pandas(src)))
    assert (filled["x"] == -1).all()
    # Normalize: nothing to scale; missing stays missing (never a made-up number).
    norm = _pd(gp.Workflow(["x"] >> ops.Normalize()).fit_transform(gp.from_pandas(src)))
    assert norm["x"].isna().all()
    # Categorify: every row is the null id 1; cardinality = padding + null + one OOV bucket.
    wf = gp.Workflow(["k"] >> ops.Categorify())
    cat = _pd(wf.fit_transform(gp.from_pandas(src)))
    assert (cat["k"] == 1).all() and wf.output_schema.cardinalities == {"k": 3}


# ----------------------------------------------------------------------------------- categories
def test_unseen_categories_get_the_out_of_vocabulary_id(backend):
    wf = gp.Workflow(["s"] >> ops.Categorify())
    wf.fit(gp.from_pandas(_frame()))
    seen = _pd(wf.transform(gp.from_pandas(pd.DataFrame({"s": pd.array(["a", "b", "c"], dtype="str")}))))["s"]
    unseen = _pd(wf.transform(gp.from_pandas(pd.DataFrame({"s": pd.array(["zz", None, "a"], dtype="str")}))))["s"]
    assert sorted(seen.tolist()) == [3, 4, 5]
    assert unseen.tolist() == [2, 1, seen.iloc[0]]


def test_a_million_unique_ids_encode_by_value_order(backend):
    n = 1_000_000
    ids = np.random.default_rng(0).permutation(n).astype("int64") * 7 + 11
    src = pd.DataFrame({"id": pd.array(ids, dtype="Int64"), "y": np.zeros(n, dtype="float32")})
    wf = gp.Workflow(["id"] >> ops.Categorify(), label="y")
    out = _pd(wf.fit_transform(gp.from_pandas(src)))
    assert wf.output_schema.cardinalities == {"id": n + 3}
    # every value seen once: ties broken by ascending value, after padding, null and one OOV id
    expected = pd.Series(ids).rank(method="first").astype("int64").to_numpy() + 2
    np.testing.assert_array_equal(out["id"].to_numpy(), expected)
    tt = gp.to_tensors(out, wf.output_schema)
    assert int(tt["id"].max()) == n + 2


# ----------------------------------------------------------------------------------- column names
def test_duplicate_column_names_are_refused_by_the_workflow(backend):
    dup = pd.concat([_frame(), _frame()[["x"]]], axis=1)
    expect_error(SchemaError, lambda: _wf().fit(dup), "Workflow.fit", "duplicate", "'x'")


def test_selections_must_be_strings(backend):
    with pytest.raises(SchemaError, match="must be strings"):
        gp.Workflow([0] >> ops.Normalize())
    with pytest.raises(SchemaError, match="must be strings"):
        gp.Workflow([("a", "b")] >> ops.Normalize())


# ----------------------------------------------------------------------------------- time zones
def test_dateparts_are_taken_in_the_columns_own_timezone(backend):
    instants = pd.to_datetime(["2024-01-01 02:30", "2024-07-04 23:15"]).tz_localize("UTC")
    local = instants.tz_convert("America/New_York")
    src = pd.DataFrame({"t": local})
    wf = gp.Workflow(["t"] >> ops.DateParts(parts=("year", "month", "day", "dow", "hour")))
    out = _pd(wf.fit_transform(gp.from_pandas(src)))
    # oracle: pandas' fields of the local wall time (2023-12-31 21:30 and 2024-07-04 19:15 in New York)
    assert out["t_year"].tolist() == list(local.year) == [2023, 2024]
    assert out["t_day"].tolist() == list(local.day) == [31, 4]
    assert out["t_hour"].tolist() == list(local.hour) == [21, 19]
    assert out["t_dow"].tolist() == list(local.day_of_week)
    assert out["t_day"].tolist() != list(instants.day)  # not the UTC fields


def test_a_timezone_change_between_fit_and_transform_is_a_schema_error(backend):
    utc = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 02:30"]).tz_localize("UTC")})
    wf = gp.Workflow(["t"] >> ops.DateParts(parts=("hour",))).fit(gp.from_pandas(utc))
    other = utc.assign(t=utc["t"].dt.tz_convert("Asia/Tokyo"))
    exc = expect_error(SchemaError, lambda: wf.transform(gp.from_pandas(other)), "'t'", "timezone", "UTC")
    assert "tz_convert('UTC')" in str(exc)
    naive = utc.assign(t=utc["t"].dt.tz_localize(None))
    expect_error(SchemaError, lambda: wf.transform(gp.from_pandas(naive)), "'t'", "tz_localize('UTC')")
    # the same instants in the fitted zone transform fine (and give the UTC hour)
    assert _pd(wf.transform(gp.from_pandas(utc)))["t_hour"].tolist() == [2]


# ----------------------------------------------------------------------------------- user functions
def test_a_failing_lambda_is_a_data_error_naming_the_column(backend):
    wf = gp.Workflow(["x"] >> ops.LambdaOp(lambda s: s["nope"]))
    exc = expect_error(DataError, lambda: wf.fit_transform(gp.from_pandas(_frame())), "LambdaOp", "'x'", "KeyError")
    assert isinstance(exc.__cause__, KeyError)  # the user's traceback is kept


def test_a_failing_filter_predicate_is_a_data_error(backend):
    wf = gp.Workflow(["x"] >> ops.Filter(lambda f: f["nope"] > 0))
    expect_error(DataError, lambda: wf.fit_transform(gp.from_pandas(_frame())), "Filter", "KeyError")


def test_a_filter_returning_the_wrong_thing_is_a_data_error(backend):
    wf = gp.Workflow(["x"] >> ops.Filter(lambda f: 3))
    expect_error(DataError, lambda: wf.fit_transform(gp.from_pandas(_frame())), "Filter", "boolean mask")
