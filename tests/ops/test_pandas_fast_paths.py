"""The pandas fast paths of the element-wise and statistic ops give what the public pandas/NumPy
spelling gives: nullable integers read straight from their values and mask (arbitrary values under
the mask included), Categorify's columns on threads, log1p from a table, Normalize block by block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler
from test_categorify import oracle_ids

from gpupipe import ops
from gpupipe.backend import _pandas as _stats
from gpupipe.errors import DataError, SchemaError


def _masked(values, mask, dtype="Int32"):
    """A nullable integer series whose masked slots hold ``values`` too (as Arrow-read data does)."""
    arr = pd.array(np.zeros(0, dtype=np.dtype(dtype.lower())), dtype=dtype)
    cls = type(arr)
    return pd.Series(cls(np.asarray(values, dtype=np.dtype(dtype.lower())), np.asarray(mask, dtype=bool)))


@pytest.fixture
def threads(monkeypatch):
    monkeypatch.setattr(_stats, "_THREAD_MIN_ROWS", 0)  # run the column threads on small frames too


def test_categorify_threads_and_values_under_the_mask(threads):
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame()
    truth = {}
    for k in range(5):
        values = rng.integers(0, 40 + 30 * k, n)
        mask = rng.random(n) < 0.2
        # under the mask: real values, and one (7777) seen nowhere else; neither may be counted
        values[mask & (rng.random(n) < 0.5)] = 7777
        frame[f"c{k}"] = _masked(values, mask)
        truth[f"c{k}"] = [None if m else int(v) for v, m in zip(values, mask, strict=True)]
    cols = list(frame.columns)
    op = ops.Categorify(freq_threshold=2).fit(frame, cols)
    new = frame.iloc[::-1].reset_index(drop=True)
    out = op.transform(new, cols)
    for c in cols:
        assert 7777 not in op.vocab_[c]["value"].tolist()
        want, card = oracle_ids(truth[c], truth[c][::-1], freq_threshold=2)
        assert out[c].tolist() == want, c
        assert op.cardinality(c) == card
    assert list(out.columns) == cols and all(out[c].dtype == np.int64 for c in cols)


def test_categorify_threads_raise_the_first_bad_column(threads):
    frame = pd.DataFrame({"a": pd.array([1, 2], dtype="Int32"), "f": [0.5, 1.5], "g": [1.5, 2.5]})
    with pytest.raises(Exception, match="'f'"):
        ops.Categorify().fit(frame, ["a", "f", "g"])


@pytest.mark.parametrize("dtype", ["Int8", "Int32", "UInt16", "Int64"])
@pytest.mark.parametrize("fill", [0, 5, -3.0])
def test_fill_missing_equals_fillna_then_numpy_dtype(dtype, fill):
    if dtype.startswith("U") and fill < 0:
        pytest.skip("a negative fill does not fit an unsigned column")
    s = _masked([3, 100, 7, 9, 0], [False, True, False, True, False], dtype)
    got = ops.FillMissing(fill_value=fill).transform(s.to_frame("x"), ["x"])["x"]
    want = s.fillna(fill).astype(s.dtype.numpy_dtype)
    pd.testing.assert_series_equal(got, want, check_names=False)
    assert got.array is not s.array and not np.shares_memory(got.to_numpy(), s.array._data)


def test_fill_missing_value_too_big_for_the_dtype_is_a_schema_error_naming_the_column():
    s = pd.Series(pd.array([1, None], dtype="Int8"))
    with pytest.raises((TypeError, ValueError, OverflowError)):  # pandas itself refuses, with its own error
        s.fillna(1000)
    with pytest.raises(SchemaError, match=r"'x' of dtype Int8 \(range -128\.\.127\)"):
        ops.FillMissing(fill_value=1000).transform(s.to_frame("x"), ["x"])


@pytest.mark.parametrize("bounds", [(0, None), (None, 5), (-2, 50), (0.0, 10.0)])
def test_clip_equals_pandas_clip(bounds):
    lower, upper = bounds
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame({
        "m": _masked(rng.integers(-10, 100, n), rng.random(n) < 0.3),
        "i": rng.integers(-10, 100, n).astype(np.int32),
        "u": rng.integers(0, 100, n).astype(np.uint8),
        "f": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 40, n)),
        "f32": rng.normal(0, 40, n).astype(np.float32),
    })
    if lower is not None and lower < 0:
        frame = frame.drop(columns="u")
    cols = list(frame.columns)
    out = ops.Clip(lower=lower, upper=upper).transform(frame, cols)
    for c in cols:
        pd.testing.assert_series_equal(out[c], frame[c].clip(lower=lower, upper=upper), check_names=False)


def test_clip_bound_inexact_in_float32_keeps_pandas_result():
    frame = pd.DataFrame({"f32": np.array([0.0, 0.1, 0.3], dtype=np.float32)})
    out = ops.Clip(lower=0.1).transform(frame, ["f32"])
    pd.testing.assert_series_equal(out["f32"], frame["f32"].clip(lower=0.1), check_names=False)


def test_log_op_integers_match_numpy_log1p():
    rng = np.random.default_rng(2)
    n = 5000
    values = np.concatenate([rng.integers(0, 70_000, n), [0, 65535, 65536, 2**31 - 1]]).astype(np.int64)
    mask = rng.random(len(values)) < 0.1
    values[mask & (rng.random(len(values)) < 0.5)] = -9  # negative only under the mask: not an error
    frame = pd.DataFrame({"m": _masked(values, mask, "Int64"), "p": np.abs(values).astype(np.int32)})
    out = ops.LogOp().transform(frame, ["m", "p"])
    want_m = np.where(mask, np.nan, np.log1p(np.maximum(values, 0).astype(np.float64)))
    np.testing.assert_array_equal(out["m"].to_numpy(), want_m)  # bit for bit, NaN where null
    np.testing.assert_array_equal(out["p"].to_numpy(), np.log1p(np.abs(values).astype(np.float64)))
    assert out["m"].dtype == np.float64 and out["p"].dtype == np.float64


def test_log_op_negative_integer_names_column_count_and_minimum():
    frame = pd.DataFrame({"x": _masked([3, -4, -1, -50], [False, False, False, True])})
    with pytest.raises(DataError, match=r"'x' has 2 negative value\(s\) \(minimum -4\.0\)"):
        ops.LogOp().transform(frame, ["x"])


def test_normalize_blocks_match_standard_scaler_and_the_full_length_formula():
    rng = np.random.default_rng(3)
    n = 3 * (1 << 16) + 123  # several blocks and a partial one
    x = rng.lognormal(2.0, 1.5, n)
    frame = pd.DataFrame({"x": x})
    op = ops.Normalize().fit(frame, ["x"])
    sk = StandardScaler().fit(x[:, None])
    assert op.means_["x"] == pytest.approx(sk.mean_[0], rel=1e-13)
    assert op.stds_["x"] == pytest.approx(sk.scale_[0], rel=1e-12)
    out = op.transform(frame, ["x"])["x"].to_numpy()
    want = ((x - op.means_["x"]) / op.stds_["x"]).astype(np.float32)
    np.testing.assert_array_equal(out, want)


def test_clip_with_nothing_to_clip_returns_the_column_itself():
    frame = pd.DataFrame({"m": _masked([3, 9, 0, 4], [False, True, False, False]), "i": np.arange(4, dtype=np.int32)})
    out = ops.Clip(lower=0, upper=9).transform(frame, ["m", "i"])
    assert np.shares_memory(out["m"].array._data, frame["m"].array._data)  # no copy
    assert np.shares_memory(out["i"].to_numpy(), frame["i"].to_numpy())
    for c in ("m", "i"):
        pd.testing.assert_series_equal(out[c], frame[c].clip(lower=0, upper=9), check_names=False)
    # a value out of range only under the null mask: clipped like the others (pandas keeps it hidden)
    under = pd.DataFrame({"m": _masked([3, -7, 1], [False, True, False])})
    got = ops.Clip(lower=0).transform(under, ["m"])["m"]
    pd.testing.assert_series_equal(got, under["m"].clip(lower=0), check_names=False)


@pytest.mark.parametrize("dtype", ["Int32", "UInt8", "Int64", "int64", "int16"])
def test_chunked_value_counts_equal_pandas_value_counts(monkeypatch, dtype):
    monkeypatch.setattr(_stats, "_COUNT_CHUNK", 7)  # many chunks, new values appearing in later ones
    rng = np.random.default_rng(4)
    n = 500
    values = rng.integers(0, 60, n)
    values[n // 2:] += 40  # values first seen halfway
    mask = rng.random(n) < 0.25
    values[mask & (rng.random(n) < 0.5)] = 99  # under the mask only: never counted
    if dtype[0].isupper():
        s = _masked(values, mask, dtype)
        want = pd.Series([None if m else int(v) for v, m in zip(values, mask, strict=True)], dtype="Int64")
    else:
        s = pd.Series(values.astype(dtype))
        want = s.astype("int64")
    got = _stats._value_counts_pandas(s)
    expected = want.value_counts()
    assert dict(zip(got["value"].tolist(), got["count"].tolist(), strict=True)) == expected.to_dict()
    assert got["count"].dtype == np.int64


@pytest.mark.parametrize(("label", "bad"), [
    (pd.Series(np.array([0, 1, 1], dtype=np.int8)), 0),
    (_masked([0, 1, 5], [False, True, False], "Int8"), 1),
    (pd.Series(np.array([0.0, np.inf, np.nan], dtype=np.float32)), 2),
    (pd.Series(pd.array([0.0, None, 1.0], dtype="Float64")), 1),
])
def test_label_check_counts_every_missing_or_infinite_value(label, bad):
    frame = pd.DataFrame({"y": label})
    if bad:
        with pytest.raises(DataError, match=rf"'y' has {bad} null, NaN or infinite"):
            _stats._check_label_pandas(frame, "y")
    else:
        _stats._check_label_pandas(frame, "y")


def test_bulk_lookups_drop_the_hash_table_small_ones_keep_it():
    index = _stats._make_index_pandas(np.array([5, 3, 9, 7], dtype=np.int64), np.dtype("int32"))
    small = pd.Series(np.array([3, 4], dtype=np.int32))
    assert _stats._lookup_pandas(small, index).tolist() == [1, -1]
    assert index._engine.is_mapping_populated  # kept for the next small lookup
    bulk = pd.Series(np.tile(np.array([9, 5, 1, 7], dtype=np.int32), 10))  # 10 rows per entry
    assert _stats._lookup_pandas(bulk, index).tolist() == [2, 0, -1, 3] * 10
    assert not index._engine.is_mapping_populated  # rebuilt on demand
    assert _stats._lookup_pandas(small, index).tolist() == [1, -1]
