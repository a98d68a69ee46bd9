"""Selectors, ``>>`` graphs, fit / transform / fit_transform on frames, the output schema, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError, NotFittedError, SchemaError
from gpupipe.workflow import Node


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "cnt": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 50, n)), dtype="Int32"),
        "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
        "s": rng.choice(["a", "b", "c"], n),
        "y": rng.integers(0, 2, n).astype(np.int8),
    })


def test_selectors_build_nodes() -> None:
    node = ["a", "b"] >> ops.FillMissing() >> ops.Normalize()
    assert isinstance(node, Node) and node.selection == ["a", "b"] and len(node.ops) == 2
    assert ("a" >> ops.LogOp()).selection == ["a"]
    assert (Node(["a"]) >> ops.LogOp()).output_columns() == ["a"]
    with pytest.raises(TypeError, match="instance"):
        ["a"] >> ops.FillMissing() >> ops.Normalize
    with pytest.raises(SchemaError, match="more than once"):
        Node(["a", "a"])
    with pytest.raises(SchemaError, match="empty"):
        Node([])


def test_fit_transform_equals_fit_then_transform_and_sklearn(backend: str) -> None:
    df = _frame()
    wf = gp.Workflow(["x", "cnt"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(), label="y")
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(df)))
    again = gp.to_pandas(gp.Workflow(["x", "cnt"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
                                     label="y").fit(gp.from_pandas(df)).transform(gp.from_pandas(df)))
    pd.testing.assert_frame_equal(out, again)
    x = df[["x", "cnt"]].to_numpy(dtype=float, na_value=np.nan)
    expected = StandardScaler().fit_transform(np.nan_to_num(x, nan=0.0))
    np.testing.assert_allclose(out[["x", "cnt"]].to_numpy(dtype=float), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["y"].to_numpy(), df["y"].to_numpy(dtype=np.float32))


def test_output_dtypes_follow_schema_exactly(backend: str) -> None:
    df = _frame()
    wf = gp.Workflow(
        ["x"] >> ops.FillMedian(add_indicator=True),
        ["t"] >> ops.DateParts(parts=("month", "hour")),
        "cnt",  # passed through: no op decides a role, so continuous float32 (nulls as NaN)
        label="y",
    )
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(df)))
    schema = wf.output_schema
    assert schema.names == list(out.columns) == ["x", "x_missing", "t_month", "t_hour", "cnt", "y"]
    assert schema.cont == ["x", "x_missing", "t_month", "t_hour", "cnt"] and schema.label == "y"
    for col in schema:
        assert str(out[col.name].dtype) == col.dtype == ("int64" if col.role == "cat" else "float32")
    np.testing.assert_array_equal(out["cnt"].to_numpy(), df["cnt"].to_numpy(dtype=np.float32, na_value=np.nan))


@pytest.mark.parametrize(("wf", "name"), [
    (lambda: gp.Workflow(["x"] >> ops.Clip(lower=0)), "continuous output column 'x'"),
    (lambda: gp.Workflow(["x"]), "continuous output column 'x'"),
    (lambda: gp.Workflow(["z"], label="x"), "label 'x'"),
], ids=["after-op", "passed-through", "label"])
def test_a_finite_value_beyond_float32_in_the_output_is_refused_naming_the_column(backend: str, wf, name: str) -> None:
    # np.float32(1e300) is inf: the float32 output held inf in that row, with no word (the label check passes a
    # finite 1e300)
    df = gp.from_pandas(pd.DataFrame({"x": [1e300, 1.0, np.nan], "z": [1.0, 2.0, 3.0]}).iloc[:2 if "label" in name else 3])
    with pytest.raises(DataError, match=f"{name} has 1 finite value.*beyond float32's range.*1e\\+300 at row 0"):
        wf().fit_transform(df)
    # infinities and values within float32's range keep their float32 values
    ok = pd.DataFrame({"x": [np.inf, 3e38, np.nan]})
    np.testing.assert_array_equal(gp.to_pandas(gp.Workflow(["x"]).fit_transform(gp.from_pandas(ok)))["x"].to_numpy(),
                                  ok["x"].to_numpy(dtype=np.float32))


def test_categorical_output_is_int64_with_cardinality(backend: str) -> None:
    df = _frame()
    wf = gp.Workflow(["s"] >> ops.Categorify(), ["x"] >> ops.FillMissing(), label="y")
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(df)))
    assert wf.output_schema.cat == ["s"] and str(out["s"].dtype) == "int64"
    assert wf.output_schema.cardinalities["s"] > int(out["s"].max())


def test_nodes_share_one_frame_so_row_drops_keep_columns_aligned(backend: str) -> None:
    df = _frame()
    wf = gp.Workflow(["x"] >> ops.Dropna(), ["cnt"] >> ops.FillMissing(fill_value=-1), label="y")
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(df)))
    kept = df[df["x"].notna()].reset_index(drop=True)
    np.testing.assert_array_equal(out["x"].to_numpy(), kept["x"].to_numpy(dtype=np.float32))
    np.testing.assert_array_equal(out["cnt"].to_numpy(), kept["cnt"].fillna(-1).to_numpy(dtype=np.float32))
    np.testing.assert_array_equal(out["y"].to_numpy(), kept["y"].to_numpy(dtype=np.float32))


def test_later_node_reads_earlier_output(backend: str) -> None:
    df = _frame()
    wf = gp.Workflow(["cnt"] >> ops.FillMissing(fill_value=0) >> ops.Rename(postfix="_f"),
                     ["cnt_f"] >> ops.Rename(postfix="_log") >> ops.LogOp(), label="y")
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(df)))
    np.testing.assert_array_equal(out["cnt_f"], df["cnt"].fillna(0).to_numpy(dtype=np.float32))
    np.testing.assert_allclose(out["cnt_f_log"], np.log1p(out["cnt_f"]), rtol=1e-6)


# ------------------------------------------------------------------ every node reads the raw columns
RAW = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "c"], "y": [0.0, 1.0, 0.0, 1.0]})


@pytest.mark.parametrize("order", ["rewrite first", "reader first"])
def test_a_node_reads_the_raw_column_whatever_another_node_did_to_it(backend: str, order: str) -> None:
    rewrite = ["x"] >> ops.Normalize()
    reader = ["x"] >> ops.Rename(postfix="_2") >> ops.Clip(upper=2.5)
    nodes = (rewrite, reader) if order == "rewrite first" else (reader, rewrite)
    out = gp.to_pandas(gp.Workflow(*nodes, label="y").fit_transform(gp.from_pandas(RAW)))
    assert out["x_2"].tolist() == [1.0, 2.0, 2.5, 2.5]  # the raw x, clipped: not the normalised one
    np.testing.assert_allclose(out["x"], (RAW["x"] - 2.5) / RAW["x"].std(ddof=0), rtol=1e-6)


def test_statistics_of_another_node_read_raw_values(backend: str) -> None:
    wf = gp.Workflow(["x"] >> ops.Normalize(), ["c"] >> ops.JoinGroupby(cont_cols=["x"], stats=("mean",)),
                     ["c"] >> ops.TargetEncoding(target="x", kfold=1, smoothing=0) >> ops.Rename(postfix="_te"),
                     label="y")
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(RAW)))
    assert out["c_x_mean"].tolist() == RAW.groupby("c")["x"].transform("mean").tolist() == [2.0, 2.0, 2.0, 4.0]
    assert out["TE_c_x_te"].tolist() == [2.0, 2.0, 2.0, 4.0]  # the raw target's means per category


def test_the_label_passes_through_raw_even_when_a_node_transforms_it(backend: str) -> None:
    wf = gp.Workflow(["y"] >> ops.Normalize() >> ops.Rename(postfix="_feature"), ["x"], label="y")
    out = gp.to_pandas(wf.fit_transform(gp.from_pandas(RAW)))
    assert out["y"].tolist() == RAW["y"].tolist() and out["y_feature"].tolist() == [-1.0, 1.0, -1.0, 1.0]


@pytest.mark.parametrize(("raw", "node"), [
    ("t_year", ["t"] >> ops.DateParts(parts=("year",))),
    ("x_missing", ["x"] >> ops.FillMissing(add_indicator=True)),
    ("x_2", ["x"] >> ops.Rename(postfix="_2")),
    ("c_x_mean", ["c"] >> ops.JoinGroupby(cont_cols=["x"], stats=("mean",))),
])
def test_an_op_adding_a_name_the_data_already_has_is_refused_naming_it(backend: str, raw: str, node) -> None:
    df = RAW.assign(t=pd.to_datetime(["2013-01-01"] * 4), **{raw: 7.0})
    wf = gp.Workflow(node, [raw] >> ops.Rename(postfix="_raw"), label="y")
    with pytest.raises(SchemaError, match=rf"adds column\(s\) \['{raw}'\].*already has"):
        wf.fit(gp.from_pandas(df))


def test_a_join_bringing_a_column_named_like_an_input_is_refused(backend: str) -> None:
    flights = pd.DataFrame({"tailnum": ["A", "B", "A"], "year": [2013, 2013, 2013], "y": [0.0, 1.0, 0.0]})
    planes = pd.DataFrame({"tailnum": ["A", "B"], "year": [1999, 2005], "seats": [100, 200]})
    wf = gp.Workflow(["tailnum"] >> ops.JoinExternal(planes, on="tailnum"), ["year"] >> ops.Rename(postfix="_f"),
                     label="y")
    with pytest.raises(SchemaError, match=r"\['year'\].*JoinExternal\(columns="):
        wf.fit(gp.from_pandas(flights))
    ok = gp.Workflow(["tailnum"] >> ops.JoinExternal(planes, on="tailnum", columns=["seats"]),
                     ["year"] >> ops.Rename(postfix="_f"), label="y")
    out = gp.to_pandas(ok.fit_transform(gp.from_pandas(flights)))
    assert out["year_f"].tolist() == [2013.0] * 3 and out["seats"].tolist() == [100.0, 200.0, 100.0]


def test_two_nodes_rewriting_one_column_in_place_is_an_output_clash() -> None:
    with pytest.raises(SchemaError, match=r"output column 'x' is produced by node 0.*node 1.*Rename"):
        gp.Workflow(["x"] >> ops.Normalize(), ["x"] >> ops.LogOp())


def test_a_later_node_consumes_a_column_an_earlier_node_added() -> None:
    df = pd.DataFrame({"cnt": [0.0, 1.0, 9.0], "y": [0, 1, 0]})
    wf = gp.Workflow(["cnt"] >> ops.Rename(postfix="_f"), ["cnt_f"] >> ops.LogOp(), label="y")
    out = wf.fit_transform(df)
    assert wf.output_columns == ["cnt_f", "y"]  # owned once, by the consuming node
    np.testing.assert_allclose(out["cnt_f"].to_numpy(), np.log1p(df["cnt"].to_numpy()), rtol=1e-6)


def test_filter_runs_but_cannot_save(tmp_path) -> None:
    df = _frame()
    wf = gp.Workflow(["x"] >> ops.Filter(lambda f: f["x"] > 0) >> ops.Normalize(), label="y")
    out = wf.fit_transform(df)
    assert len(out) == int((df["x"] > 0).sum())
    with pytest.raises(gp.WorkflowFormatError, match="built-in op"):
        wf.save(tmp_path / "w")


# ------------------------------------------------------------------ errors
def test_output_name_clash() -> None:
    with pytest.raises(SchemaError, match="'x'"):
        gp.Workflow(["x"] >> ops.Normalize(), ["x"] >> ops.LogOp())
    with pytest.raises(SchemaError, match="label"):
        gp.Workflow(["y"] >> ops.Normalize(), label="y")


def test_same_op_instance_twice() -> None:
    op = ops.Normalize()
    with pytest.raises(ValueError, match="one op per use"):
        gp.Workflow(["x"] >> op, ["cnt"] >> op)


def test_an_op_shared_by_two_workflows_and_fitted_by_the_other_is_refused(tmp_path) -> None:
    """Two Workflows built from the same node share its op: fitting the second replaced the first's vocabulary,
    and the first then encoded with it under its own schema (cardinality 5, ids of the other's values)."""
    node = ["c"] >> ops.Categorify()
    first, second = gp.Workflow(node), gp.Workflow(node)
    first.fit(pd.DataFrame({"c": ["a", "a", "b"]}))
    data = pd.DataFrame({"c": ["a", "b", "y"]})
    assert first.transform(data)["c"].tolist() == [3, 4, 2]
    second.fit(pd.DataFrame({"c": ["z", "y", "y", "x", "w", "v"]}))
    assert second.transform(data)["c"].tolist() == [2, 2, 3]
    for use in (lambda: first.transform(data), lambda: first.output_schema, lambda: first.save(tmp_path / "wf"),
                lambda: first.transform(gp.Dataset(data)), lambda: first.inverse_transform(data)):
        with pytest.raises(NotFittedError, match=r"Categorify.*fitted since by another Workflow"):
            use()
    first.fit(pd.DataFrame({"c": ["a", "a", "b"]}))  # fitted again: its own statistics, and the other's are gone
    assert first.transform(data)["c"].tolist() == [3, 4, 2]
    with pytest.raises(NotFittedError, match="another Workflow"):
        second.transform(data)


def test_a_transform_during_another_workflow_s_fit_of_a_shared_op_is_refused(monkeypatch) -> None:
    """The same, in two threads: a transform that read part of its statistics before the other Workflow's fit
    replaced them would mix both (here: a vocabulary from one, the other's ids); it is refused at its end."""
    import threading

    node = ["c", "d"] >> ops.Categorify()
    first, second = gp.Workflow(node), gp.Workflow(node)
    first.fit(pd.DataFrame({"c": ["a", "a", "b"], "d": ["p", "q", "q"]}))
    op = node.ops[0]
    real = type(op)._ids
    started, refitted = threading.Event(), threading.Event()

    def ids(self, series, column, no_kind=False):
        out = real(self, series, column, no_kind)
        if column == "c" and threading.current_thread().name == "transform":
            started.set()
            refitted.wait(10)  # the other Workflow fits while column d is still to do
        return out

    result = {}

    def transform() -> None:
        try:
            result["out"] = first.transform(pd.DataFrame({"c": ["a", "b"], "d": ["p", "q"]}))
        except NotFittedError as exc:
            result["error"] = exc

    monkeypatch.setattr(type(op), "_ids", ids)
    t = threading.Thread(target=transform, name="transform")
    t.start()
    assert started.wait(10)
    second.fit(pd.DataFrame({"c": ["x", "x", "y"], "d": ["r", "r", "q"]}))
    refitted.set()
    t.join(10)
    assert "out" not in result, result.get("out")
    assert "another Workflow" in str(result["error"])


def test_missing_column_at_fit_and_transform(backend: str) -> None:
    df = gp.from_pandas(_frame())
    wf = gp.Workflow(["x", "nope"] >> ops.Normalize(), label="y")
    with pytest.raises(SchemaError, match=r"\['nope'\].*fit"):
        wf.fit(df)
    wf = gp.Workflow(["x", "cnt"] >> ops.FillMissing() >> ops.Normalize(), label="y").fit(df)
    with pytest.raises(SchemaError, match=r"\['cnt'\].*transform"):
        wf.transform(df.drop(columns=["cnt"]))


def test_missing_label_at_fit_but_optional_at_transform(backend: str) -> None:
    df = gp.from_pandas(_frame())
    with pytest.raises(SchemaError, match="label column 'target'"):
        gp.Workflow(["x"] >> ops.FillMissing(), label="target").fit(df)
    wf = gp.Workflow(["x"] >> ops.FillMissing(), label="y").fit(df)
    out = wf.transform(df.drop(columns=["y"]))
    assert list(out.columns) == ["x"]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_label_names_it(bad: float) -> None:
    df = _frame()
    df["y"] = df["y"].astype(float)
    df.loc[3, "y"] = bad
    wf = gp.Workflow(["x"] >> ops.FillMissing(), label="y")
    with pytest.raises(DataError, match="'y'"):
        wf.fit(df)
    with pytest.raises(DataError, match="'y'"):
        wf.fit_transform(df)
    wf.fit(_frame())
    with pytest.raises(DataError, match="'y'"):
        wf.transform(df)


def test_text_label_refused() -> None:
    df = _frame().assign(y=lambda f: f["s"])
    with pytest.raises(SchemaError, match="numeric"):
        gp.Workflow(["x"] >> ops.FillMissing(), label="y").fit(df)


def test_transform_before_fit_and_schema_before_fit() -> None:
    wf = gp.Workflow(["x"] >> ops.FillMissing(), label="y")
    with pytest.raises(NotFittedError, match="fit"):
        wf.transform(_frame())
    with pytest.raises(NotFittedError):
        _ = wf.output_schema


def test_empty_input(backend: str) -> None:
    df = gp.from_pandas(_frame().iloc[:0])
    wf = gp.Workflow(["x"] >> ops.Normalize(), label="y")
    with pytest.raises(DataError, match="empty"):
        wf.fit(df)
    wf.fit(gp.from_pandas(_frame()))
    with pytest.raises(DataError, match="empty"):
        wf.transform(df)


def test_filter_removing_every_row_at_fit() -> None:
    wf = gp.Workflow(["x"] >> ops.Filter(lambda f: f["x"] > 1e9) >> ops.Normalize(), label="y")
    with pytest.raises(DataError, match="removed every row"):
        wf.fit(_frame())


def test_not_a_frame() -> None:
    with pytest.raises(DataError, match="DataFrame"):
        gp.Workflow(["x"] >> ops.Normalize()).fit({"x": [1.0]})


def test_text_output_needs_encoding() -> None:
    with pytest.raises(SchemaError, match="Categorify"):
        gp.Workflow(["s"] >> ops.Rename(postfix="_2"), label="y").fit(_frame())


def test_dtype_kind_change_at_transform() -> None:
    df = _frame()
    wf = gp.Workflow(["cnt"] >> ops.FillMissing(), label="y").fit(df)
    with pytest.raises(SchemaError, match=r"'cnt'.*cast it back"):
        wf.transform(df.assign(cnt=df["cnt"].astype("str")))


def test_an_op_that_drops_the_cardinality_of_ids_is_named_and_fill_median_keeps_it():
    # Both raised "categorical column 'c' needs a positive cardinality, got None" at the end of fit, naming no op
    df = pd.DataFrame({"c": ["a", "b", "a"]})
    wf = gp.Workflow(["c"] >> ops.HashBucket(4) >> ops.LogOp() >> ops.Rename(postfix="_l"))
    with pytest.raises(SchemaError, match=r"output column 'c_l': LogOp\(\) turned its categorical ids into values"):
        wf.fit(df)
    wf = gp.Workflow(["c"] >> ops.Categorify() >> ops.FillMedian())  # ids have no nulls: nothing to fill
    assert wf.fit_transform(df)["c"].tolist() == [3, 4, 3]
    assert wf.output_schema.cardinalities == {"c": 5}
