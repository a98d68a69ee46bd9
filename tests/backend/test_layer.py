"""The backend layer's shape: every generic has a pandas and a cuDF implementation, and GPU names appear
in the named GPU modules only (so that one static check, ``make gpu-api-check``, sees every GPU line)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import gpupipe
from gpupipe.backend.dispatch import GENERICS

PACKAGE = Path(gpupipe.__file__).parent
ROOT = PACKAGE.parent
GPU_LIBRARIES = {"cudf", "cupy", "cupyx", "cuml", "dask_cudf", "dask_cuda", "rmm", "pylibcudf", "pynvml", "cudf_polars"}
#: the only places a GPU library may be imported or named; distributed/ holds the dask-cuda cluster code
GPU_MODULES = ("gpupipe/backend/", "gpupipe/io/_cudf.py", "gpupipe/tensors/_cudf.py", "gpupipe/baselines/_cuml.py",
               "gpupipe/distributed/")


def _all_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages([str(PACKAGE)], prefix="gpupipe.") if m.name != "gpupipe.__main__"]


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_every_generic_has_a_pandas_and_a_cudf_implementation():
    for name in _all_modules():  # every module that declares generics
        importlib.import_module(name)
    assert len(GENERICS) >= 30
    missing = []
    for g in GENERICS:
        for backend in ("pandas", "cudf"):
            try:
                g.impl(backend)  # imports the implementing module (the cuDF ones import without cuDF)
            except gpupipe.BackendUnavailableError:
                missing.append(f"{g.name}/{backend}")
    assert missing == []


def _gpu_names(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in GPU_LIBRARIES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in GPU_LIBRARIES:
            found.append(node.module)
        elif isinstance(node, ast.Name) and node.id in GPU_LIBRARIES:
            found.append(node.id)
    return found


def _backend_comparisons(tree: ast.AST) -> list[int]:
    """Lines comparing something with the literal "cudf": a branch on the backend outside the layer."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value == "cudf" for o in operands):
                lines.append(node.lineno)
            if any(isinstance(o, (ast.Tuple, ast.List, ast.Set)) and any(
                    isinstance(e, ast.Constant) and e.value == "cudf" for e in o.elts) for o in operands):
                lines.append(node.lineno)
    return lines


def test_gpu_libraries_are_named_only_in_the_gpu_modules():
    offenders = {}
    for path in _sources():
        rel = _rel(path)
        if rel.startswith(GPU_MODULES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _gpu_names(tree)
        branches = _backend_comparisons(tree)
        if names or branches:
            offenders[rel] = {"names": names, "branches on 'cudf' at lines": branches}
    assert offenders == {}


def test_the_check_itself_finds_a_planted_gpu_line():
    tree = ast.parse("import cupy\n\ndef f(frame, backend):\n    if backend == 'cudf':\n        return cupy.asarray(frame)\n")
    assert _gpu_names(tree) == ["cupy", "cupy"] and _backend_comparisons(tree) == [4]


@pytest.mark.parametrize("path", sorted((PACKAGE / "ops").glob("*.py")), ids=lambda p: p.name)
def test_ops_name_no_backend(path):
    """Op logic is written over the frame vocabulary: no backend name as a value, no Dispatch of its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    names = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in docstrings
             and n.value in ("cudf", "pandas")]
    dispatch = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "Dispatch"]
    assert names == [] and dispatch == []


def test_the_murmur3_reference_has_a_file_of_its_own():
    from gpupipe.backend import _murmur3

    assert {"murmur3_int64", "murmur3_bytes"} <= set(_murmur3.__all__)
