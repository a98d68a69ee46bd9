"""Frame operations of the workflow's output, from the backend's frame vocabulary."""

from __future__ import annotations

from typing import Any

from ..backend import frame as F
from ..schema import Schema

__all__ = ["check_label", "empty_output", "finalize_output"]

check_label = F.check_label
finalize_output = F.finalize_output


def empty_output(backend: str, schema: Schema) -> Any:
    """An empty frame with the schema's columns and dtypes (the meta of a lazy transform)."""
    return F.empty_frame.impl(backend)(schema)
