"""What this machine is: Python, CPU, backends (with the reason each is or is not usable), GPUs, versions.

``gpupipe info`` prints it; ``gpupipe bench`` records it in ``results.json`` next to the figures.
Importing this module is light: torch and NVML are read, guarded, when :func:`collect_info` runs.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

__all__ = ["collect_info", "format_bytes"]


def format_bytes(n: float) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB``, ``36.4 TiB``, ``1.4 PiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable: the last unit returns

_KEY_PACKAGES = ("gpupipe", "numpy", "pandas", "pyarrow", "torch", "dask", "distributed", "scikit-learn",
                 "polars", "cudf-cu13", "cuml-cu13", "dask-cudf-cu13", "dask-cuda", "cupy-cuda13x", "cudf-polars-cu13",
                 "nvidia-ml-py")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect_info() -> dict:
    """What ``gpupipe info`` prints, as a dictionary (also recorded by benchmarks).

    Never raises: a part that cannot be read (no torch, no NVIDIA driver) is reported as such.

    Examples
    --------
    >>> info = collect_info()
    >>> sorted(b["name"] for b in info["backends"]), info["versions"]["gpupipe"] != "not installed"
    (['cudf', 'pandas'], True)
    """
    from .backend import backend_status, get_backend

    info: dict = {"python": sys.version.split()[0], "platform": platform.platform(), "cpu": _cpu_model(),
                  "cpu_threads": os.cpu_count()}
    info["backends"] = [{"name": s.name, "available": s.available, "reason": s.reason, "device": s.device}
                        for s in backend_status()]
    try:
        b = get_backend()
        info["selected"] = {"name": b.name, "device": b.device}
    except Exception as exc:  # report, do not crash: info is the command people run when things are wrong
        info["selected"] = {"error": str(exc)}
    devices: dict = {}
    try:
        import torch

        devices["torch_cuda_available"] = bool(torch.cuda.is_available())
        devices["torch_threads"] = torch.get_num_threads()
        devices["torch_cuda_build"] = torch.version.cuda
        devices["torch_gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
            if torch.cuda.is_available() else []
    except Exception as exc:
        devices["torch_error"] = f"{type(exc).__name__}: {exc}"
    from .backend import nvml_devices

    devices.update(nvml_devices())
    info["devices"] = devices
    info["versions"] = {p: _version(p) for p in _KEY_PACKAGES}
    return info
