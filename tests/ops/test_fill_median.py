"""FillMedian against SimpleImputer(strategy="median"); exact on any partitioning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.impute import SimpleImputer

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import SchemaError


def _frame(seed: int = 2, n: int = 301) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "f": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n).round(2)),
        "i": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 40, n)), dtype="Int64"),
    })


def test_matches_simple_imputer(backend: str) -> None:
    df = _frame()
    op = ops.FillMedian(add_indicator=True).fit(gp.from_pandas(df), ["f", "i"])
    out = gp.to_pandas(op.transform(gp.from_pandas(df), ["f", "i"]))
    x = df.to_numpy(dtype=float, na_value=np.nan)
    imp = SimpleImputer(strategy="median", add_indicator=True).fit(x)
    np.testing.assert_allclose([op.medians_["f"], op.medians_["i"]], imp.statistics_, rtol=0, atol=0)
    np.testing.assert_allclose(out.to_numpy(dtype=float), imp.transform(x), rtol=0, atol=0)


def test_even_count_takes_mean_of_middle_values() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0, 10.0, 20.0, None]})
    assert ops.FillMedian().fit(df, ["a"]).medians_ == {"a": float(np.median([1, 2, 10, 20]))}


def test_all_null_column_fills_zero_like_sklearn_keep_empty() -> None:
    df = pd.DataFrame({"a": [np.nan, np.nan, np.nan]})
    op = ops.FillMedian().fit(df, ["a"])
    out = op.transform(df, ["a"])["a"].to_numpy()
    expected = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(df.to_numpy())[:, 0]
    np.testing.assert_array_equal(out, expected)
    assert np.isfinite(out).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 120), parts=st.integers(1, 7))
def test_partitioned_fit_is_exact(seed: int, rows: int, parts: int) -> None:
    df = _frame(seed, rows)
    whole = ops.FillMedian().fit(df, ["f", "i"]).medians_
    ds = gp.Dataset(df, partition_rows=max(1, rows // parts))
    assert ops.FillMedian().fit(ds, ["f", "i"]).medians_ == whole


def test_text_column_refused() -> None:
    with pytest.raises(SchemaError, match="'s'"):
        ops.FillMedian().fit(pd.DataFrame({"s": ["a", None]}), ["s"])


@pytest.mark.gpu
def test_fit_on_cudf_copies_only_the_distinct_value_table_to_the_host() -> None:
    """The median is counted on the device: what comes back is one (value, count) pair per distinct value,
    not the column (the CUDA profiler counts every device → host byte)."""
    from helpers import require_cudf

    require_cudf()
    n, distinct_f, distinct_i = 2_000_000, 500, 50
    rng = np.random.default_rng(0)
    f = rng.integers(0, distinct_f, n).astype("float64")
    f[rng.random(n) < 0.1] = np.nan
    i = pd.array(rng.integers(0, distinct_i, n), dtype="Int64")
    i[rng.random(n) < 0.1] = pd.NA
    pdf = pd.DataFrame({"f": f, "i": i})
    with gp.use_backend("cudf"):
        frame = gp.from_pandas(pdf)
        ops.FillMedian().fit(frame, ["f", "i"])  # warm-up: kernels loaded, memory pools grown
        with gp.audit.transfers() as report:
            op = ops.FillMedian().fit(frame, ["f", "i"])
    assert report.method == "profiler", report.profiler_error
    table_bytes = 16 * (distinct_f + distinct_i)  # float64 values + int64 counts
    assert report.d2h_bytes <= table_bytes + 4096, str(report)  # + a few scalar reads (sizes of masked results)
    assert report.d2h_bytes < 8 * n / 1000  # a thousandth of one column
    assert report.h2d_bytes <= 4096, str(report)  # fill scalars only
    assert op.medians_ == ops.FillMedian().fit(pdf, ["f", "i"]).medians_



@pytest.mark.parametrize("values", [
    pd.to_datetime(["2020-01-01", None, "1960-01-01"]),  # used to give ns counts as floats, NaT unfilled as -9.2e18
    pd.to_timedelta([1, None, 3], unit="s"),             # [1e9, -9.2e18, 3e9]
    np.array([1 + 1j, np.nan, 3]),                       # imaginary parts dropped: [1.0, 2.0, 3.0]
    pd.array(["1.5", None, "x"], dtype="str"),           # a bare ValueError from NumPy
], ids=["datetime", "timedelta", "complex", "text"])
def test_transform_refuses_a_column_it_cannot_fill_by_name(values) -> None:
    # fitted on numbers, the op read any other dtype at transform as numbers (or crashed unnamed); fit refuses them
    op = ops.FillMedian().fit(pd.DataFrame({"a": [1.0, np.nan, 3.0]}), ["a"])
    with pytest.raises(SchemaError, match=r"FillMedian: column.*'a'"):
        op.transform(pd.DataFrame({"a": values}), ["a"])


def test_an_object_column_of_numbers_is_filled_on_its_own() -> None:
    # on its own (no Workflow converting dtypes) the op refused an object column of Python numbers as "str values"
    df = pd.DataFrame({"a": pd.Series([1, 2, None, 10], dtype=object)})
    op = ops.FillMedian().fit(df, ["a"])
    imp = SimpleImputer(strategy="median").fit(df.to_numpy(dtype=float, na_value=np.nan))
    assert op.medians_ == {"a": imp.statistics_[0]}
    np.testing.assert_array_equal(op.transform(df, ["a"])["a"].to_numpy(), [1.0, 2.0, 2.0, 10.0])


@pytest.mark.parametrize("values", [[1.7e308, 1.7e308, np.nan, 1.7e308, 1.7e308], [1e308, 1.5e308, np.nan],
                                    [-1.7e308, -1.6e308], [-1.7e308, 1.7e308], [0.1, 0.2, 0.3, 0.7]])
def test_median_of_huge_middle_values_is_finite(values) -> None:
    # The mean of the two middle values overflowed: [1.7e308] * 4 had median inf, and the missing values were
    # filled with inf (numpy.median, pandas and SimpleImputer do the same). The exact mean, rounded once:
    from fractions import Fraction

    x = sorted(v for v in values if v == v)
    exact = float((Fraction(x[(len(x) - 1) // 2]) + Fraction(x[len(x) // 2])) / 2)
    df = pd.DataFrame({"a": values})
    op = ops.FillMedian().fit(df, ["a"])
    assert op.medians_["a"] == exact
    assert op.transform(df, ["a"])["a"].tolist() == [exact if v != v else v for v in values]
