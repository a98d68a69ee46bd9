"""Argument checks shared by every public entry point (ops, tensors, training, models, baselines, readers).

Each check returns the value in its plain Python form (``np.int64(2)`` → ``2``, ``np.bool_(True)`` →
``True``, ``np.float32(0.5)`` → ``0.5``) or raises :class:`~gpupipe.errors.ParameterError` whose
message names where (the function or op), the parameter, what was given and what is accepted::

    gp.train: epochs must be an integer >= 1, got 2.5 (float)

The rules, the same everywhere (scikit-learn's, for the parts it has):

* an integer is a :class:`numbers.Integral` (Python or NumPy) but never a bool, and never a float,
  even a whole one (``epochs=2.0`` is refused rather than guessed);
* a flag is ``True``/``False`` or a NumPy bool; ``"no"``, ``0``, ``1`` and ``None`` are refused
  (a truthy string would silently mean True);
* a number is a real number (Python or NumPy), not a bool, never NaN, and finite unless said otherwise;
* a list of names is a list, tuple, pandas Index or NumPy array of ``str``; a bare string is refused
  (it would be read letter by letter) with the one-element list to pass instead;
* a seed is an integer in ``[0, 2**63)``.

Importing this module imports nothing heavy; the device check imports torch when called.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from .errors import BackendUnavailableError, ParameterError

__all__ = [
    "callable_param",
    "choice",
    "device",
    "fail",
    "flag",
    "given",
    "integer",
    "is_integer",
    "name_list",
    "number",
    "output_dir",
    "path",
    "seed",
    "string",
]

#: the largest seed accepted: torch, NumPy and Python all take any integer in [0, 2**63)
MAX_SEED = 2**63 - 1


def given(value: Any) -> str:
    """How a message shows a received value: its repr (shortened) and its type."""
    text = repr(value)
    if "\n" in text:  # a frame, a table, an array: its type says enough
        return f"a {type(value).__module__}.{type(value).__qualname__}"
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def fail(where: str, name: str, value: Any, accepted: str, hint: str = "") -> NoReturn:
    """Raise the ParameterError every check raises."""
    msg = f"{where}: {name} must be {accepted}, got {given(value)}"
    raise ParameterError(f"{msg}; {hint}" if hint else msg)


def _is_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.bool_)


def is_integer(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _range_text(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in [{lo}, {hi}]" if not lo_open else f"in ({lo}, {hi}]"
    if lo is not None:
        return f"> {lo}" if lo_open else f">= {lo}"
    if hi is not None:
        return f"<= {hi}"
    return ""


def integer(value: Any, name: str, where: str, *, min_value: int | None = None, max_value: int | None = None,
            none_ok: bool = False, none_means: str = "") -> int | None:
    """``value`` as a Python int within ``[min_value, max_value]`` (``None`` passes when ``none_ok``)."""
    if value is None and none_ok:
        return None
    rng = _range_text(min_value, max_value)
    accepted = "an integer" + (f" {rng}" if rng else "") + (f" or None ({none_means})" if none_ok and none_means
                                                            else " or None" if none_ok else "")
    if not is_integer(value):
        hint = ""
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            hint = f"pass {int(value)} (a float is never truncated)"
        elif isinstance(value, float):
            hint = "a fraction is never truncated"
        elif isinstance(value, str):
            hint = "pass a number, not text"
        fail(where, name, value, accepted, hint)
    v = int(value)
    if (min_value is not None and v < min_value) or (max_value is not None and v > max_value):
        fail(where, name, value, accepted)
    return v


def number(value: Any, name: str, where: str, *, min_value: float | None = None, max_value: float | None = None,
           min_open: bool = False, finite: bool = True, none_ok: bool = False) -> float | None:
    """``value`` as a Python float: a real number (not a bool, not NaN; finite unless ``finite=False``)
    within ``[min_value, max_value]`` (``(min_value, ...]`` with ``min_open``)."""
    if value is None and none_ok:
        return None
    rng = _range_text(min_value, max_value, min_open)
    accepted = ("a finite number" if finite else "a number") + (f" {rng}" if rng else "") + (
        " or None" if none_ok else "")
    if _is_bool(value) or not isinstance(value, numbers.Real):
        fail(where, name, value, accepted, "pass a number, not text" if isinstance(value, str) else "")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        fail(where, name, value, accepted)
    if min_value is not None and (v < min_value or (min_open and v == min_value)):
        fail(where, name, value, accepted)
    if max_value is not None and v > max_value:
        fail(where, name, value, accepted)
    return v


def flag(value: Any, name: str, where: str, *, none_ok: bool = False, none_means: str = "") -> bool | None:
    """``value`` as a Python bool: only ``True``/``False`` (or NumPy bools) are flags."""
    if value is None and none_ok:
        return None
    if not _is_bool(value):
        accepted = "True or False" + (f" or None ({none_means})" if none_ok and none_means else
                                      " or None" if none_ok else "")
        hint = "a string is never read as a flag ('no' would be true)" if isinstance(value, str) else ""
        fail(where, name, value, accepted, hint)
    return bool(value)


def choice(value: Any, choices: Iterable[str], name: str, where: str, *, none_ok: bool = False,
           none_means: str = "") -> str | None:
    """``value`` when it is one of ``choices`` (exact spelling; case matters)."""
    choices = list(choices)
    if value is None and none_ok:
        return None
    if not isinstance(value, str) or value not in choices:
        accepted = "one of " + ", ".join(repr(c) for c in choices) + (
            f" or None ({none_means})" if none_ok and none_means else " or None" if none_ok else "")
        hint = ""
        if isinstance(value, str):
            close = [c for c in choices if c.lower() == value.strip().lower()]
            if close:
                hint = f"did you mean {close[0]!r}?"
        fail(where, name, value, accepted, hint)
    return value


def string(value: Any, name: str, where: str, *, none_ok: bool = False, empty_ok: bool = True) -> str | None:
    """``value`` when it is a ``str`` (non-empty unless ``empty_ok``)."""
    if value is None and none_ok:
        return None
    if not isinstance(value, str) or (not empty_ok and not value):
        accepted = ("a string" if empty_ok else "a non-empty string") + (" or None" if none_ok else "")
        fail(where, name, value, accepted)
    return value


def name_list(value: Any, name: str, where: str, *, none_ok: bool = False, empty_ok: bool = False,
              unique: bool = True, what: str = "column names (str)") -> list[str] | None:
    """``value`` as a list of ``str``: a list, tuple, pandas Index or NumPy array of names.

    A bare string is refused (iterating it would give its letters), with the one-element list to pass.
    """
    if value is None and none_ok:
        return None
    accepted = f"a list of {what}" + (" or None" if none_ok else "")
    if isinstance(value, str):
        fail(where, name, value, accepted, f"a bare string is not a list; pass [{value!r}]")
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable) or not _listlike(value):
        fail(where, name, value, accepted)
    items = list(value)
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        fail(where, name, value, accepted, f"{bad[0]!r} ({type(bad[0]).__name__}) is not a str")
    if not items and not empty_ok:
        fail(where, name, value, f"a non-empty list of {what}" + (" or None" if none_ok else ""))
    if unique:
        dupes = sorted({v for v in items if items.count(v) > 1})
        if dupes:
            fail(where, name, value, f"a list of distinct {what}", f"{dupes} appear more than once")
    return items


def _listlike(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return True
    # a pandas Index/Series of names, or a 1-D NumPy array of names (duck-typed: no import)
    return hasattr(value, "dtype") and getattr(value, "ndim", 1) == 1


def seed(value: Any, where: str, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**63)`` (bools, floats and None are refused)."""
    accepted = "an integer in [0, 2**63) (the same seed gives the same result)"
    if not is_integer(value):
        hint = "None is not a seed here: pass an integer" if value is None else ""
        fail(where, name, value, accepted, hint)
    v = int(value)
    if not 0 <= v <= MAX_SEED:
        fail(where, name, value, accepted)
    return v


