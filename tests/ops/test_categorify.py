"""Categorify: id layout, thresholds, unseen values, partitions, saving, errors, both backends."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from helpers import mmh3_hash, via_arrow
from hypothesis import given, settings
from hypothesis import strategies as st
from stat_helpers import Partitioned, save_load

import gpupipe as gp
from gpupipe.errors import NotFittedError, SchemaError
from gpupipe.ops import Categorify, ColumnInfo


def oracle_ids(fit_values, values, freq_threshold=0, max_size=None, num_oov=1):
    """Ids by the documented layout, computed with plain Python."""
    counts = Counter(v for v in fit_values if v is not None and v is not pd.NA)
    vocab = sorted((v for v in counts if counts[v] >= freq_threshold), key=lambda v: (-counts[v], v))
    if max_size is not None:
        vocab = vocab[:max_size]
    pos = {v: i for i, v in enumerate(vocab)}
    out = []
    for v in values:
        if v is None or v is pd.NA:
            out.append(1)
        elif v in pos:
            out.append(2 + num_oov + pos[v])
        else:
            out.append(2 + (_mmh3(v) % num_oov if num_oov > 1 else 0))
    return out, 2 + num_oov + len(vocab)


def _mmh3(v):
    data = v.encode() if isinstance(v, str) else np.int64(v).tobytes()
    return mmh3_hash(data, 0)


def _ids(frame, col):
    return gp.to_pandas(frame)[col].astype("int64").tolist()


STRINGS = ["b", "a", "b", None, "z", "a", "b", "c", "é", "a", "b", None]
INTS = [5, 3, 5, None, 9, 3, 5, 1, -2, 3, 5, 7]


def _frame():
    return pd.DataFrame({
        "s": pd.array(STRINGS, dtype="str"),
        "i": pd.array(INTS, dtype="Int32"),
        "k": pd.Categorical(STRINGS),
        "b": pd.array([True, False, True, None, True, True, False, True, True, None, True, False], dtype="boolean"),
    })


@pytest.mark.parametrize("params", [{}, {"freq_threshold": 2}, {"max_size": 2}, {"num_oov_buckets": 3},
                                    {"freq_threshold": 3, "num_oov_buckets": 2}])
def test_id_layout_matches_oracle(backend, params):
    df = _frame()
    frame = gp.from_pandas(df)
    op = Categorify(**params).fit(frame, ["s", "i", "k", "b"])
    new = pd.DataFrame({"s": pd.array(["b", "unseen", None, "c", "zz"], dtype="str"),
                        "i": pd.array([5, 42, None, 1, -7], dtype="Int32"),
                        "k": pd.Categorical(["b", "unseen", None, "c", "zz"]),
                        "b": pd.array([True, False, None, True, False], dtype="boolean")})
    out = op.transform(gp.from_pandas(new), ["s", "i", "k", "b"])
    assert list(out.columns) == ["s", "i", "k", "b"]
    oov = params.get("num_oov_buckets", 1)
    kw = {"freq_threshold": params.get("freq_threshold", 0), "max_size": params.get("max_size"), "num_oov": oov}
    for col, fit_vals in [("s", STRINGS), ("i", INTS), ("k", STRINGS)]:
        new_vals = [None if pd.isna(v) else (int(v) if col == "i" else v) for v in new[col].tolist()]
        want, card = oracle_ids(fit_vals, new_vals, **kw)
        assert _ids(out, col) == want, col
        assert op.cardinality(col) == card
    assert str(gp.to_pandas(out)["s"].dtype) == "int64"
    assert 0 not in _ids(out, "s")  # padding is never produced


def test_frequency_order_and_ties_by_value(backend):
    df = pd.DataFrame({"c": pd.array([30, 10, 20, 20, 10, 40, 40, 40], dtype="Int64")})
    op = Categorify().fit(gp.from_pandas(df), ["c"])
    # 40 (3 times) first, then 10 and 20 (twice, tie broken by value), then 30
    assert op.vocab_["c"]["value"].tolist() == [40, 10, 20, 30]
    assert op.vocab_["c"]["count"].tolist() == [3, 2, 2, 1]
    assert _ids(op.transform(gp.from_pandas(df), ["c"]), "c") == [6, 4, 5, 5, 4, 3, 3, 3]


def test_output_info_is_cat_int64():
    op = Categorify(num_oov_buckets=2).fit(_frame(), ["s"])
    info = op.output_info(["s"], {"s": ColumnInfo("str")})
    assert info["s"] == ColumnInfo("int64", "cat", 2 + 2 + 5, op.vocabulary_digest("s"))


def test_the_vocabulary_digest_tells_fits_apart_by_what_their_ids_mean(backend):
    frame = gp.from_pandas(pd.DataFrame({"s": ["a", "a", "b", "c"], "i": [5, 5, 6, 7]}))
    digest = Categorify().fit(frame, ["s", "i"]).vocabulary_digest
    # other counts, the same ids: the same digest; the same cardinality, other ids: another
    again = Categorify().fit(gp.from_pandas(pd.DataFrame({"s": ["a", "a", "a", "b", "c"], "i": [5, 5, 5, 6, 7]})),
                             ["s", "i"]).vocabulary_digest
    swapped = Categorify().fit(gp.from_pandas(pd.DataFrame({"s": ["b", "b", "a", "c"], "i": [6, 6, 5, 7]})),
                               ["s", "i"]).vocabulary_digest
    assert again("s") == digest("s") and again("i") == digest("i")
    assert swapped("s") != digest("s") and swapped("i") != digest("i")
    assert len({digest("s"), digest("i"), Categorify(num_oov_buckets=2).fit(frame, ["s"]).vocabulary_digest("s")}) == 3


def test_fit_transform_equals_fit_then_transform(backend):
    frame = gp.from_pandas(_frame())
    cols = ["s", "i", "k", "b"]
    a = Categorify(num_oov_buckets=2, freq_threshold=2).fit_transform(frame, cols)
    b = Categorify(num_oov_buckets=2, freq_threshold=2).fit(frame, cols).transform(frame, cols)
    pd.testing.assert_frame_equal(gp.to_pandas(a), gp.to_pandas(b))


def test_plain_numpy_dtypes_and_index_kept():
    df = pd.DataFrame({"i": np.array([3, 1, 3], dtype=np.int16), "b": np.array([True, False, True])},
                      index=[10, 20, 30])
    out = Categorify().fit(df, ["i", "b"]).transform(df, ["i", "b"])
    assert out.index.tolist() == [10, 20, 30]
    assert out["i"].tolist() == [3, 4, 3] and out["b"].tolist() == [3, 4, 3]


def test_criteo_columns_match_oracle():
    with gp.use_backend("pandas"):
        df = gp.datasets.criteo(3000, seed=1)
    op = Categorify(freq_threshold=2).fit(df, ["C10", "C3"])
    out = op.transform(df, ["C10", "C3"])
    for col in ("C10", "C3"):
        vals = [None if pd.isna(v) else int(v) for v in df[col].tolist()]
        want, card = oracle_ids(vals, vals, freq_threshold=2)
        assert out[col].tolist() == want
        assert op.cardinality(col) == card


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-5, 8)), min_size=1, max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=6),
       threshold=st.integers(0, 3), oov=st.integers(1, 3))
def test_any_partitioning_fits_like_in_memory(values, cuts, threshold, oov):
    df = pd.DataFrame({"c": pd.array(values, dtype="Int64"),
                       "s": pd.array([None if v is None else f"v{v}" for v in values], dtype="str")})
    whole = Categorify(freq_threshold=threshold, num_oov_buckets=oov).fit(df, ["c", "s"])
    parts = Categorify(freq_threshold=threshold, num_oov_buckets=oov).fit(Partitioned(df, cuts), ["c", "s"])
    for col in ("c", "s"):
        pd.testing.assert_frame_equal(whole.vocab_[col], parts.vocab_[col])
    pd.testing.assert_frame_equal(whole.transform(df, ["c", "s"]), parts.transform(df, ["c", "s"]))


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(alphabet="abcé", max_size=3)), min_size=2, max_size=40),
       cut=st.integers(0, 40))
def test_transform_is_row_wise(values, cut):
    df = pd.DataFrame({"s": pd.array(values, dtype="str")})
    op = Categorify(num_oov_buckets=2).fit(df.iloc[: len(values) // 2], ["s"])
    whole = op.transform(df, ["s"])
    pieces = pd.concat([op.transform(df.iloc[:cut], ["s"]), op.transform(df.iloc[cut:], ["s"])])
    pd.testing.assert_frame_equal(whole, pieces)


def test_save_load_round_trip(backend):
    frame = gp.from_pandas(_frame())
    cols = ["s", "i", "k", "b"]
    op = Categorify(num_oov_buckets=3, freq_threshold=2).fit(frame, cols)
    loaded = save_load(op, Categorify(num_oov_buckets=3, freq_threshold=2))
    new = gp.from_pandas(_frame().iloc[::-1])
    pd.testing.assert_frame_equal(gp.to_pandas(op.transform(new, cols)), gp.to_pandas(loaded.transform(new, cols)))
    assert loaded.cardinality("i") == op.cardinality("i")


def test_all_null_and_empty_vocab():
    df = pd.DataFrame({"c": pd.array([None, None], dtype="Int64")})
    op = Categorify().fit(df, ["c"])
    assert op.cardinality("c") == 3
    assert op.transform(pd.DataFrame({"c": pd.array([None, 4], dtype="Int64")}), ["c"])["c"].tolist() == [1, 2]


def test_errors_name_the_column():
    df = _frame()
    with pytest.raises(NotFittedError):
        Categorify().transform(df, ["s"])
    with pytest.raises(SchemaError, match="'nope'"):
        Categorify().fit(df, ["nope"])
    with pytest.raises(SchemaError, match=r"'f'.*float64"):
        Categorify().fit(pd.DataFrame({"f": [0.5, 1.5]}), ["f"])
    op = Categorify().fit(df, ["i"])
    with pytest.raises(SchemaError, match=r"'i'.*int.*str"):
        op.transform(pd.DataFrame({"i": pd.array(["5"], dtype="str")}), ["i"])
    with pytest.raises(SchemaError, match="'i'"):
        op.transform(pd.DataFrame({"x": [1]}), ["i"])
    with pytest.raises(ValueError, match="num_oov_buckets"):
        Categorify(num_oov_buckets=0).fit(df, ["i"])


@pytest.mark.gpu
def test_vocabulary_crosses_backends():
    pytest.importorskip("cudf")
    df = _frame()
    cols = ["s", "i", "k", "b"]
    with gp.use_backend("cudf"):
        gpu_frame = gp.from_pandas(df)
    on_gpu = Categorify(num_oov_buckets=3).fit(gpu_frame, cols)
    on_cpu = Categorify(num_oov_buckets=3).fit(df, cols)
    new = pd.DataFrame({"s": pd.array(["q", "b", None], dtype="str"), "i": pd.array([77, 5, None], dtype="Int32"),
                        "k": pd.Categorical(["q", "b", None]), "b": pd.array([True, None, False], dtype="boolean")})
    with gp.use_backend("cudf"):
        new_gpu = gp.from_pandas(new)
    expected = on_cpu.transform(new, cols)
    pd.testing.assert_frame_equal(on_gpu.transform(new, cols), expected)
    pd.testing.assert_frame_equal(via_arrow(on_cpu.transform(new_gpu, cols)), via_arrow(expected))


@pytest.mark.parametrize("empty", [[None], [np.nan], [None, None]])
@pytest.mark.parametrize("fitted", [["a", "b", "a"], [3, 4, 3], [True, False, True]])
def test_a_column_all_missing_at_transform_gets_the_null_id(empty, fitted):
    """An all-missing column (float64 or object: serving data with nothing in it) carries no kind: the
    workflow and the op take it as nulls of the kind fitted."""
    wf = gp.Workflow(["c"] >> Categorify()).fit(pd.DataFrame({"c": fitted}))
    assert wf.transform(pd.DataFrame({"c": empty}))["c"].tolist() == [1] * len(empty)
    assert wf.ops[0].transform(pd.DataFrame({"c": empty}), ["c"])["c"].tolist() == [1] * len(empty)
    # a column that still holds a value of another kind is refused, naming both kinds
    with pytest.raises(SchemaError, match="'c'"):
        wf.transform(pd.DataFrame({"c": [np.nan, 0.5]}))


@pytest.mark.parametrize(("fit_dtype", "new_dtype"), [("int64", "uint64"), ("uint64", "int64"), ("int8", "uint64")])
def test_integer_values_of_other_signedness_look_up_exactly(backend, fit_dtype, new_dtype):
    """A vocabulary value the data's dtype cannot hold (-1 against uint64, 2**64 - 1 against int64) is found for
    no row: the lookup compares in the data's dtype, where a cast of the data would wrap 2**64 - 1 onto -1."""
    fit_values = {"int64": [-1, 2**53, 2**53, 7], "uint64": [2**64 - 1, 2**53, 2**53, 7],
                  "int8": [-1, 100, 100, 7]}[fit_dtype]
    new_values = {"uint64": [2**64 - 1, 2**53 + 1, 2**53, 7, 100], "int64": [-1, 2**53 + 1, 2**53, 7, 100]}[new_dtype]
    op = Categorify().fit(gp.from_pandas(pd.DataFrame({"c": np.array(fit_values, dtype=fit_dtype)})), ["c"])
    new = pd.DataFrame({"c": np.array(new_values, dtype=new_dtype)})
    got = gp.to_pandas(op.transform(gp.from_pandas(new), ["c"]))["c"].tolist()
    assert got == oracle_ids(fit_values, new_values)[0]


