"""Helpers shared by tests: frame comparison on either backend."""

from __future__ import annotations

from typing import Any

import gpupipe as gp


def assert_frame_equal(left: Any, right: Any, **kw: Any) -> None:
    """Compare frames of either backend with pandas.testing (cuDF frames are moved to pandas first)."""
    import pandas.testing as pdt

    pdt.assert_frame_equal(gp.to_pandas(left), gp.to_pandas(right), **kw)
