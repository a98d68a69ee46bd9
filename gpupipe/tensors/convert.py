"""Frame → PyTorch without copies: one 1-D tensor per column, sharing memory with the frame.

Numeric, null-free columns of the dtype their role calls for (``cont`` float32, ``cat`` int64,
``label`` float32) become tensors that *are* the frame's buffers:

* pandas: the column's NumPy array (for a nullable ``Int64``/``Float32`` column without nulls,
  its data buffer ``arr._data``; for an Arrow-backed column, its single null-free chunk) is handed
  to ``torch.from_dlpack``. pandas 3 returns read-only arrays (copy-on-write); ``torch.from_numpy``
  warns on them, ``torch.from_dlpack`` shares them silently (checked with torch 2.13, NumPy 2.4,
  pandas 3.1). The tensor does not enforce read-only-ness: writing into it would write into the
  frame, so treat the tensors as read-only views. The other way round, the tensor keeps the column's
  pandas Series alive, so pandas' copy-on-write sees a reference: a later ``df.loc[i, col] = v``
  copies the frame's block first and the tensor keeps the values it was made from (without that,
  the write landed in the tensor's memory).
* cuDF: the column's ``__cuda_array_interface__`` gives a CuPy view (no copy) that goes through
  ``torch.from_dlpack``. Never ``cudf.DataFrame.to_dlpack`` (copies into one matrix) and never a
  whole-frame ``.values`` (copies, column-major).

Every other column (nulls, bool, another numeric dtype, a strided buffer) is converted once, and
:attr:`TensorTable.copies` says which and why. ``device="cuda"`` with a pandas frame is *hybrid
mode*: each column is copied once into pinned host memory (converting its dtype on the way) and
uploaded with one non-blocking copy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..backend import Dispatch
from ..errors import DataError, ParameterError, SchemaError, oom_advice
from ..schema import Schema
from . import audit

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["TensorTable", "resolve_schema", "to_tensors"]

# role -> dtype name of the tensor the Loader and models expect
ROLE_DTYPES = {"cont": "float32", "cat": "int64", "label": "float32"}


class TensorTable:
    """Columns of a frame as 1-D torch tensors on one device, with the schema that gives their roles.

    Parameters
    ----------
    columns : mapping of str to torch.Tensor
        One 1-D tensor per schema column, all of the same length and on the same device.
    schema : Schema
        Roles (``cont``/``cat``/``label``) of the columns.
    copies : mapping of str to str, optional
        Columns that had to be copied, and why. Columns not listed share memory with their source.

    Attributes
    ----------
    num_rows : int
    device : torch.device
    copies : dict of str to str

    Examples
    --------
    >>> import numpy as np, pandas as pd, gpupipe as gp
    >>> df = pd.DataFrame({"x": np.arange(3, dtype="float32"), "c": np.arange(3), "y": [0, 1, 0]})
    >>> tt = gp.to_tensors(df, schema=gp.Schema.infer(df, label="y", cat=["c"]))
    >>> tt["x"].data_ptr() == df["x"].to_numpy().ctypes.data
    True
    >>> tt.copies
    {'y': 'int64 → float32'}
    """

    def __init__(self, columns: Mapping[str, torch.Tensor], schema: Schema,
                 copies: Mapping[str, str] | None = None) -> None:
        import torch

        self.columns: dict[str, torch.Tensor] = dict(columns)
        self.schema = schema
        self.copies: dict[str, str] = dict(copies or {})
        missing = [c for c in schema.names if c not in self.columns]
        if missing:
            msg = f"TensorTable lacks tensors for schema columns {missing}"
            raise SchemaError(msg)
        lengths = {name: int(t.shape[0]) for name, t in self.columns.items()}
        if len(set(lengths.values())) > 1:
            msg = f"TensorTable columns have different lengths: {lengths}"
            raise DataError(msg)
        devices = {str(t.device) for t in self.columns.values()}
        if len(devices) > 1:
            msg = f"TensorTable columns are on different devices: {sorted(devices)}"
            raise DataError(msg)
        self.num_rows = next(iter(lengths.values()), 0)
        self.device = next(iter(self.columns.values())).device if self.columns else torch.device("cpu")
        self._checked = False  # set by to_tensors when it checked every column against this schema

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self.columns[name]
        except KeyError:
            msg = f"column {name!r} is not in this TensorTable; it has {list(self.columns)}"
            raise SchemaError(msg) from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return self.num_rows

    def __repr__(self) -> str:
        return (f"TensorTable({self.num_rows} rows, cont={len(self.schema.cont)}, cat={len(self.schema.cat)}, "
                f"label={self.schema.label!r}, device={self.device}, copies={len(self.copies)})")

    def to(self, device: Any) -> TensorTable:
        """This table on ``device``: ``self`` when it is already there, else one upload per column.

        Host tensors are uploaded from pinned memory with non-blocking copies.
        """
        from .. import _validate as V

        dev = V.device(device, "TensorTable.to")
        if dev is None or _same_device(self.device, dev):
            return self
        cols = {}
        for name, t in self.columns.items():
            cols[name] = _upload(t, dev, name) if self.device.type == "cpu" else t.to(dev)
        return TensorTable(cols, self.schema, self.copies)


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":
        import torch

        ia = a.index if a.index is not None else torch.cuda.current_device()
        ib = b.index if b.index is not None else torch.cuda.current_device()
        return ia == ib
    return True


def _upload(host: torch.Tensor, device: torch.device, name: str) -> torch.Tensor:
    """One host → device copy from pinned memory, non-blocking.

    A pageable source is staged through pinned memory first (a host copy): the DMA engine reads
    pinned memory directly, so the upload itself is asynchronous and runs at full bus speed.
    Torch's pinned allocator keeps the staging block alive until the copy has completed.
    """
    import torch

    with oom_advice(f"uploading column {name!r} ({host.element_size() * host.numel():,} bytes) to {device}",
                    "tensors"):
        src = host if host.is_pinned() else torch.empty_like(host, pin_memory=True).copy_(host)
        out = src.to(device, non_blocking=True)
    audit.record_event("upload", out.element_size() * out.numel(), name, f"pinned, non-blocking, to {device}")
    return out


def resolve_schema(frame: Any, schema: Any = None, label: str | None = None) -> Schema:
    """The schema to use: ``schema`` itself, a workflow's ``output_schema``, or one inferred from ``frame``.

    With ``schema=None`` the schema is inferred with :meth:`gpupipe.Schema.infer` (floats are
    ``cont``, integers ``cat``; ``label`` names the label column). Pass ``wf.output_schema`` to
    get the Workflow's roles and cardinalities.
    """
    check_schema_param(schema, "schema", "to_tensors")
    if schema is None:
        return Schema.infer(frame, label=label)
    if isinstance(schema, Schema):
        return schema
    return schema.output_schema  # a Workflow: NotFittedError when it is not fitted


def check_schema_param(schema: Any, name: str, where: str) -> None:
    """ParameterError unless ``schema`` is None, a Schema or a Workflow (anything with ``output_schema``)."""
    from .. import _validate as V

    if schema is None or isinstance(schema, Schema) or hasattr(type(schema), "output_schema"):
        return
    V.fail(where, name, schema, "a gpupipe.Schema (e.g. wf.output_schema), a fitted Workflow, or None to infer it",
           "a dict becomes a Schema with gp.Schema.from_dict(d)" if isinstance(schema, Mapping) else "")


def is_frame(data: Any) -> bool:
    """A pandas or cuDF DataFrame: an Arrow table has ``columns`` too (a list of its arrays), not names."""
    return hasattr(data, "columns") and getattr(data, "ndim", 2) == 2 and not hasattr(data, "column_names")


def not_a_frame_hint(data: Any) -> str:
    """What to do with ``data``, which is not a frame (:func:`is_frame`): Arrow data and a Series have a way in."""
    if type(data).__module__.startswith("pyarrow"):
        return "convert Arrow data with gp.from_arrow(...) first"
    if hasattr(data, "to_frame") and getattr(data, "ndim", None) == 1:
        return "a Series is one column: series.to_frame(), with the label beside it"
    return ""


def to_tensors(frame: Any, schema: Any = None, device: Any = None, *, label: str | None = None,
               validate: bool = True) -> TensorTable:
    """One 1-D torch tensor per schema column, sharing memory with ``frame`` wherever it can.

    Parameters
    ----------
    frame : pandas.DataFrame, cudf.DataFrame, Polars DataFrame or TensorTable
        Usually the output of ``wf.transform``. Columns not in the schema are ignored. A Polars
        frame is converted once: its null-free numeric columns stay views of Polars' buffers on
        the CPU, and ``gp.audit.transfers()`` names any column that was copied.
    schema : Schema, Workflow or None
        Roles of the columns (``wf.output_schema``). ``None`` infers one with
        :meth:`gpupipe.Schema.infer` (floats → ``cont``, integers → ``cat``), with ``label``
        naming the label column.
    device : str or torch.device, optional
        Where the tensors live. Default: the frame's device (``cpu`` for pandas, the frame's GPU
        for cuDF). ``"cuda"`` with a pandas frame is hybrid mode: one pinned, non-blocking upload
        per column.
    label : str, optional
        Name of the label column when the schema is inferred.
    validate : bool, default True
        Check that the continuous columns and the label are finite (no NaN, null or ±inf: a model
        would turn them into NaN scores) and that categorical ids lie in ``[0, cardinality)``.
        These checks are one reduction per column, on the column's device, before it moves
        (no extra memory); ``validate=False`` skips them, making ``to_tensors`` independent of
        the row count for zero-copy columns (a ``gp.Loader`` given the table then checks it: it
        never batches NaN features or out-of-range ids).

    Returns
    -------
    TensorTable
        ``copies`` names each column that was converted, and why.

    Raises
    ------
    ParameterError
        An argument of the wrong type or value (``device="gpu"``, ``label=1``, ``schema="x"``, a
        pyarrow Table: convert it with ``gp.from_arrow`` first, as for ``gp.Loader``).
    BackendUnavailableError
        ``device`` is a CUDA device and none is usable here (checked before any work).
    NotFittedError
        ``schema`` is a Workflow that is not fitted.
    SchemaError
        A schema column is missing from the frame, ``label`` is not a column (schema inferred),
        or a ``cont``/``cat`` column is not numeric.
    DataError
        A continuous column or the label has NaN/inf or nulls (the message names the column and
        the op that fills or drops them: ops.FillMissing / ops.FillMedian, ops.Dropna) or finite
        values beyond float32's range (they would become ±inf), or a categorical column has nulls or
        ids outside ``[0, cardinality)`` (the message gives the frame's values, also where the
        conversion to int64 would wrap them, as uint64 ids from 2**63 up).

    Examples
    --------
    >>> import numpy as np, pandas as pd, gpupipe as gp
    >>> df = pd.DataFrame({"x": np.ones(4, dtype="float32"), "y": np.zeros(4, dtype="float32")})
    >>> tt = gp.to_tensors(df, label="y")
    >>> tt["x"].shape, tt.copies
    (torch.Size([4]), {})
    """
    from .. import _validate as V

    dev = V.device(device, "to_tensors")  # before any work: no pinned allocation for a device that is not there
    V.string(label, "label", "to_tensors", none_ok=True)
    V.flag(validate, "validate", "to_tensors")
    check_schema_param(schema, "schema", "to_tensors")
    if isinstance(frame, TensorTable):
        return frame if dev is None else frame.to(dev)
    from ..io.convert import as_frame, is_polars

    if is_polars(frame) and schema is not None:  # convert only the columns the schema uses
        have = set(frame.collect_schema().names())
        frame = frame.select([n for n in resolve_schema(None, schema).names if n in have])
    frame = as_frame(frame, "to_tensors")  # a Polars frame, converted once (zero-copy where Arrow allows)
    if hasattr(frame, "iter_partitions"):
        msg = ("to_tensors takes one in-memory frame; for a gp.Dataset use gp.Loader(dataset, ...), which streams "
               "its partitions, or ds.to_frame() first")
        raise ParameterError(msg)
    if not is_frame(frame):
        V.fail("to_tensors", "frame", frame, "a pandas or cuDF DataFrame (e.g. wf.transform's output) or a TensorTable",
               not_a_frame_hint(frame))
    from ..io.convert import check_column_names

    check_column_names(frame.columns, "to_tensors")
    schema = resolve_schema(frame, schema, label)
    missing = [name for name in schema.names if name not in frame.columns]
    if missing == [schema.label]:
        msg = (f"the frame has no label column {schema.label!r}, which the schema names (it has "
               f"{list(frame.columns)}); data transformed without its label can be scored, not trained on: pass "
               "the schema without the label, schema=wf.output_schema.without_label()")
        raise SchemaError(msg)
    if missing:
        msg = (f"columns {missing} of the schema are not in the frame (it has {list(frame.columns)}); "
               "pass the frame produced by the workflow that made this schema")
        raise SchemaError(msg)
    with oom_advice(f"turning {len(frame):,} rows x {len(schema.names)} columns into tensors on "
                    f"{dev or 'the frame device'}", "tensors"):
        cols, copies = _to_tensors(frame, schema, dev, validate)
    table = TensorTable(cols, schema, copies)
    table._checked = validate  # a Loader over it with the same schema does not check it again
    return table


_to_tensors = Dispatch(
    "to_tensors",
    "(frame, schema, device, validate) -> (dict name -> tensor, dict name -> copy reason); each column checked "
    "(validate) where its data is before it moves, so no check reads back from a device.",
)
_to_tensors.register_lazy("cudf", "gpupipe.tensors._cudf")


# -- pandas ----------------------------------------------------------------------------------------
@_to_tensors.register("pandas")
def _to_tensors_pandas(frame: Any, schema: Schema, device: torch.device | None,
                       validate: bool) -> tuple[dict, dict]:
    import numpy as np
    import torch

    hybrid = device is not None and device.type != "cpu"
    cols: dict[str, torch.Tensor] = {}
    copies: dict[str, str] = {}
    for col in schema:
        series = frame[col.name]
        native, reasons, source = _pandas_buffer(series, col.name, col.role)
        target = np.dtype(ROLE_DTYPES[col.role])
        if col.role == "cat" and native.dtype.kind == "f":
            _check_integral(col.name, native)
        if native.dtype != target:
            reasons.append(f"{native.dtype} → {target}")
        if not native.flags.c_contiguous:
            reasons.append(f"non-contiguous (stride {native.strides[0]} bytes)")
        reason = "; ".join(reasons) or None
        if hybrid:
            # One host pass writes the (converted) column into pinned memory, then one upload.
            pinned = torch.empty(len(native), dtype=getattr(torch, str(target)), pin_memory=True)
            np.copyto(pinned.numpy(), native, casting="unsafe")
            if validate:  # on the host, before the upload: no check ever reads back from the device
                _validate_converted(col.name, col.role, col.cardinality, pinned, native)
            t = pinned.to(device, non_blocking=True)
            audit.record_event("upload", t.element_size() * t.numel(), col.name,
                               f"pinned, non-blocking, to {device}" + (f"; {reason}" if reason else ""))
            if reason:
                copies[col.name] = reason
            cols[col.name] = t
            continue
        # shared: the tensor holds the Series, a reference pandas' copy-on-write honours (see the module docstring)
        arr = np.asarray(_Held(native, series)) if reason is None else np.ascontiguousarray(native, dtype=target)
        t = torch.from_dlpack(arr)
        if validate:
            _validate_converted(col.name, col.role, col.cardinality, t, native)
        if reason:
            copies[col.name] = reason
        audit.record_tensor(col.name, t, source, reason)
        cols[col.name] = t
    return cols, copies


class _Held:
    """A NumPy array's memory, exported with its pandas owner attached: ``np.asarray(_Held(arr, series))`` is a view
    of ``arr`` whose base holds ``series``, and a tensor made from it by DLPack keeps that view, hence the Series,
    alive as long as its storage. pandas' copy-on-write then copies the frame's block before writing into it."""

    __slots__ = ("__array_interface__", "owner")

    def __init__(self, arr: np.ndarray, owner: Any) -> None:
        self.__array_interface__ = arr.__array_interface__
        self.owner = owner


def _validate_converted(name: str, role: str, cardinality: int | None, t: torch.Tensor, native: np.ndarray) -> None:
    """:func:`_validate` of a host tensor made from ``native``; when it refuses a column whose conversion changed its
    values, the message gives the frame's values (read from ``native``, only then) rather than the converted ones."""
    try:
        _validate(name, role, cardinality, t)
    except DataError:
        if native.dtype != t.numpy().dtype:
            _refuse_by_source(name, role, cardinality, t.numpy(), native)
        raise


