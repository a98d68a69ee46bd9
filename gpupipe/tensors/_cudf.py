"""cuDF frame → torch tensors on the frame's GPU, without copies where the column allows.

A null-free numeric column of its role's dtype is handed over as a CuPy view of its device buffer
(``__cuda_array_interface__``) and then ``torch.from_dlpack``: the tensor *is* the column. Never
``DataFrame.to_dlpack`` (it copies every column into one matrix) and never a whole-frame
``.values`` (a column-major copy). Everything else is converted once on the device and named in
the table's ``copies``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import audit
from .convert import ROLE_DTYPES, _check_kind, _null_error_or_ok, _same_device, _to_tensors, _validate

if TYPE_CHECKING:
    import cudf
    import cupy
    import torch

    from ..schema import Schema


@_to_tensors.register("cudf")
def _to_tensors_cudf(frame: cudf.DataFrame, schema: Schema, device: torch.device | None,
                     validate: bool) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    import torch

    from ..backend._cudf import column, float64_values

    cols: dict[str, torch.Tensor] = {}
    copies: dict[str, str] = {}
    for col in schema:
        series = column(frame, col.name)
        _check_kind(col.name, col.role, series.dtype)
        target = ROLE_DTYPES[col.role]
        nulls = int(series.null_count)
        reasons: list[str] = []
        source = None
        if nulls:
            if col.role == "cat" and series.dtype.kind == "f":
                # a null float id is NaN on pandas, where it fails the whole-number check: the same SchemaError here
                _check_integral(col.name, float64_values(series))
            _null_error_or_ok(col.name, col.role, nulls)
            reasons.append(f"{nulls} nulls → NaN")
            view = float64_values(series).astype(target)
        else:
            view = _device_view(series)
            ptr = int(view.data.ptr)
            source = (ptr, ptr + view.nbytes)
            if col.role == "cat" and view.dtype.kind == "f":
                _check_integral(col.name, view)
            if view.dtype != target:
                reasons.append(f"{view.dtype} → {target}")
                view = view.astype(target)
        t = torch.from_dlpack(view)
        if validate:  # where the data is, before any move
            _validate(col.name, col.role, col.cardinality, t)
        reason = "; ".join(reasons) or None
        if device is not None and not _same_device(t.device, device):
            t = t.to(device)
            reason = (reason + "; " if reason else "") + f"moved to {device}"
        if reason:
            copies[col.name] = reason
        audit.record_tensor(col.name, t, source, reason)
        cols[col.name] = t
    return cols, copies


def _device_view(series: cudf.Series) -> cupy.ndarray:
    """The column's device buffer as a CuPy array (no copy; a bool column is viewed as its bytes)."""
    import cupy

    view = cupy.asarray(series)
    return view if view.flags.c_contiguous else cupy.ascontiguousarray(view)


def _check_integral(name: str, values: cupy.ndarray) -> None:
    """A float column given the ``cat`` role must hold whole numbers: the same SchemaError as on pandas."""
    import cupy

    from ..errors import SchemaError

    ok = cupy.isfinite(values) & (cupy.floor(values) == values)
    if not bool(ok.all()):
        bad = values[~ok][:3].get().tolist()
        msg = (f"categorical column {name!r} is float with non-integer values (e.g. {bad}); ids must be whole "
               "numbers: encode it with ops.Categorify or give it the 'cont' role")
        raise SchemaError(msg)
