"""The ``gpupipe`` command: ``info``, ``run`` and ``bench``. Heavy imports happen inside subcommands."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from collections.abc import Sequence

__all__ = ["main"]

_KEY_PACKAGES = ("gpupipe", "numpy", "pandas", "pyarrow", "torch", "dask", "distributed", "scikit-learn",
                 "cudf-cu13", "cuml-cu13", "dask-cudf-cu13", "dask-cuda", "cupy-cuda13x", "nvidia-ml-py")


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
    """What ``gpupipe info`` prints, as a dictionary (also recorded by benchmarks)."""
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
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            devices["nvml_driver"] = pynvml.nvmlSystemGetDriverVersion()
            devices["nvml_gpus"] = [pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
                                    for i in range(pynvml.nvmlDeviceGetCount())]
        finally:
            pynvml.nvmlShutdown()
    except ImportError:
        devices["nvml"] = "nvidia-ml-py not installed"
    except Exception as exc:
        devices["nvml"] = f"no NVIDIA driver reachable ({type(exc).__name__})"
    info["devices"] = devices
    info["versions"] = {p: _version(p) for p in _KEY_PACKAGES}
    return info


def _cmd_info(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        import json

        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"gpupipe {info['versions']['gpupipe']}  python {info['python']}  {info['platform']}")
    print(f"CPU: {info['cpu']}, {info['cpu_threads']} threads")
    print("\nBackends:")
    for b in info["backends"]:
        mark = "yes" if b["available"] else "no "
        print(f"  {b['name']:<7} {mark}  {b['reason']}")
    sel = info["selected"]
    print(f"\nSelected (GPUPIPE_BACKEND={os.environ.get('GPUPIPE_BACKEND', 'auto')}): "
          + (f"{sel['name']} on {sel['device']}" if "name" in sel else sel["error"]))
    print("\nDevices:")
    for k, v in info["devices"].items():
        print(f"  {k}: {v}")
    print("\nVersions:")
    for k, v in info["versions"].items():
        print(f"  {k:<16} {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="gpupipe", description="GPU end-to-end tabular pipelines.")
    parser.add_argument("--version", action="version", version=f"gpupipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="backends, devices and versions on this machine")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import GpupipeError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GpupipeError as exc:
        print(f"gpupipe: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