def _refuse_by_source(name: str, role: str, cardinality: int | None, converted: np.ndarray,
                      native: np.ndarray) -> None:
    import numpy as np

    if role == "cat":
        # uint64 ids >= 2**63 (and float ids beyond int64) wrap to negative int64 ids in the cast
        lo, hi = int(native.min()), int(native.max())
        beyond = " (beyond the int64 range of ids)" if hi > np.iinfo(np.int64).max or lo < np.iinfo(np.int64).min \
            else ""
        msg = (f"categorical column {name!r} has ids in [{lo}, {hi}]{beyond} but the schema allows [0, {cardinality}); "
               "encode it with ops.Categorify, or fix the schema's cardinality")
        raise DataError(msg)
    if native.dtype.kind == "f":
        over = np.isinf(converted) & np.isfinite(native)  # finite values too large for float32
        n_over = int(over.sum())
        if n_over:
            first = int(np.flatnonzero(over)[0])
            what = "label column" if role == "label" else "continuous column"
            msg = (f"{what} {name!r} has {n_over} finite values beyond float32's range (±3.4e38; e.g. "
                   f"{float(native[first])!r} at row {first}), which become ±inf as the float32 tensors models take: scale "
                   "them in the workflow (ops.LogOp, ops.Normalize) or bound them (ops.Clip)")
            raise DataError(msg)


