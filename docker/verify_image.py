"""Build-time check of the GPU image: does the image satisfy gpupipe's ``gpu`` extra?

The RAPIDS image installs cuDF, cuML, dask-cudf and CuPy with conda, under distribution names
that differ from the pip names in ``pyproject.toml``'s ``gpu`` extra (``cudf`` vs ``cudf-cu13``).
Installing the extra through pip would therefore download a second cuDF; instead the Dockerfile
installs gpupipe's other requirements under a constraints file frozen from the image, and this
script then checks, without a GPU:

* every requirement of the ``gpu`` extra is installed under its pip or conda name, in range;
* no package pinned in the constraints file changed version (pip did not replace pandas/cuDF);
* torch is a CUDA build of the expected major version (``--torch-cuda 13``).

Exit status 0 when all hold, 1 with one line per problem otherwise.

Example
-------
>>> problems = check_extra(
...     ["cudf-cu13>=25.10", "pandas>=3.0,<3.1"],
...     {"cudf": "26.10.2", "pandas": "3.1.0"}.get)
>>> problems
["pandas 3.1.0 is installed but the gpu extra needs 'pandas<3.1,>=3.0'"]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import tomllib
from collections.abc import Callable, Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# pip name in pyproject -> names the same software has as a conda package (RAPIDS images)
CONDA_NAMES: dict[str, tuple[str, ...]] = {
    "cudf-cu13": ("cudf",),
    "cuml-cu13": ("cuml",),
    "dask-cudf-cu13": ("dask-cudf",),
    "cupy-cuda13x": ("cupy",),
    "cudf-polars-cu13": ("cudf-polars",),
    "nvidia-ml-py": ("pynvml",),
}

# Packages whose version the image fixes and pip must never move.
PROTECTED = ("cudf", "cuml", "dask-cudf", "dask-cuda", "cupy", "pandas", "numpy", "pyarrow", "dask",
             "distributed", "numba", "rmm")

VersionLookup = Callable[[str], "str | None"]


def installed_version(name: str) -> str | None:
    """Version of the installed distribution ``name``, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_extra(requirements: Iterable[str], lookup: VersionLookup = installed_version) -> list[str]:
    """Problems with the installed versions of ``requirements`` (pip or conda names)."""
    problems = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        pip_name = canonicalize_name(req.name)
        candidates = (pip_name, *CONDA_NAMES.get(pip_name, ()))
        found = [(n, v) for n in candidates if (v := lookup(n)) is not None]
        if not found:
            problems.append(f"{req.name} is not installed (looked for {', '.join(candidates)})")
            continue
        name, version = found[0]
        try:
            ok = req.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            problems.append(f"{name} has version {version!r}, which is not a PEP 440 version")
            continue
        if not ok:
            problems.append(f"{name} {version} is installed but the gpu extra needs '{req.name}{req.specifier}'")
    return problems


def read_constraints(path: str) -> dict[str, str]:
    """``name==version`` lines of a pip constraints file, by canonical name."""
    pins = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                pins[canonicalize_name(name)] = version.strip()
    return pins


def check_pins(pins: dict[str, str], protected: Iterable[str] = PROTECTED,
               lookup: VersionLookup = installed_version) -> list[str]:
    """Problems where a protected package pinned by the image changed version or disappeared."""
    problems = []
    for name in protected:
        key = canonicalize_name(name)
        if key not in pins:
            continue
        now = lookup(key)
        if now != pins[key]:
            problems.append(f"{name} was {pins[key]} in the base image but is now {now or 'not installed'}: "
                            "a pip install replaced it; pin the new package to a compatible version")
    return problems


def check_torch(cuda_major: str) -> list[str]:
    """Problems with the installed torch build (must be a CUDA ``cuda_major`` build)."""
    try:
        import torch
    except ImportError as exc:
        return [f"torch does not import: {exc}"]
    built = torch.version.cuda
    if built is None or built.split(".")[0] != cuda_major:
        return [f"torch {torch.__version__} is built for CUDA {built}, expected CUDA {cuda_major}.x; "
                "install it from the cu130 index"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyproject", default="pyproject.toml")
    parser.add_argument("--extra", default="gpu")
    parser.add_argument("--constraints", help="constraints file frozen from the base image")
    parser.add_argument("--torch-cuda", help="required CUDA major version of the torch build")
    args = parser.parse_args(argv)

    with open(args.pyproject, "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    problems = check_extra(extras[args.extra])
    if args.constraints:
        problems += check_pins(read_constraints(args.constraints))
    if args.torch_cuda:
        problems += check_torch(args.torch_cuda)
    for p in problems:
        print(f"verify_image: {p}", file=sys.stderr)
    if not problems:
        print(f"verify_image: the image satisfies gpupipe[{args.extra}]")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
