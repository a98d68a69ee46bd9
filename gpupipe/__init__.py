"""gpupipe: tabular data-science pipelines end to end on one GPU, with a pandas/CPU fallback.

Files are read into cuDF (or pandas) frames, feature-engineered by a fitted, saved Workflow,
handed to PyTorch zero-copy through DLPack, batched and trained on the same device.

Importing gpupipe is cheap: it imports no GPU library, no torch and no Dask. Heavier parts of
the API are loaded on first attribute access.

Examples
--------
>>> import gpupipe as gp
>>> gp.get_backend().name in gp.available_backends()
True
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors, schema
from ._version import __version__
from .backend import Backend, available_backends, backend_status, get_backend, set_backend, use_backend
from .errors import (
    BackendUnavailableError,
    DataError,
    GpupipeError,
    NotFittedError,
    OutOfMemoryError,
    ParameterError,
    SchemaError,
    WorkerDiedError,
    WorkflowFormatError,
)
from .io import (
    from_arrow,
    from_pandas,
    read_arrow,
    read_csv,
    read_parquet,
    to_arrow,
    to_pandas,
    to_polars,
    write_parquet,
)
from .schema import ColumnSchema, Schema

# name -> module that defines it; imported on first access so `import gpupipe` stays light.
_LAZY: dict[str, str] = {
    "datasets": "gpupipe.datasets",
    "Dataset": "gpupipe.io.dataset",
    "Workflow": "gpupipe.workflow",
    "ops": "gpupipe.ops",
    "to_tensors": "gpupipe.tensors.convert",
    "TensorTable": "gpupipe.tensors.convert",
    "Loader": "gpupipe.tensors.loader",
    "Batch": "gpupipe.tensors.loader",
    "audit": "gpupipe.tensors.audit",
    "models": "gpupipe.models",
    "training": "gpupipe.training",
    "baselines": "gpupipe.baselines",
    "bench": "gpupipe.bench",
    "distributed": "gpupipe.distributed",
    "train": "gpupipe.training",
    "evaluate": "gpupipe.training",
    "predict": "gpupipe.training",
    "TrainResult": "gpupipe.training",
    "EarlyStopping": "gpupipe.training",
    "save_checkpoint": "gpupipe.training",
    "load_checkpoint": "gpupipe.training",
    "serving": "gpupipe.serving",
    "batch_predict": "gpupipe.serving",
}

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "ColumnSchema",
    "DataError",
    "GpupipeError",
    "NotFittedError",
    "OutOfMemoryError",
    "ParameterError",
    "Schema",
    "SchemaError",
    "WorkerDiedError",
    "WorkflowFormatError",
    "__version__",
    "available_backends",
    "backend_status",
    "errors",
    "from_arrow",
    "from_pandas",
    "get_backend",
    "read_arrow",
    "read_csv",
    "read_parquet",
    "schema",
    "set_backend",
    "to_arrow",
    "to_pandas",
    "to_polars",
    "use_backend",
    "write_parquet",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gpupipe' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.rsplit(".", 1)[-1] == name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
