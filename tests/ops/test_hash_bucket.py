"""HashBucket: MurmurHash3 ids identical to the reference implementation, on both backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import mmh3_hash, via_arrow

import gpupipe as gp
from gpupipe.backend._murmur3 import murmur3_int64
from gpupipe.errors import SchemaError
from gpupipe.ops import ColumnInfo, HashBucket


def _ref(value, n):
    data = value.encode() if isinstance(value, str) else np.int64(value).tobytes()
    return mmh3_hash(data, 0) % n


def test_matches_mmh3_reference(backend):
    strings = ["Paris", "", "abc", "abcd", "abcde", "héllo wörld, a longer string!", None, "Paris"]
    ints = [0, 1, -1, 2**40, None, 7, 123456789, 0]
    df = pd.DataFrame({"s": pd.array(strings, dtype="str"), "i": pd.array(ints, dtype="Int64"),
                       "i32": pd.array([0, 1, -1, 5, None, 7, 9, 0], dtype="Int32")})
    out = gp.to_pandas(HashBucket(97).transform(gp.from_pandas(df), ["s", "i", "i32"]))
    assert out["s"].tolist() == [0 if v is None else _ref(v, 97) for v in strings]
    assert out["i"].tolist() == [0 if v is None else _ref(v, 97) for v in ints]
    # Int32 hashes like the same value as int64 (canonical bytes)
    assert out["i32"].tolist() == [0 if v is None else _ref(v, 97) for v in [0, 1, -1, 5, None, 7, 9, 0]]
    assert str(out["s"].dtype) == "int64"


def test_cudf_documented_murmur3_values():
    # cuDF's documentation: cudf.Series([10, 120, 30]).hash_values(method="murmur3")
    assert murmur3_int64(np.array([10, 120, 30])).tolist() == [4004982076, 2063150778, 699010651]


def test_categorical_bool_float_and_info():
    df = pd.DataFrame({"k": pd.Categorical(["x", None, "y"]), "b": pd.array([True, False, None], dtype="boolean"),
                       "f": [1.5, np.nan, -0.0]})
    out = HashBucket(10).transform(df, ["k", "b", "f"])
    assert out["k"].tolist() == [_ref("x", 10), 0, _ref("y", 10)]
    assert out["b"].tolist() == [_ref(1, 10), _ref(0, 10), 0]
    f = out["f"].tolist()
    assert f[1] == 0 and f[2] == mmh3_hash(np.float64(0.0).tobytes(), 0) % 10
    assert HashBucket(10).output_info(["k"], {"k": ColumnInfo("str")}) == {"k": ColumnInfo("int64", "cat", 10)}


def test_errors():
    with pytest.raises(ValueError, match="num_buckets"):
        HashBucket(0).transform(pd.DataFrame({"a": [1]}), ["a"])
    with pytest.raises(SchemaError, match="'zz'"):
        HashBucket(3).transform(pd.DataFrame({"a": [1]}), ["zz"])
    with pytest.raises(SchemaError, match="'t'"):
        HashBucket(3).transform(pd.DataFrame({"t": pd.to_datetime(["2020-01-01"])}), ["t"])


@pytest.mark.gpu
def test_same_ids_on_both_backends():
    pytest.importorskip("cudf")
    df = pd.DataFrame({"s": pd.array(["a", "bb", None, "ccc", "dddd", "é"], dtype="str"),
                       "i": pd.array([1, None, -5, 2**33, 0, 9], dtype="Int64"), "f": [0.5, -0.0, np.nan, 1e300, 2.0, 3.0]})
    cpu = HashBucket(1009).transform(df, ["s", "i", "f"])
    with gp.use_backend("cudf"):
        gpu = HashBucket(1009).transform(gp.from_pandas(df), ["s", "i", "f"])
    pd.testing.assert_frame_equal(via_arrow(gpu), via_arrow(cpu))


def test_object_columns_of_python_values_hash_as_their_kind():
    # on its own (no Workflow converting dtypes) an object column of ints or bools raised pyarrow's ArrowTypeError
    ints = [1, -2, None, 2**40]
    bools = [True, None, False, True]
    df = pd.DataFrame({"i": pd.Series(ints, dtype=object), "b": pd.Series(bools, dtype=object)})
    out = HashBucket(97).transform(df, ["i", "b"])
    assert out["i"].tolist() == [0 if v is None else _ref(v, 97) for v in ints]
    assert out["b"].tolist() == [0 if v is None else _ref(int(v), 97) for v in bools]


@pytest.mark.parametrize("chain", ["direct", "after FillMissing"])
def test_a_workflow_refuses_ints_at_fit_given_as_floats_at_transform(tmp_path, chain):
    """pd.read_parquet reads an integer column with nulls as float64, where gp.read_parquet gives Int64. A Workflow
    fitted on one and given the other hashed the same values into other buckets (3 and 3.0 hash apart) without a
    word; it names the column instead. A column of nothing but nulls still passes (every row is null)."""
    from gpupipe import ops

    ints = pd.DataFrame({"k": pd.array([3, None, 7, 3, 2**40], dtype="Int64")})
    floats = ints.astype({"k": "float64"})  # what pd.read_parquet gives for a file written without pandas metadata
    extra = [ops.FillMissing(fill_value=0)] if chain == "after FillMissing" else []
    node = ["k"]
    for op in [*extra, HashBucket(1000)]:
        node = node >> op
    wf = gp.Workflow(node).fit(ints)
    want = wf.transform(ints)
    wf.save(tmp_path / "wf")
    for w in (wf, gp.Workflow.load(tmp_path / "wf")):
        pd.testing.assert_frame_equal(w.transform(ints), want)
        with pytest.raises(SchemaError, match=r"HashBucket.*'k'.*Int64 at fit, float64 now"):
            w.transform(floats)
        with pytest.raises(SchemaError, match=r"'k'"):
            w.transform(gp.Dataset(floats, partition_rows=2)).to_frame()
        # fitted on floats, given ints: refused too
        with pytest.raises(SchemaError, match=r"float64 at fit, Int64 now"):
            gp.Workflow(["k"] >> HashBucket(1000)).fit(floats).transform(ints)
    if not extra:
        nulls = pd.DataFrame({"k": [np.nan, np.nan]})
        assert wf.transform(nulls)["k"].tolist() == [0, 0]
