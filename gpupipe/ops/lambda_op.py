"""LambdaOp: apply a Python function to each selected column."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ..backend import frame as F
from ..errors import DataError, GpupipeError, SchemaError
from .base import ColumnInfo, Op

__all__ = ["LambdaOp"]


class LambdaOp(Op):
    """Apply ``fn(series) -> series or array`` (same length) to each selected column.

    Parameters
    ----------
    fn : callable
        Receives one column (pandas or cuDF Series) and returns its replacement.
    dtype : str, optional
        The dtype ``fn`` returns, when its kind differs from the input's: a NumPy number dtype
        (``"float32"``, ``"int64"``, ``"bool"``), ``"str"`` or ``"datetime64[ns]"``. The output is cast
        to it; a number the dtype cannot hold (beyond an integer dtype's range, a fraction for an integer
        dtype, anything but 0 or 1 for ``"bool"``, a finite value that would overflow a narrower float) is a
        :class:`~gpupipe.errors.DataError`, not wrapped or truncated. Without it, ``fn`` must return values
        of its input's kind (numbers for numbers).

    Notes
    -----
    The output is checked, never coerced: text, timestamps, complex numbers or timedeltas from a
    numeric column are a :class:`~gpupipe.errors.SchemaError` naming the column unless declared
    with ``dtype=`` (and encodable); a series returned with its rows reordered (another index, as
    ``sort_values`` gives), a frame, or too few values are a :class:`~gpupipe.errors.DataError`.

    A LambdaOp runs but cannot be saved: gpupipe never pickles, and a Python function has no
    other faithful form. Saving a workflow holding one raises
    :class:`~gpupipe.errors.WorkflowFormatError`; replace it with a built-in op, or recreate the
    workflow around it after loading.

    Examples
    --------
    >>> import pandas as pd
    >>> from gpupipe import ops
    >>> ops.LambdaOp(lambda s: s * 2).transform(pd.DataFrame({"a": [1, 2]}), ["a"])["a"].tolist()
    [2, 4]
    """

    serializable: ClassVar[bool] = False

    def __init__(self, fn: Callable[[Any], Any], dtype: str | None = None) -> None:
        self.fn = fn
        self.dtype = dtype

    def _check_params(self) -> None:
        from .. import _validate as V

        V.callable_param(self.fn, "fn", "LambdaOp", "it receives one column as a Series and returns its replacement")
        self._dtype_name()

    def _dtype_name(self) -> str | None:
        """The declared output dtype's name (None: the input's kind), or ParameterError naming ``dtype``."""
        if self.dtype is None:
            return None
        import numpy as np

        from .. import _validate as V

        accepted = "None or a dtype a later op or a model takes: a NumPy number dtype ('float32', 'int64', 'bool'), 'str' "\
                   "or 'datetime64[ns]'"
        if self.dtype in ("str", "string", str):
            return "str"
        if isinstance(self.dtype, bool) or not isinstance(self.dtype, (str, type, np.dtype)):
            V.fail("LambdaOp", "dtype", self.dtype, accepted)
        try:
            dt = np.dtype(self.dtype)
        except TypeError:
            V.fail("LambdaOp", "dtype", self.dtype, accepted, "it is not a dtype NumPy knows")
        if dt.kind not in "biufM":
            V.fail("LambdaOp", "dtype", self.dtype, accepted)
        return dt.name

    def output_info(self, columns: Sequence[str], info: dict[str, ColumnInfo]) -> dict[str, ColumnInfo]:
        name = self._dtype_name()
        if name is None:
            return {c: info[c] for c in columns}
        return {c: ColumnInfo(name) for c in columns}

    def transform(self, frame: Any, columns: Sequence[str]) -> Any:
        self._check_params()
        self._require(frame, columns, "LambdaOp")
        data = {}
        for c in columns:
            try:
                out = self.fn(frame[c])
            except Exception as exc:  # the user's function failed: say which column it was given
                if isinstance(exc, GpupipeError):
                    raise
                msg = (f"LambdaOp: fn raised {type(exc).__name__}: {exc} on column {c!r} (dtype {frame[c].dtype}); "
                       "fix the function (it receives one column as a Series)")
                raise DataError(msg) from exc
            data[c] = self._aligned(out, frame[c], c, len(frame))
        out_frame = F.normalize(F.build_frame(frame, data))  # object columns of numbers become numbers
        return F.build_frame(frame, {c: self._checked_output(out_frame[c], frame[c], c) for c in columns})

    @staticmethod
    def _aligned(out: Any, series: Any, column: str, n: int) -> Any:
        """``out`` as values in the input's row order: one value per row, 1-D, and a series' index must be
        the input's (its rows are never moved by label, nor silently taken by position when reordered)."""
        if not hasattr(out, "__len__") or isinstance(out, (str, bytes)) or len(out) != n:
            msg = (f"LambdaOp: fn returned {type(out).__name__} for column {column!r}; it must return a series or "
                   f"array with one value per row ({n})")
            raise DataError(msg)
        if getattr(out, "ndim", 1) != 1:
            msg = (f"LambdaOp: fn returned a {getattr(out, 'ndim', '?')}-dimensional {type(out).__name__} for column "
                   f"{column!r}; it must return one value per row (a Series or 1-D array), not a frame")
            raise DataError(msg)
        index = getattr(out, "index", None)
        if not hasattr(index, "equals"):  # arrays have no index (a list's .index is a method)
            index = None
        if index is not None and not index.equals(series.index):
            msg = (f"LambdaOp: fn returned a series for column {column!r} whose index is not its input's (rows "
                   "reordered, e.g. by sort_values, or relabelled); gpupipe neither moves rows by label nor takes "
                   "reordered values by position. Return the values in the input's row order (e.g. "
                   "result.reindex(s.index), or an array)")
            raise DataError(msg)
        return out.values if index is not None else out

    def _checked_output(self, out: Any, series: Any, column: str) -> Any:
        """The output column in its declared dtype, or of the input's kind (numeric stays numeric)."""
        declared = self._dtype_name()
        want = F.value_kind(series) if declared is None else F.kind(declared)
        got = F.value_kind(out)
        numeric = set(F.NUMERIC_KINDS)
        if not (got == want or (got in numeric and want in numeric)):
            what = f"declared dtype={self.dtype!r}" if declared is not None else f"its input's kind ({want})"
            msg = (f"LambdaOp: fn returned dtype {out.dtype} ({got} values) for column {column!r}, which does not match "
                   f"{what}. Return {want} values, or declare what fn returns with LambdaOp(fn, dtype=...) (e.g. "
                   "dtype='str' and encode it with ops.Categorify after it; complex numbers and timedeltas are never "
                   "accepted)")
            raise SchemaError(msg)
        if declared is None or str(out.dtype) == declared:
            return out
        import numpy as np

        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a cast that changes values is refused below
                cast = out.astype(declared)
        except (TypeError, ValueError, OverflowError) as exc:
            msg = f"LambdaOp: fn's output for column {column!r} ({out.dtype}) cannot be cast to dtype={self.dtype!r}: {exc}"
            raise DataError(msg) from exc
        lost = _cast_loss(out, cast, got, declared)
        if lost:
            msg = (f"LambdaOp: fn's output for column {column!r} ({out.dtype}) does not fit dtype={self.dtype!r}: "
                   f"{lost}, and the cast would change them silently. Return values that fit, or declare a dtype "
                   "that holds them (e.g. 'int64' or 'float64')")
            raise DataError(msg)
        return cast


