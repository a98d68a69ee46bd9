"""Backend detection and selection.

Two backends run the same code: ``cudf`` (cuDF, CuPy, cuML on one GPU) and ``pandas``
(pandas, NumPy, scikit-learn on the CPU). ``"auto"`` picks cuDF only when it imports *and* a
CUDA device is usable; otherwise pandas. The choice comes from, in order: a
:func:`use_backend` block, :func:`set_backend`, the ``GPUPIPE_BACKEND`` environment variable,
then ``"auto"``.

Examples
--------
>>> import gpupipe as gp
>>> "pandas" in gp.available_backends()
True
>>> with gp.use_backend("pandas"):
...     gp.get_backend().name
'pandas'
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import BackendUnavailableError, ParameterError
from ._detect import BackendStatus, nvml_devices, probe, probe_all, synchronize
from .dispatch import Dispatch, backend_of, is_cudf, is_pandas

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendStatus",
    "Dispatch",
    "array_namespace",
    "available_backends",
    "backend_of",
    "backend_status",
    "get_backend",
    "is_cudf",
    "is_pandas",
    "nvml_devices",
    "set_backend",
    "synchronize",
    "use_backend",
]

BACKENDS = ("cudf", "pandas")
_CHOICES = ("auto", *BACKENDS)
_ENV = "GPUPIPE_BACKEND"

_selected: str | None = None  # set_backend(); None means "not set, use env or auto"
_scoped: contextvars.ContextVar[str | None] = contextvars.ContextVar("gpupipe_backend", default=None)


@dataclass(frozen=True)
class Backend:
    """The active backend: its ``name`` and the ``device`` its frames live on."""

    name: str
    device: str

    @property
    def is_gpu(self) -> bool:
        """Whether frames of this backend live on a GPU (the ``cudf`` backend)."""
        return self.name == "cudf"


def backend_status() -> list[BackendStatus]:
    """Each backend, whether it is available here, and why (or why not)."""
    return probe_all()


def available_backends() -> list[str]:
    """Names of the backends usable on this machine, best first: ``["cudf", "pandas"]`` or ``["pandas"]``."""
    return [s.name for s in probe_all() if s.available]


def _check_choice(name: str, source: str) -> str:
    key = str(name).strip().lower()
    if key not in _CHOICES:
        msg = f"{source} {name!r} is not a backend; choose one of {list(_CHOICES)}"
        raise ParameterError(msg)
    return key


def _resolve(choice: str) -> Backend:
    if choice == "auto":
        for name in BACKENDS:
            st = probe(name)
            if st.available:
                return Backend(name, st.device)
        raise BackendUnavailableError("no backend is usable: " + "; ".join(s.reason for s in probe_all()))
    st = probe(choice)
    if not st.available:
        msg = f"the {choice!r} backend is not usable here: {st.reason}. Use backend='auto' or 'pandas' instead."
        raise BackendUnavailableError(msg)
    return Backend(choice, st.device)


def _current_choice() -> str:
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _selected is not None:
        return _selected
    env = os.environ.get(_ENV)
    if env:
        return _check_choice(env, f"environment variable {_ENV}=")
    return "auto"


def get_backend() -> Backend:
    """The backend new frames are read into.

    Raises
    ------
    BackendUnavailableError
        If the requested backend (by :func:`set_backend`, :func:`use_backend` or ``GPUPIPE_BACKEND``)
        cannot run here; the message says why.
    """
    return _resolve(_current_choice())


def set_backend(name: str = "auto") -> Backend:
    """Select the backend for this process: ``"auto"``, ``"cudf"`` or ``"pandas"``.

    The choice is checked at once, so asking for cuDF on a machine without a usable GPU raises
    :class:`~gpupipe.errors.BackendUnavailableError` here rather than at the first read.
    """
    global _selected
    key = _check_choice(name, "gp.set_backend: name")
    backend = _resolve(key)
    _selected = key
    return backend


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Use a backend inside a ``with`` block (thread- and task-local), then restore the previous one."""
    key = _check_choice(name, "gp.use_backend: name")
    backend = _resolve(key)
    token = _scoped.set(key)
    try:
        yield backend
    finally:
        _scoped.reset(token)


def array_namespace(obj: Any) -> Any:
    """The array module for ``obj``'s data: ``numpy`` for pandas/NumPy, ``cupy`` for cuDF/CuPy."""
    import importlib

    return importlib.import_module("cupy" if backend_of(obj) == "cudf" else "numpy")
