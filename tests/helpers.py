"""Helpers shared by tests: frame comparison on either backend, failure injection for atomic writes."""

from __future__ import annotations

import errno
import os
from typing import Any

import gpupipe as gp


def assert_frame_equal(left: Any, right: Any, **kw: Any) -> None:
    """Compare frames of either backend with pandas.testing (cuDF frames are moved to pandas first)."""
    import pandas.testing as pdt

    pdt.assert_frame_equal(gp.to_pandas(left), gp.to_pandas(right), **kw)


def fail_rename(monkeypatch: Any, at: int) -> list[tuple[str, str]]:
    """Make the ``at``-th ``os.replace`` (1-based) fail as a broken disk would; the others run. Returns the calls."""
    real = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        calls.append((str(src), str(dst)))
        if len(calls) == at:
            raise OSError(errno.EIO, "injected rename failure")
        real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return calls
