"""Frame operations the workflow needs whose spelling differs between pandas and cuDF."""

from __future__ import annotations

from typing import Any

from ..backend import Dispatch
from ..errors import DataError
from ..schema import Schema

__all__ = ["check_label", "empty_output", "finalize_output"]


def _label_error(label: str, bad: int, what: str) -> DataError:
    msg = (f"label column {label!r} has {bad} {what} value(s); a label must be a finite number in every row. "
           f"Drop those rows first (for example with ops.Dropna on ['{label}'] in its own workflow, or pandas/cuDF "
           f"dropna) or fill them")
    return DataError(msg)


check_label = Dispatch("check_label", doc="DataError naming the label if it holds a null, NaN or infinite value.")


@check_label.register("pandas")
def _check_label_pandas(frame: Any, label: str) -> None:
    import numpy as np

    values = frame[label].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    if not finite.all():
        raise _label_error(label, int((~finite).sum()), "null, NaN or infinite")


@check_label.register("cudf")
def _check_label_cudf(frame: Any, label: str) -> None:
    import cupy
    import numpy as np

    values = frame[label].to_cupy(dtype=np.float64, na_value=np.nan)
    finite = cupy.isfinite(values)
    if not bool(finite.all()):
        raise _label_error(label, int((~finite).sum()), "null, NaN or infinite")


def _cat_null_error(name: str, count: int) -> DataError:
    msg = (f"categorical output column {name!r} has {count} null id(s); an id column must be complete. "
           "This is a bug in the op that produced it, or a column marked categorical without an encoder")
    return DataError(msg)


finalize_output = Dispatch(
    "finalize_output",
    doc="The output frame in schema order and dtypes: cont and label float32, cat int64.",
)


@finalize_output.register("pandas")
def _finalize_output_pandas(frame: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    data = {}
    for col in schema:
        s = frame[col.name]
        if col.role == "cat":
            if s.dtype == np.int64:
                data[col.name] = s  # already the target dtype: no copy
                continue
            missing = s.isna()
            if bool(missing.any()):
                raise _cat_null_error(col.name, int(missing.sum()))
            data[col.name] = s.to_numpy(dtype=np.int64)
        elif s.dtype == np.float32:
            data[col.name] = s
        else:
            data[col.name] = s.to_numpy(dtype=np.float32, na_value=np.nan)
    return pd.DataFrame(data, index=frame.index, copy=False)


@finalize_output.register("cudf")
def _finalize_output_cudf(frame: Any, schema: Schema) -> Any:
    import cudf

    data = {}
    for col in schema:
        s = frame[col.name]
        if col.role == "cat":
            nulls = int(s.isna().sum())
            if nulls:
                raise _cat_null_error(col.name, nulls)
            data[col.name] = s.astype("int64")
        else:
            data[col.name] = s.astype("float32")
    return cudf.DataFrame(data, index=frame.index)


def empty_output(backend: str, schema: Schema) -> Any:
    """An empty frame with the schema's columns and dtypes (the meta of a lazy transform)."""
    import numpy as np

    data = {c.name: np.empty(0, dtype=np.int64 if c.role == "cat" else np.float32) for c in schema}
    if backend == "cudf":
        import cudf

        return cudf.DataFrame(data)
    import pandas as pd

    return pd.DataFrame(data)
