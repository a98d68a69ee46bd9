"""Reading ids back (Workflow.inverse_transform), vocabularies and the fitted tables of TargetEncoding and
JoinGroupby, on every backend and through a save."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError, SchemaError

_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.function_scoped_fixture])


def _pylist(series) -> list:
    """Values as Python objects, None where missing, whatever the backend and dtype."""
    return [None if pd.isna(v) else v for v in gp.to_pandas(series.to_frame())[series.name].tolist()]


def _on(backend: str, pdf: pd.DataFrame):
    return gp.from_pandas(pdf) if backend == "cudf" else pdf


@st.composite
def fit_and_serve(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """A fit frame and a serving frame over str/int/bool columns with nulls; serving holds unseen values."""
    n = draw(st.integers(1, 40))
    m = draw(st.integers(1, 40))
    strs = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "é", "", "<OOV>x"]))
    ints = st.one_of(st.none(), st.integers(-3, 6), st.just(2**40))
    bools = st.one_of(st.none(), st.booleans())
    new_strs = st.one_of(strs, st.sampled_from(["zz", "unseen"]))
    new_ints = st.one_of(ints, st.integers(100, 103))
    fit = pd.DataFrame({
        "s": pd.array(draw(st.lists(strs, min_size=n, max_size=n)), dtype="str"),
        "i": pd.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype="Int64"),
        "b": pd.array(draw(st.lists(bools, min_size=n, max_size=n)), dtype="boolean"),
        "x": np.arange(n, dtype=np.float64),
    })
    serve = pd.DataFrame({
        "s": pd.array(draw(st.lists(new_strs, min_size=m, max_size=m)), dtype="str"),
        "i": pd.array(draw(st.lists(new_ints, min_size=m, max_size=m)), dtype="Int64"),
        "b": pd.array(draw(st.lists(bools, min_size=m, max_size=m)), dtype="boolean"),
        "x": np.arange(m, dtype=np.float64),
    })
    params = draw(st.sampled_from([{}, {"freq_threshold": 2}, {"max_size": 2}, {"num_oov_buckets": 3}]))
    return fit, serve, params


@given(case=fit_and_serve())
@_SETTINGS
def test_inverse_of_transform_gives_back_values_in_the_vocabulary_and_markers_for_the_rest(backend, case):
    fit, serve, params = case
    wf = gp.Workflow(["s", "i", "b"] >> ops.Categorify(**params), "x").fit(_on(backend, fit))
    out = wf.inverse_transform(wf.transform(_on(backend, serve)))
    assert list(out.columns) == ["s", "i", "b", "x"]
    assert _pylist(out["x"]) == serve["x"].tolist()  # columns Categorify did not encode are left alone
    for col in ("s", "i", "b"):
        vocab = wf.vocabulary(col)
        known = set(vocab.loc[vocab["special"].isna(), "value"].tolist())
        want = []
        for v in serve[col].tolist():
            if pd.isna(v):
                want.append(None)
            elif v in known:
                want.append(v)
            else:
                want.append("<OOV>" if col == "s" else None)  # ints and bools cannot hold the marker
        assert _pylist(out[col]) == want, col
        assert gp.backend.frame.kind(out[col]) == {"s": "str", "i": "int", "b": "bool"}[col]


def test_vocabulary_counts_equal_pandas_value_counts_and_list_the_special_ids(backend):
    pdf = pd.DataFrame({"c": pd.array(["b", "a", "b", None, "c", "b", "a"], dtype="str"),
                        "n": pd.array([3, 3, 1, None, 7, 3, 1], dtype="Int64")})
    wf = gp.Workflow(["c", "n"] >> ops.Categorify(num_oov_buckets=2)).fit(_on(backend, pdf))
    for col in ("c", "n"):
        vocab = wf.vocabulary(col)
        assert list(vocab.columns) == ["id", "value", "count", "special"]
        assert vocab["id"].tolist() == list(range(wf.output_schema.cardinalities[col]))
        assert vocab["special"].tolist()[:4] == ["padding", "null", "oov", "oov"]
        body = vocab[vocab["special"].isna()]
        assert body["id"].tolist()[0] == 4
        counts = pdf[col].value_counts()
        assert dict(zip(body["value"].tolist(), body["count"].tolist(), strict=True)) == counts.to_dict()
        assert body["count"].tolist() == sorted(counts.tolist(), reverse=True)  # ids by descending frequency
        assert vocab["count"][:4].isna().all()
    assert [None if pd.isna(v) else v for v in wf.vocabulary("c")["value"][:4]] == [None, None, "<OOV>", "<OOV>"]
    assert wf.vocabulary("n")["value"][:4].isna().all()
    assert wf.table("c").equals(wf.vocabulary("c"))


def test_vocabulary_value_decodes_like_inverse_transform(backend):
    pdf = pd.DataFrame({"c": pd.array(["x", "y", "x", None], dtype="str")})
    wf = gp.Workflow(["c"] >> ops.Categorify()).fit(_on(backend, pdf))
    vocab = wf.vocabulary("c")
    ids = pd.DataFrame({"c": vocab["id"].to_numpy()})
    decoded = wf.inverse_transform(_on(backend, ids))
    assert _pylist(decoded["c"]) == [None if pd.isna(v) else v for v in vocab["value"].tolist()]


def test_inverse_keeps_the_fitted_integer_width_and_reads_missing_ids_as_missing(backend):
    pdf = pd.DataFrame({"i": pd.array([5, 6, None, 5], dtype="Int32"), "u": np.array([1, 2, 2, 9], dtype=np.uint8)})
    wf = gp.Workflow(["i", "u"] >> ops.Categorify()).fit(_on(backend, pdf))
    ids = pd.DataFrame({"i": pd.array([3, None, 4], dtype="Int64"), "u": pd.array([3, 4, 5], dtype="Int64")})
    out = wf.inverse_transform(_on(backend, ids))
    assert _pylist(out["i"]) == [5, None, 6]
    assert _pylist(out["u"]) == [2, 1, 9]
    widths = {c: np.dtype(gp.backend.frame.plain_dtype_name(out[c].dtype)) for c in ("i", "u")}
    assert widths == {"i": np.dtype("int32"), "u": np.dtype("uint8")}


def test_oov_choices(backend):
    pdf = pd.DataFrame({"s": ["a", "a", "b"], "n": pd.array([1, 1, 2], dtype="Int64")})
    wf = gp.Workflow(["s", "n"] >> ops.Categorify(freq_threshold=2)).fit(_on(backend, pdf))
    enc = wf.transform(_on(backend, pd.DataFrame({"s": ["a", "b", "z"], "n": pd.array([1, 2, 3], dtype="Int64")})))
    out = wf.inverse_transform(enc, oov={"n": -1})
    assert _pylist(out["s"]) == ["a", "<OOV>", "<OOV>"]  # b fell under freq_threshold: out of vocabulary
    assert _pylist(out["n"]) == [1, -1, -1]
    none = wf.inverse_transform(enc, oov=None)
    assert _pylist(none["s"]) == ["a", None, None] and _pylist(none["n"]) == [1, None, None]
    assert _pylist(wf.inverse_transform(enc, oov="?")["s"]) == ["a", "?", "?"]
    assert _pylist(wf.inverse_transform(enc, columns=["n"])["s"]) == _pylist(enc["s"])  # only the columns asked for
    with pytest.raises(SchemaError, match=r"oov=-1 for column 's'"):
        wf.inverse_transform(enc, oov={"s": -1})
    with pytest.raises(SchemaError, match="not a Categorify output"):
        wf.inverse_transform(enc, oov={"nope": "?"})


def test_ids_out_of_range_and_columns_that_are_not_categorify_outputs_are_refused(backend):
    pdf = pd.DataFrame({"s": ["a", "b"], "x": [1.0, 2.0]})
    wf = gp.Workflow(["s"] >> ops.Categorify(), ["x"] >> ops.Normalize()).fit(_on(backend, pdf))
    with pytest.raises(DataError, match=r"'s' holds 1 id\(s\) outside 0\.\.4 \(e\.g\. 9\)"):
        wf.inverse_transform(_on(backend, pd.DataFrame({"s": [3, 9]})))
    with pytest.raises(SchemaError, match=r"'x' is not a Categorify output; those are \['s'\]"):
        wf.inverse_transform(_on(backend, pd.DataFrame({"x": [0.5]})), columns=["x"])
    with pytest.raises(SchemaError, match=r"\['s'\] not in the data"):
        wf.inverse_transform(_on(backend, pd.DataFrame({"x": [0.5]})), columns=["s"])
    with pytest.raises(SchemaError, match="has no fitted table"):
        wf.table("x")
    with pytest.raises(SchemaError, match="Categorify output"):
        wf.vocabulary("x")
    with pytest.raises(SchemaError, match="integer"):
        wf.inverse_transform(_on(backend, pd.DataFrame({"s": ["a"]})))
    untouched = _on(backend, pd.DataFrame({"x": [0.5]}))
    assert wf.inverse_transform(untouched) is untouched  # nothing to decode


def test_a_rename_keeps_the_vocabulary_and_another_op_ends_it():
    pdf = pd.DataFrame({"c": ["a", "b", "a"], "d": ["x", "x", "y"]})
    wf = gp.Workflow(["c"] >> ops.Categorify() >> ops.Rename(postfix="_id"),
                     ["d"] >> ops.Categorify() >> ops.Clip(upper=3)).fit(pdf)
    out = wf.inverse_transform(wf.transform(pdf))
    assert out["c_id"].tolist() == ["a", "b", "a"]
    assert out["d"].tolist() == [3, 3, 3]  # clipped ids are not vocabulary ids: left alone
    assert wf.vocabulary("c_id")["value"].tolist()[3:] == ["a", "b"]
    with pytest.raises(SchemaError, match=r"those are \['c_id'\]"):
        wf.vocabulary("d")


def test_another_node_reading_the_same_name_reads_the_raw_column_not_the_ids():
    pdf = pd.DataFrame({"c": ["a", "b", "a"], "n": pd.array([7, 8, 7], dtype="Int16")})
    wf = gp.Workflow(["c"] >> ops.Categorify(), ["c"] >> ops.HashBucket(num_buckets=5) >> ops.Rename(postfix="_h"),
                     ["n"] >> ops.Categorify() >> ops.Rename(postfix="_a"), ["n"] >> ops.Categorify(freq_threshold=2)).fit(pdf)
    out = wf.inverse_transform(wf.transform(pdf))
    assert out["c"].tolist() == ["a", "b", "a"]
    assert out["c_h"].tolist() == wf.transform(pdf)["c_h"].tolist()  # hashed buckets: no table, left alone
    assert out["n_a"].tolist() == [7, 8, 7] and out["n"].tolist() == [7, pd.NA, 7]  # 8 is rarer than 2: OOV
    assert str(out["n_a"].dtype) == str(out["n"].dtype) == "Int16"  # both read the raw Int16 column
    assert list(wf._table_sources()) == ["c", "n_a", "n"]


def test_inverse_of_a_dataset_is_lazy_and_equals_the_in_memory_one(tmp_path):
    rng = np.random.default_rng(0)
    pdf = pd.DataFrame({"c": pd.array(rng.choice(["a", "b", "c", None], 200), dtype="str"),
                        "n": pd.array(rng.choice([1, 2, 3, 4], 200), dtype="Int64")})
    wf = gp.Workflow(["c", "n"] >> ops.Categorify(freq_threshold=40)).fit(pdf)
    ds = gp.Dataset(pdf, partition_rows=64)
    lazy = wf.inverse_transform(wf.transform(ds))
    assert isinstance(lazy, gp.Dataset) and lazy.num_partitions == 4
    pd.testing.assert_frame_equal(lazy.to_frame(), wf.inverse_transform(wf.transform(pdf)))


def test_target_encoding_and_join_groupby_tables_give_what_transform_joins(backend):
    pdf = pd.DataFrame({"shop": ["a", "a", "b", "c", "b", "a"], "day": [1, 2, 1, 1, 1, 2],
                        "price": [1.0, 3.0, 10.0, np.nan, 6.0, 2.0], "y": [1, 0, 1, 1, 0, 1]})
    wf = gp.Workflow(["shop"] >> ops.TargetEncoding("y", smoothing=2, kfold=1),
                     ["shop"] >> ops.JoinGroupby(["price"], stats=("count", "mean", "max"), keys=["shop", ["shop", "day"]]),
                     label="y").fit(_on(backend, pdf))
    out = gp.to_pandas(wf.transform(_on(backend, pdf)))
    te = wf.table("TE_shop_y")
    assert list(te.columns) == ["value", "count", "sum", "mean", "encoding"]
    assert te["value"].tolist() == ["a", "b", "c"] and te["count"].tolist() == [3, 2, 1]
    assert te["mean"].tolist() == pytest.approx([2 / 3, 0.5, 1.0])
    by_value = dict(zip(te["value"], te["encoding"], strict=True))
    assert out["TE_shop_y"].tolist() == [by_value[v] for v in pdf["shop"]]
    g = wf.table("shop_price_mean")
    assert list(g.columns) == ["shop", "price_count", "price_mean", "price_max"]
    assert g["price_count"].tolist() == [3.0, 2.0, 0.0]
    assert g["price_mean"].tolist()[:2] == pytest.approx([2.0, 8.0]) and np.isnan(g["price_mean"][2])
    pair = wf.table("shop_day_price_max")
    assert list(pair.columns) == ["shop", "day", "price_count", "price_mean", "price_max"]
    op = wf.ops[1]
    pd.testing.assert_frame_equal(op.table(["shop", "day"]), pair)
    pd.testing.assert_frame_equal(op.table("shop_day"), pair)
    with pytest.raises(SchemaError, match="fitted on the key"):
        op.table("day")
    with pytest.raises(SchemaError, match="fitted on"):
        wf.ops[0].table("day")


def test_vocabularies_tables_and_inverse_are_the_same_after_save_and_load(tmp_path):
    pdf = pd.DataFrame({"c": pd.array(["b", "a", "b", None, "z"], dtype="str"),
                        "n": pd.array([7, 7, None, 1, 2], dtype="Int16"), "y": [1.0, 0, 1, 0, 1]})
    wf = gp.Workflow(["c", "n"] >> ops.Categorify(), ["c"] >> ops.TargetEncoding("y") >> ops.Rename(prefix="r_"),
                     ["n"] >> ops.JoinGroupby(["y"], stats=("mean",)) >> ops.Rename(postfix="_g"), label="y").fit(pdf)
    wf.save(tmp_path / "wf")
    again = gp.Workflow.load(tmp_path / "wf")
    for col in ("c", "n"):
        pd.testing.assert_frame_equal(again.vocabulary(col), wf.vocabulary(col))
    for col in ("r_TE_c_y", "n_y_mean_g"):
        pd.testing.assert_frame_equal(again.table(col), wf.table(col))
    enc = wf.transform(pdf)
    pd.testing.assert_frame_equal(again.inverse_transform(enc), wf.inverse_transform(enc))
    assert again.inverse_transform(enc)["n"].dtype == "Int16"


def test_an_oov_value_the_vocabulary_holds_is_refused_not_read_back_as_both(backend):
    # A real "<OOV>" seen at fit and an unseen value both read back as "<OOV>": the decoded column could not
    # tell them apart. The same for an explicit oov= that the vocabulary holds.
    pdf = pd.DataFrame({"c": ["<OOV>", "a", "a"], "n": pd.array([-1, 5, 5], dtype="Int64")})
    wf = gp.Workflow(["c", "n"] >> ops.Categorify() >> ops.Rename(postfix="_id")).fit(_on(backend, pdf))
    enc = wf.transform(_on(backend, pd.DataFrame({"c": ["<OOV>", "zz", "a"], "n": pd.array([-1, 9, 5], dtype="Int64")})))
    assert _pylist(enc["c_id"]) == [4, 2, 3] and _pylist(enc["n_id"]) == [4, 2, 3]
    with pytest.raises(SchemaError, match=r"column 'c_id' has the value '<OOV>' in its vocabulary \(id 4\).*oov=\{'c_id'"):
        wf.inverse_transform(enc)
    with pytest.raises(SchemaError, match=r"column 'n_id' has the value -1 in its vocabulary \(id 4\)"):
        wf.inverse_transform(enc, oov={"c_id": "?", "n_id": -1})
    out = wf.inverse_transform(enc, oov={"c_id": "?"})
    assert _pylist(out["c_id"]) == ["<OOV>", "?", "a"] and _pylist(out["n_id"]) == [-1, None, 5]
    assert _pylist(wf.inverse_transform(enc, oov=None)["c_id"]) == ["<OOV>", None, "a"]


def test_inverse_errors_name_the_output_column_after_a_rename(backend):
    # They named the Categorify's input column 'c', which the data given to inverse_transform does not have.
    wf = gp.Workflow(["c"] >> ops.Categorify() >> ops.Rename(postfix="_id")).fit(_on(backend, pd.DataFrame({"c": ["a", "b"]})))
    with pytest.raises(DataError, match=r"column 'c_id' holds 1 id\(s\) outside 0\.\.4"):
        wf.inverse_transform(_on(backend, pd.DataFrame({"c_id": [3, 9]})))
    with pytest.raises(SchemaError, match=r"column 'c_id' has dtype float64, not integer ids"):
        wf.inverse_transform(_on(backend, pd.DataFrame({"c_id": [3.0]})))
    with pytest.raises(SchemaError, match=r"oov=1 for column 'c_id'"):
        wf.inverse_transform(_on(backend, pd.DataFrame({"c_id": [3]})), oov={"c_id": 1})


def test_inverse_keeps_the_width_of_a_column_another_node_or_op_added():
    # A Categorify of a column an earlier node added (a Rename of an Int32 column, JoinExternal's Int16 column)
    # read back as Int64: only raw input columns kept their width at fit.
    df = pd.DataFrame({"n": pd.array([5, 6, None, 5], dtype="Int32"), "k": ["a", "b", "a", "b"]})
    ext = pd.DataFrame({"k": ["a", "b"], "code": pd.array([7, 8], dtype="Int16")})
    wf = gp.Workflow(["n"] >> ops.Rename(postfix="_r"), ["n_r"] >> ops.Categorify(),
                     ["n"] >> ops.FillMissing(0) >> ops.Categorify() >> ops.Rename(postfix="_f"),
                     ["k"] >> ops.JoinExternal(ext, on="k"), ["code"] >> ops.Categorify()).fit(df)
    out = wf.inverse_transform(wf.transform(df))
    assert {c: str(out[c].dtype) for c in ("n_r", "n_f", "code")} == {"n_r": "Int32", "n_f": "Int32", "code": "Int16"}
    assert _pylist(out["n_r"]) == [5, 6, None, 5] and _pylist(out["n_f"]) == [5, 6, 0, 5]
    assert _pylist(out["code"]) == [7, 8, 7, 8]
