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


def mmh3_hash(data: bytes, seed: int) -> int:
    """Unsigned MurmurHash3_x86_32 of ``data`` from the reference package ``mmh3`` (a dev dependency).

    Imported here, when a test needs it, so that a machine without mmh3 (the GPU machine) skips the tests
    that compare against it, with the reason, and still collects and runs the rest of their modules.
    """
    import pytest

    mmh3 = pytest.importorskip("mmh3", reason="the reference MurmurHash3 package mmh3 is not installed")
    return int(mmh3.hash(data, seed, signed=False))
