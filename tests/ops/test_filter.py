"""Filter and Dropna: rows dropped, every column kept aligned (pandas boolean indexing as the oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, np.nan, 3.0, -4.0], "b": pd.array([1, 2, None, 4], dtype="Int64"),
                         "s": ["w", "x", "y", None]})


def test_filter_keeps_rows_where_predicate_holds(backend: str) -> None:
    df = _frame()
    out = gp.to_pandas(ops.Filter(lambda f: f["a"] > 0).transform_frame(gp.from_pandas(df), ["a"]))
    pd.testing.assert_frame_equal(out, df[df["a"] > 0].reset_index(drop=True))


def test_filter_rejects_non_mask() -> None:
    with pytest.raises(DataError, match="boolean mask"):
        ops.Filter(lambda f: f["a"]).transform_frame(_frame(), ["a"])
    with pytest.raises(DataError, match="one value per row"):
        ops.Filter(lambda f: np.array([True])).transform_frame(_frame(), ["a"])


def test_dropna_matches_pandas(backend: str) -> None:
    df = _frame()
    out = gp.to_pandas(ops.Dropna().transform_frame(gp.from_pandas(df), ["a", "b"]))
    pd.testing.assert_frame_equal(out, df.dropna(subset=["a", "b"]).reset_index(drop=True))


def test_filter_is_not_serializable() -> None:
    assert not ops.Filter(lambda f: f["a"] > 0).serializable
    assert ops.Dropna().serializable


def test_filter_refuses_a_mask_series_of_reordered_rows() -> None:
    # A mask is taken by position: one computed on sorted rows used to keep the rows at its positions ([3.0, 2.0]
    # here) instead of those it marks ([5.0, 3.0], what pandas' boolean indexing keeps).
    df = pd.DataFrame({"a": [5.0, 1.0, 3.0, 2.0], "y": [0.0, 1.0, 2.0, 3.0]})
    reordered = ops.Filter(lambda f: f.sort_values("a")["a"] > 2)
    with pytest.raises(DataError, match="index is not the frame's"):
        reordered.transform_frame(df, ["a"])
    with pytest.raises(DataError, match="index is not the frame's"):
        gp.Workflow(["a"] >> reordered, label="y").fit_transform(df)
    # the same mask in the frame's row order keeps what pandas keeps
    aligned = ops.Filter(lambda f: (f.sort_values("a")["a"] > 2).reindex(f.index))
    expected = df[df["a"] > 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(aligned.transform_frame(df, ["a"]), expected)


def test_filter_refuses_a_two_dimensional_mask() -> None:
    # a (rows, 2) boolean array has one "value" per row by len(): it used to select rows [0, 2, 2, 3]
    df = pd.DataFrame({"a": [5.0, 1.0, 3.0, 2.0]})
    mask = np.array([[True, False], [False, False], [True, True], [False, True]])
    with pytest.raises(DataError, match="2-dimensional"):
        ops.Filter(lambda f: mask).transform_frame(df, ["a"])
