"""Finding out whether each backend can run here, without trusting ``import`` alone.

``import cudf`` succeeds on a machine with no NVIDIA driver; the first allocation then fails.
So the cuDF probe checks, in order: the package is installed (no import), NVML reports a
device (when nvidia-ml-py is present), cuDF imports, and a tiny allocation round-trips.
Each step's failure becomes the human-readable reason ``gpupipe info`` prints.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass

__all__ = ["BackendStatus", "nvml_devices", "probe", "probe_all", "synchronize"]


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    reason: str
    device: str = "cpu"


def _nvml_device_count() -> tuple[int | None, str]:
    """Return (count, note). ``count`` is None when NVML cannot be asked."""
    if importlib.util.find_spec("pynvml") is None:
        return None, "nvidia-ml-py not installed"
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount()), "NVML"
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # NVML raises its own error types; any failure means no usable driver
        return 0, f"NVML could not talk to an NVIDIA driver ({type(exc).__name__}: {exc})"


def _probe_pandas() -> BackendStatus:
    missing = [m for m in ("pandas", "numpy", "pyarrow") if importlib.util.find_spec(m) is None]
    if missing:
        return BackendStatus("pandas", False, f"missing packages: {', '.join(missing)}")
    return BackendStatus("pandas", True, "pandas, NumPy and pyarrow are installed", "cpu")


def _probe_cudf() -> BackendStatus:
    if importlib.util.find_spec("cudf") is None:
        return BackendStatus("cudf", False, "cuDF is not installed (pip install 'gpupipe[gpu]', or use the docker image)")
    if importlib.util.find_spec("cupy") is None:
        return BackendStatus("cudf", False, "cuDF is installed but CuPy is not (pip install cupy-cuda13x)")
    count, note = _nvml_device_count()
    if count == 0:
        return BackendStatus("cudf", False, f"cuDF is installed but no CUDA device is usable: {note}")
    try:
        cudf = importlib.import_module("cudf")
    except Exception as exc:
        return BackendStatus("cudf", False, f"cuDF is installed but failed to import ({type(exc).__name__}: {exc})")
    try:
        # A tiny allocation and a reduction: the first thing that fails without a driver.
        if int(cudf.Series([1, 2]).sum()) != 3:
            return BackendStatus("cudf", False, "cuDF computed a wrong result on a 2-element probe")
        import cupy

        dev = int(cupy.cuda.runtime.getDevice())
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return BackendStatus(
            "cudf", False,
            f"cuDF imports but cannot allocate on a GPU ({type(exc).__name__}: {first_line[:200]})",
        )
    return BackendStatus("cudf", True, f"cuDF {cudf.__version__} allocated on cuda:{dev}", f"cuda:{dev}")


_PROBES = {"cudf": _probe_cudf, "pandas": _probe_pandas}


@functools.cache
def probe(name: str) -> BackendStatus:
    """Probe one backend once per process (the answer cannot change while it runs)."""
    return _PROBES[name]()


def probe_all() -> list[BackendStatus]:
    return [probe(n) for n in _PROBES]


def nvml_devices() -> dict[str, object]:
    """What NVML says about this machine's NVIDIA driver and GPUs (for ``gpupipe info``), or why it cannot say."""
    try:
        import pynvml
    except ImportError:
        return {"nvml": "nvidia-ml-py not installed"}
    try:
        pynvml.nvmlInit()
        try:
            return {"nvml_driver": pynvml.nvmlSystemGetDriverVersion(),
                    "nvml_gpus": [pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
                                  for i in range(pynvml.nvmlDeviceGetCount())]}
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # NVML raises its own error types; any failure means no driver to ask
        return {"nvml": f"no NVIDIA driver reachable ({type(exc).__name__})"}


def synchronize() -> None:
    """Wait for all queued GPU work (a no-op on CPU; imports nothing that is not already loaded)."""
    import contextlib
    import sys

    torch = sys.modules.get("torch")
    # A torch that another thread is still importing has queued nothing: leave it alone (its half-built
    # module may not have torch.cuda yet).
    importing = getattr(getattr(torch, "__spec__", None), "_initializing", False)
    if torch is not None and not importing and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        # no device or no driver: nothing is queued anywhere
        with contextlib.suppress(Exception):
            cupy.cuda.runtime.deviceSynchronize()
