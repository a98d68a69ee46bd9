"""The exceptions gpupipe raises.

Every error raised for bad input is a :class:`GpupipeError`; each subclass also derives from the
builtin exception a caller would naturally catch (``ValueError``, ``RuntimeError``), so existing
``except ValueError`` code keeps working.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "DataError",
    "GpupipeError",
    "NotFittedError",
    "SchemaError",
    "WorkflowFormatError",
]


class GpupipeError(Exception):
    """Base class of every error gpupipe raises on purpose."""


class BackendUnavailableError(GpupipeError, RuntimeError):
    """A backend was requested that cannot run here; the message says why and what to install."""


class SchemaError(GpupipeError, ValueError):
    """A column is missing, unexpected, or of a type the operation cannot take."""


class NotFittedError(GpupipeError, ValueError, AttributeError):
    """``transform`` (or anything needing fitted statistics) was called before ``fit``."""


class DataError(GpupipeError, ValueError):
    """The values are unusable: NaN/inf labels, empty input, negative input to a log, a corrupt file."""


class WorkflowFormatError(GpupipeError, ValueError):
    """A saved workflow or checkpoint is tampered with, truncated, of a newer format, or unsaveable."""