def callable_param(value: Any, name: str, where: str, what: str) -> Any:
    """``value`` when it is callable; ``what`` says what the function receives and returns."""
    if not callable(value) or isinstance(value, type):
        hint = "pass the function itself, not its source text" if isinstance(value, str) else ""
        fail(where, name, value, f"a function ({what})", hint)
    return value


def path(value: Any, name: str, where: str, *, none_ok: bool = False) -> str | os.PathLike | None:
    """``value`` when it is a ``str`` or an ``os.PathLike`` (bytes are refused: pass text)."""
    if value is None and none_ok:
        return None
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value):
        fail(where, name, value, "a path (str or pathlib.Path)" + (" or None" if none_ok else ""),
             "decode bytes first (path.decode())" if isinstance(value, bytes) else "")
    return value


def output_dir(value: Any, name: str, where: str, *, none_ok: bool = False) -> str | os.PathLike | None:
    """A directory gpupipe will create (or write into): a path that is not an existing file and whose
    nearest existing parent is a directory this process may write to. Checked before any work, so a
    long run does not end in a FileExistsError."""
    value = path(value, name, where, none_ok=none_ok)
    if value is None or (isinstance(value, str) and "://" in value):
        return value  # a URL: its store says what it allows, when the write reaches it
    p = os.path.abspath(os.fspath(value))
    if os.path.exists(p) and not os.path.isdir(p):
        fail(where, name, value, "a directory (existing or to be created)", f"{p} is a file")
    parent = p
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        fail(where, name, value, "a directory (existing or to be created)", f"{parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        fail(where, name, value, "a directory this process can write to", f"{parent} is not writable")
    return value


_DEVICE_RE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")
_DEVICE_FORMS = "None, 'cpu', 'cuda', 'cuda:N', an integer N (cuda:N) or a torch.device"


def device(value: Any, where: str, name: str = "device") -> Any:
    """``value`` as a ``torch.device`` that exists on this machine (``None`` passes: the data's device).

    Accepted: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, an integer ``N`` (``cuda:N``) or a ``torch.device`` of
    those types. A CUDA device on a machine without one is a :class:`BackendUnavailableError`, an index past
    the device count a :class:`ParameterError`; both name the parameter, before any work.
    """
    if value is None:
        return None
    import torch

    if isinstance(value, torch.device):
        kind, index = value.type, value.index
    elif is_integer(value):
        if int(value) < 0:
            fail(where, name, value, _DEVICE_FORMS)
        kind, index = "cuda", int(value)
    elif isinstance(value, str):
        m = _DEVICE_RE.match(value)
        if m is None:
            hint = ""
            low = value.strip().lower()
            if low in ("gpu", "cuda", "cpu") or low.startswith(("gpu:", "cuda:", "cpu:")):
                hint = "write it as 'cpu' or 'cuda[:N]' (lower case)"
            fail(where, name, value, _DEVICE_FORMS, hint)
        kind, index = m.group(1), None if m.group(2) is None else int(m.group(2))
    else:
        fail(where, name, value, _DEVICE_FORMS)
    if kind == "cpu":
        return torch.device("cpu")
    if kind != "cuda":
        fail(where, name, value, _DEVICE_FORMS, f"gpupipe places data on the CPU or a CUDA device, not {kind!r}")
    if not torch.cuda.is_available():
        msg = (f"{where}: {name}={value!r} asks for a CUDA device, but no CUDA device is usable on this machine "
               f"(torch {torch.__version__}, torch.cuda.is_available() is False); pass device=None or 'cpu', or "
               "run where a GPU and a CUDA build of torch are present")
        raise BackendUnavailableError(msg)
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        fail(where, name, value, f"a CUDA device index below {count} (this machine has {count})")
    return torch.device("cuda", index) if index is not None else torch.device("cuda")


def sequence_of(value: Any) -> Sequence[Any] | None:
    """``value`` as a list when it is a list, tuple or 1-D array (not a str/bytes/mapping); else None."""
    if isinstance(value, (str, bytes, Mapping)) or not _listlike(value):
        return None
    return list(value)