def test_a_partition_where_a_column_is_all_missing_adds_nothing_to_the_fit():
    """One partition of a sparse column can be all NaN (float64 in pandas): it carries no kind and no value, as in
    the in-memory fit of the whole column."""
    import dask.dataframe as dd

    parts = [pd.DataFrame({"a": [np.nan, np.nan, np.nan]}), pd.DataFrame({"a": np.array([3, 1, 3])})]
    ddf = dd.from_map(lambda i: parts[i], [0, 1], meta=parts[0])
    whole = pd.DataFrame({"a": pd.array([None, None, None, 3, 1, 3], dtype="Int64")})
    with gp.use_backend("pandas"):
        by_parts = gp.Workflow(["a"] >> Categorify()).fit(gp.Dataset(ddf))
        in_memory = gp.Workflow(["a"] >> Categorify()).fit(whole)
        assert by_parts.transform(whole)["a"].tolist() == in_memory.transform(whole)["a"].tolist() == [1, 1, 1, 3, 4, 3]


@pytest.mark.parametrize("how", ["fit_then_transform", "fit_transform"])
def test_an_object_column_of_ints_is_encoded_as_ints_on_its_own(how):
    """Called on its own (no Workflow to convert dtypes), an object column of Python ints was fitted as text and
    looked up as ints: every row came out of vocabulary. It encodes as the same ints held as Int64 do."""
    obj = pd.DataFrame({"c": pd.Series([1, 2, None, 1, 3, 2, 1], dtype=object)})
    ints = pd.DataFrame({"c": pd.array([1, 2, None, 1, 3, 2, 1], dtype="Int64")})
    want = Categorify().fit(ints, ["c"]).transform(ints, ["c"])["c"].tolist()
    assert want == [3, 4, 1, 3, 5, 4, 3]  # 1 most frequent, then 2, then 3; null id 1
    op = Categorify()
    got = op.fit_transform(obj, ["c"]) if how == "fit_transform" else op.fit(obj, ["c"]).transform(obj, ["c"])
    assert got["c"].tolist() == want
    assert op.vocabulary("c")["value"].tolist()[3:] == [1, 2, 3]