def _cast_loss(out: Any, cast: Any, got: str, declared: str) -> str | None:
    """What a numeric cast of ``out`` to ``declared`` would change (NumPy casts wrap integers, truncate fractions
    and overflow to inf without a word), or None when every value survives. Rounding to a narrower float is not a
    loss: that is what declaring one asks for."""
    import numpy as np

    want = F.kind(declared)
    if got not in F.NUMERIC_KINDS or want not in F.NUMERIC_KINDS or len(out) == 0:
        return None
    if want == "float":
        inf = float("inf")
        made = int((cast.abs() == inf).sum()) - int((out.abs() == inf).sum())
        return f"{made} finite value(s) are beyond {declared}'s range (they would become inf)" if made > 0 else None
    present = out[~out.isna()]  # the cast succeeded, so nothing was missing; kept for nullable dtypes
    if not len(present):
        return None
    if want == "bool":
        bad = int((~present.isin([0, 1])).sum())
        return f"{bad} value(s) are neither 0 nor 1" if bad else None
    info = np.iinfo(np.dtype(declared))
    if got == "float":
        fractional = int((present % 1 != 0).sum())
        if fractional:
            return f"{fractional} value(s) have a fractional part"
        lo, hi = float(present.min()), float(present.max())
        # float(info.max) + 1 is the power of two just above the range, exactly (float(2**63 - 1) is 2**63)
        fits = lo >= float(info.min) and hi < float(info.max) + 1.0
    else:
        lo, hi = int(present.min()), int(present.max())
        fits = info.min <= lo and hi <= info.max
    return None if fits else f"values from {lo} to {hi} are beyond {declared}'s range [{info.min}, {info.max}]"
