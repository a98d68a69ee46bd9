"""LogOp against numpy.log1p; negative input is a DataError naming the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError


def test_matches_log1p(backend: str) -> None:
    x = np.array([0.0, 1.0, np.nan, 1e6, 3.5])
    df = pd.DataFrame({"x": x, "n": pd.array([0, 1, None, 7, 2], dtype="Int32"),
                       "h": x.astype(np.float32)})
    out = gp.to_pandas(ops.LogOp().transform(gp.from_pandas(df), ["x", "n", "h"]))
    np.testing.assert_array_equal(out["x"].to_numpy(), np.log1p(x))
    np.testing.assert_array_equal(out["n"].to_numpy(), np.log1p([0, 1, np.nan, 7, 2]))
    assert out["h"].dtype == np.float32 and out["x"].dtype == np.float64


def test_negative_raises_naming_column(backend: str) -> None:
    df = gp.from_pandas(pd.DataFrame({"ok": [1.0, 2.0], "bad_col": [1.0, -0.5]}))
    with pytest.raises(DataError, match=r"'bad_col'.*-0\.5.*Clip"):
        ops.LogOp().transform(df, ["ok", "bad_col"])