def test_num_oov_buckets_beyond_the_32_bit_hash_is_refused_when_the_workflow_is_built():
    # 2**32 buckets fitted, then the first unseen value at transform raised a bare OverflowError
    # ("Python integer 4294967296 out of bounds for uint32")
    from gpupipe import ops
    from gpupipe.errors import ParameterError

    with pytest.raises(ParameterError, match=r"num_oov_buckets must be an integer in \[1, 4294967295\], got 4294967296"):
        gp.Workflow(["c"] >> ops.Categorify(num_oov_buckets=2**32))
    op = Categorify(num_oov_buckets=2**32 - 1).fit(pd.DataFrame({"c": ["a"]}), ["c"])
    assert op.transform(pd.DataFrame({"c": ["zz"]}), ["c"])["c"].tolist() == [2 + mmh3_hash(b"zz", 0) % (2**32 - 1)]


def test_a_categorical_of_python_int_categories_encodes_as_its_ints():
    """A categorical whose categories are held as Python objects was read as text: the vocabulary was "10", "9"
    (ties ordered as text) and HashBucket hashed the text. It encodes as the Int64 column of the same values does."""
    values = [9, 10, None, 9, 10, 7, 7]
    ints = pd.DataFrame({"c": pd.array(values, dtype="Int64"), "y": [0, 1, 0, 1, 1, 0, 1]})
    cat = ints.assign(c=pd.Categorical(pd.Series(values, dtype=object), categories=pd.Index([10, 9, 7], dtype=object)))
    wf = gp.Workflow(["c"] >> Categorify(), ["c"] >> gp.ops.Rename(postfix="_h") >> gp.ops.HashBucket(1000),
                     ["c"] >> gp.ops.Rename(postfix="_te") >> gp.ops.TargetEncoding(target="y", kfold=1))
    want = wf.fit_transform(ints)
    assert want["c"].tolist() == [4, 5, 1, 4, 5, 3, 3]  # 7, 9 and 10 twice each: ordered by value
    pd.testing.assert_frame_equal(wf.fit_transform(cat), want)
    pd.testing.assert_frame_equal(wf.fit(cat).transform(cat), want)


def test_the_vocabulary_digest_reads_values_not_their_dtype_or_joined_text():
    """The digest hashes each kind's values in one width (an int32 and an int64 fit of the same ids agree, as a
    Workflow loaded from parquet or given other-width data must) and the text with where each value ends."""
    def digest(values, dtype=None):
        return Categorify().fit(pd.DataFrame({"c": pd.Series(values, dtype=dtype)}), ["c"]).vocabulary_digest("c")

    assert digest([3, 1, 1, 2], "int32") == digest([3, 1, 1, 2], "int64") == digest([3, 1, 1, 2], "UInt16")
    assert digest(["ab", "c", "c"]) != digest(["a", "bc", "bc"])
    assert digest(["", "x", "x"]) != digest(["x", "", ""])
    assert digest([2**63, 1, 1], "uint64") != digest([1, 2, 2], "uint64")
