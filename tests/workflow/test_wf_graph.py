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


def test_rewriting_an_in_place_output_is_refused() -> None:
    # node 0 transformed the raw column in place: node 1 would silently see normalized values
    with pytest.raises(SchemaError, match=r"rewrite \['x'\].*Rename"):
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
