"""Helpers for the bad-input corpus: every case ends in a named gpupipe error or an asserted result."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

import gpupipe as gp


def expect_error(kind: type[gp.GpupipeError], fn: Callable[[], Any], *names: str) -> gp.GpupipeError:
    """Run ``fn``; it must raise ``kind`` (a gpupipe error, never an internal one) whose message names
    each of ``names`` (the culprit column, file, op...)."""
    try:
        fn()
    except gp.GpupipeError as exc:
        assert isinstance(exc, kind), f"expected {kind.__name__}, got {type(exc).__name__}: {exc}"
        for name in names:
            assert name in str(exc), f"the message does not name {name!r}: {exc}"
        return exc
    except Exception as exc:  # pragma: no cover - what the corpus exists to catch
        pytest.fail(f"expected {kind.__name__}, got the internal {type(exc).__module__}.{type(exc).__name__}: {exc}")
    pytest.fail(f"expected {kind.__name__}, but nothing was raised")


def says_what_to_do(exc: BaseException) -> bool:
    """Messages end in advice: an imperative or a suggested call."""
    text = str(exc).lower()
    return bool(re.search(r"\b(pass|use|cast|encode|rename|drop|fill|clip|check|convert|build|refit|save|choose|give|"
                          r"try|lower|import|restore|upgrade|re-export|filter|fix|select|parse|encode)\b", text))