def _array_range(arr: np.ndarray) -> tuple[int, int]:
    start = int(arr.__array_interface__["data"][0])
    if arr.size == 0:
        return start, start
    span = (arr.shape[0] - 1) * abs(arr.strides[0]) + arr.itemsize
    return start, start + span


def _pandas_buffer(series: Any, name: str, role: str) -> tuple[np.ndarray, list[str], tuple[int, int] | None]:
    """The column's values as a NumPy array: a view of the frame's buffer when there are no nulls.

    Returns ``(array, reasons, source_range)``; ``reasons`` is non-empty when the array is a new copy.
    """
    if series.dtype == object:  # Python ints/floats/bools held as objects: their canonical dtype first
        from ..backend._pandas import canonical_series

        series = canonical_series(series, name)
        arr, reasons, _ = _pandas_buffer(series, name, role)
        return arr, [f"object values → {series.dtype}", *reasons], None
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and not _arrow_number(dtype.pyarrow_dtype):
        # Arrow bools are bits (no NumPy view: to_numpy(zero_copy_only=True) raised ArrowInvalid), decimals and
        # dates have no NumPy dtype: the dtype rule makes them pandas booleans, float64 and timestamps first
        from ..backend._pandas import canonical_series

        converted = canonical_series(series, name)
        if converted.dtype != dtype:
            arr, reasons, _ = _pandas_buffer(converted, name, role)
            return arr, [f"{dtype} → {converted.dtype}", *reasons], None
    values = series.array
    _check_kind(name, role, dtype)
    if isinstance(dtype, np.dtype):
        arr = series.to_numpy(copy=False)
        return arr, [], _array_range(arr)
    if isinstance(dtype, pd.ArrowDtype):
        chunked = values.__arrow_array__()
        nulls = chunked.null_count
        if nulls == 0 and chunked.num_chunks == 1:
            arr = chunked.chunk(0).to_numpy(zero_copy_only=True)
            return arr, [], _array_range(arr)
        if nulls:
            _null_error_or_ok(name, role, nulls)
            arr = values.to_numpy(dtype="float32", na_value=np.nan)
            return arr, [f"{nulls} nulls → NaN"], None
        arr = chunked.to_numpy()
        return arr, [f"{chunked.num_chunks} Arrow chunks combined"], None
    # pandas' masked arrays (Int64, Float32, boolean, ...): a data buffer and a null mask.
    data = getattr(values, "_data", None)
    mask = getattr(values, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
        nulls = int(mask.sum())
        if nulls == 0:
            return data, [], _array_range(data)
        _null_error_or_ok(name, role, nulls)
        arr = values.to_numpy(dtype="float32", na_value=np.nan)
        return arr, [f"{nulls} nulls → NaN"], _array_range(data)
    arr = np.asarray(series)  # any other numeric extension array: one conversion
    return arr, [f"extension dtype {dtype} converted"], None


def _arrow_number(t: Any) -> bool:
    """Arrow integers and floats: the types whose one null-free chunk is a NumPy array without a copy."""
    import pyarrow as pa

    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _check_integral(name: str, values: np.ndarray) -> None:
    import numpy as np

    ok = np.isfinite(values) & (np.floor(values) == values)
    if not ok.all():
        bad = values[~ok][:3].tolist()
        msg = (f"categorical column {name!r} is float with non-integer values (e.g. {bad}); ids must be whole "
               "numbers: encode it with ops.Categorify or give it the 'cont' role")
        raise SchemaError(msg)


def _check_kind(name: str, role: str, dtype: Any) -> None:
    """Only numeric (and bool) columns become tensors; the message says which op encodes the rest."""
    import numpy as np

    try:
        kind = np.dtype(getattr(dtype, "numpy_dtype", dtype)).kind
    except TypeError:
        kind = "O"
    if kind in "biuf":
        return
    advice = {
        "cont": "encode it first (ops.Categorify for strings/categories and give it the 'cat' role, "
                "ops.DateParts for dates) or drop it from the schema",
        "cat": "encode it to integer ids with ops.Categorify first",
        "label": "encode the label as numbers (0/1 for binary tasks) first",
    }[role]
    msg = f"column {name!r} has dtype {dtype}, which is not numeric, but the schema gives it the {role!r} role; {advice}"
    raise SchemaError(msg)


def _null_error_or_ok(name: str, role: str, nulls: int) -> None:
    """Nulls in ``cont`` become NaN (listed in copies; ``validate`` then refuses them, naming the column); in
    ``cat`` or ``label`` they have no faithful value."""
    if role == "cat":
        msg = (f"categorical column {name!r} has {nulls} nulls; ids cannot be null: encode it with ops.Categorify "
               "(nulls get id 1) or fill it with ops.FillMissing first")
        raise DataError(msg)
    if role == "label":
        msg = f"label column {name!r} has {nulls} nulls; drop those rows (ops.Dropna) or fill them before training"
        raise DataError(msg)


# -- checks ------------------------------------------------------------------------------------------
def _non_finite(t: torch.Tensor) -> tuple[int, int, int] | None:
    """``(NaN count, ±inf count, first bad row)`` of a float tensor, or None when every value is finite.

    One float64 sum decides (NaN and inf propagate, and float32 values cannot overflow a float64 sum),
    on the tensor's device; the counts are computed only when it is not finite."""
    import torch

    if not t.is_floating_point() or math.isfinite(float(t.sum(dtype=torch.float64))):
        return None
    nan = torch.isnan(t)
    bad = nan | torch.isinf(t)
    n_bad = int(bad.sum())
    if n_bad == 0:  # float64 values whose sum overflowed: finite after all
        return None
    n_nan = int(nan.sum())
    return n_nan, n_bad - n_nan, int(bad.nonzero()[0])


def _validate(name: str, role: str, cardinality: int | None, t: torch.Tensor) -> None:
    """Continuous columns and the label finite; categorical ids in range. Reductions on the column's
    device (no read-back of the data), once per column."""
    import torch

    if t.numel() == 0:
        return
    if role == "label":
        bad = _non_finite(t)
        if bad is not None:
            msg = (f"label column {name!r} has {bad[0] + bad[1]} NaN/inf values (first at row {bad[2]}); "
                   "drop or fill those rows before training")
            raise DataError(msg)
    elif role == "cont":
        bad = _non_finite(t)
        if bad is not None:
            raise DataError(cont_non_finite_message(name, *bad))
    elif role == "cat":
        lo, hi = (int(v) for v in torch.aminmax(t))
        if lo < 0 or (cardinality is not None and hi >= cardinality):
            msg = (f"categorical column {name!r} has ids in [{lo}, {hi}] but the schema allows [0, {cardinality}); "
                   "encode it with ops.Categorify, or fix the schema's cardinality")
            raise DataError(msg)


def cont_non_finite_message(name: str, nan: int, inf: int, first: int) -> str:
    """What a DataError says about a continuous column holding NaN (or nulls) and ±inf values."""
    what = " and ".join(part for part in (f"{nan} NaN/null" if nan else "", f"{inf} ±inf" if inf else "") if part)
    fix = ("fill the missing values in the workflow (ops.FillMissing or ops.FillMedian, before ops.Normalize) or "
           "drop those rows (ops.Dropna)")
    if inf:
        fix += "; bound the infinite ones (ops.Clip) or drop them"
    return (f"continuous column {name!r} has {what} values (first at row {first}); a model turns them into NaN "
            f"scores and losses: {fix}")
