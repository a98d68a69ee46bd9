"""Generic functions with per-backend implementations registered lazily.

A generic is declared once; each backend registers an implementation named
``_<generic>_<backend>``. Implementations may live in another module, named with
:meth:`Dispatch.register_lazy`, which is imported only when that backend is first used, so
importing gpupipe never imports a GPU library. The backend of an object is found by type,
looking the GPU library up in ``sys.modules`` (if cuDF was never imported, nothing can be a
cuDF object, so nothing is imported to check).

Examples
--------
>>> from gpupipe.backend.dispatch import Dispatch
>>> nrows = Dispatch("nrows")
>>> @nrows.register("pandas")
... def _nrows_pandas(frame):
...     return len(frame.index)
>>> import pandas as pd
>>> nrows(pd.DataFrame({"a": [1, 2]}))
2
>>> from gpupipe.backend.dispatch import GENERICS
>>> GENERICS.remove(nrows)  # a generic made for this example only: the library's must have every backend
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from ..errors import BackendUnavailableError, ParameterError

__all__ = ["GENERICS", "Dispatch", "backend_of", "is_cudf", "is_pandas"]

#: Every generic ever declared, in declaration order (the tests check each has every backend's implementation).
GENERICS: list[Dispatch] = []


def is_cudf(obj: Any) -> bool:
    """True for cuDF frames, series and indexes, and CuPy arrays, without importing either."""
    cudf = sys.modules.get("cudf")
    if cudf is not None and isinstance(obj, (cudf.DataFrame, cudf.Series, cudf.Index)):
        return True
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(obj, cupy.ndarray)


def is_pandas(obj: Any) -> bool:
    """True for pandas frames, series and indexes, and NumPy arrays."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series, pd.Index)):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.ndarray)


def backend_of(obj: Any) -> str:
    """Name of the backend that owns ``obj``: ``"cudf"`` or ``"pandas"``.

    Raises
    ------
    ParameterError
        If ``obj`` is neither (a ``TypeError`` too); the message names its type.
    """
    if is_pandas(obj):
        return "pandas"
    if is_cudf(obj):
        return "cudf"
    msg = (f"expected a pandas or cuDF DataFrame/Series (or a NumPy/CuPy array), got {type(obj).__module__}."
           f"{type(obj).__qualname__}; convert it with gp.from_pandas or gp.from_arrow first")
    raise ParameterError(msg)


class Dispatch:
    """A generic function whose implementation is chosen by backend name.

    Call it with a frame (``generic(frame, ...)``: the frame's backend picks the
    implementation) or ask for one explicitly with ``generic.impl("cudf")`` (for readers,
    whose inputs are paths).
    """

    def __init__(self, name: str, doc: str | None = None) -> None:
        self.name = name
        self.__doc__ = doc
        self._impls: dict[str, Callable[..., Any]] = {}
        self._lazy: dict[str, list[str]] = {}
        GENERICS.append(self)

    def __repr__(self) -> str:
        return f"<gpupipe generic {self.name} backends={sorted(set(self._impls) | set(self._lazy))}>"

    def register(self, backend: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``func`` as this generic's implementation for ``backend``."""

        def deco(func: Callable[..., Any]) -> Callable[..., Any]:
            self._impls[backend] = func
            return func

        return deco

    def register_lazy(self, backend: str, module: str) -> None:
        """Import ``module`` (which registers implementations) the first time ``backend`` is used."""
        self._lazy.setdefault(backend, []).append(module)

    def backends(self) -> list[str]:
        """Backends with an implementation, loaded or not."""
        return sorted(set(self._impls) | set(self._lazy))

    def impl(self, backend: str) -> Callable[..., Any]:
        """The implementation for ``backend``, importing its module on first use."""
        func = self._impls.get(backend)
        if func is None:
            for module in self._lazy.pop(backend, []):
                importlib.import_module(module)
            func = self._impls.get(backend)
        if func is None:
            msg = f"{self.name} has no implementation for the {backend!r} backend (it has {sorted(self._impls)})"
            raise BackendUnavailableError(msg)
        return func

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        return self.impl(backend_of(obj))(obj, *args, **kwargs)
