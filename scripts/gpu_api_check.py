#!/usr/bin/env python
"""The two rules of the GPU API check that pyright cannot enforce by itself.

pyright checks a call only when it knows the callee's type. Two holes remain, and this script
closes them for the GPU-only modules (``[tool.pyright].include`` in pyproject.toml):

1. **Every parameter carries a real type.** A parameter that is unannotated or annotated ``Any``
   turns off every check on what the function does with it (``frame: Any`` accepts
   ``frame.to_cupy(nan_value=0)`` silently). So each parameter must be annotated, and not with
   ``Any`` (``*args``/``**kwargs`` that only forward may be ``Any``); ``self``/``cls`` are exempt.
2. **No keyword disappears into a RAPIDS ``**kwargs``.** Some RAPIDS entry points take
   ``**kwargs`` (``cudf.read_parquet``, ``dask_cudf.read_parquet``, ``LocalCUDACluster``), so
   pyright accepts any keyword there, and ``cudf.read_parquet(path, colums=[...])`` fails only on a
   GPU. For calls of module-level RAPIDS functions and classes (``cudf.read_parquet(...)``,
   ``LocalCUDACluster(...)`` after ``from dask_cuda import LocalCUDACluster``), the callee is found
   in the installed package's source and each keyword must be one of its named parameters. A
   keyword the callee really takes through ``**kwargs`` is accepted with ``# gpu-api: kwargs-ok``
   on the line of the keyword (say why after it).

One change is made to the checker's own copy of cuDF (``--prepare-env``, which
scripts/gpu_api_check.sh runs first; it does nothing the second time): ``GetAttrGetItemMixin.__getattr__``, through which ``frame.name``
reads a column of a ``cudf.DataFrame`` (and of its groupby and rolling objects), is renamed. With
it in place, pyright takes *any* unknown attribute of a DataFrame for a column and reports nothing
(``frame.values_host``, ``frame.no_such_method()``); without it, unknown attributes are errors, and
GPU modules read columns as ``frame[name]``.

Usage (run with the interpreter of .venv-gpuapi, whose site-packages hold the RAPIDS sources)::

    python scripts/gpu_api_check.py [FILE ...]         # check; no FILE: the configured list
    python scripts/gpu_api_check.py --list [FILE ...]  # print the files that would be checked
    python scripts/gpu_api_check.py --prepare-env      # the change above

Exit status 0 clean, 1 violations, 2 usage error. Output lines are ``path:line:col - error: ...``.
"""

from __future__ import annotations

import argparse
import ast
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAPIDS = frozenset({"cudf", "pylibcudf", "rmm", "dask_cudf", "dask_cuda", "cuml", "cupy", "cupyx"})
PRAGMA = "gpu-api: kwargs-ok"


# --------------------------------------------------------------------------- the file list


def configured_paths() -> list[str]:
    """``[tool.pyright].include`` of pyproject.toml: the GPU-only modules and directories."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["tool"]["pyright"]["include"])


def expand(paths: list[str], *, note_missing: bool) -> list[Path]:
    files: list[Path] = []
    for entry in paths:
        path = Path(entry) if Path(entry).is_absolute() else ROOT / entry
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts))
        elif path.is_file():
            files.append(path)
        elif note_missing:
            print(f"gpu-api-check: {entry} does not exist (yet); not checked", file=sys.stderr)
        else:
            raise SystemExit(f"gpu-api-check: no such file: {entry}")
    return files


# --------------------------------------------------------------------------- rule 1: real types


@dataclass
class Violation:
    path: Path
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}:{self.col + 1} - error: {self.message}"


def _is_any(node: ast.expr) -> bool:
    """``Any``, ``typing.Any``, ``"Any"``, or a union with ``Any`` in it (``Any | None``, ``Optional[Any]``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return False
    if isinstance(node, ast.Name):
        return node.id == "Any"
    if isinstance(node, ast.Attribute):
        return node.attr == "Any"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_any(node.left) or _is_any(node.right)
    if isinstance(node, ast.Subscript):
        name = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        if name in ("Optional", "Union"):
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return any(_is_any(a) for a in args)
    return False


def _is_static(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)


def check_parameters(path: Path, tree: ast.Module) -> list[Violation]:
    found: list[Violation] = []

    def visit(node: ast.AST, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = child.args
                positional = [*args.posonlyargs, *args.args]
                if in_class and not _is_static(child) and positional:
                    positional = positional[1:]  # self / cls
                named = [*positional, *args.kwonlyargs]
                for arg in named:
                    if arg.annotation is None:
                        found.append(Violation(path, arg.lineno, arg.col_offset,
                                               f'parameter "{arg.arg}" of {child.name}() has no annotation; '
                                               f"annotate it with the real type (cudf.Series, cudf.DataFrame, "
                                               f"cupy.ndarray, ...) so pyright checks its uses"))
                    elif _is_any(arg.annotation):
                        found.append(Violation(path, arg.lineno, arg.col_offset,
                                               f'parameter "{arg.arg}" of {child.name}() is annotated Any, which '
                                               f"turns off every check on its uses; annotate it with the real "
                                               f"type (cudf.Series, cudf.DataFrame, cupy.ndarray, ...)"))
                for arg in (args.vararg, args.kwarg):
                    if arg is not None and arg.annotation is None:
                        found.append(Violation(path, arg.lineno, arg.col_offset,
                                               f'parameter "{arg.arg}" of {child.name}() has no annotation'))
                visit(child, in_class=False)
            elif isinstance(child, ast.ClassDef):
                visit(child, in_class=True)
            else:
                visit(child, in_class=in_class)

    visit(tree, in_class=False)
    return found


# --------------------------------------------------------------------------- rule 2: **kwargs


def _site_packages() -> list[Path]:
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return [Path(p) for p in sorted(paths)]


class Source:
    """Finds module-level functions and classes in the installed RAPIDS sources by reading them
    (the packages cannot be imported without a GPU's libraries), following re-exports."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots
        self._trees: dict[str, tuple[Path, ast.Module] | None] = {}

    def module(self, name: str) -> tuple[Path, ast.Module] | None:
        if name not in self._trees:
            self._trees[name] = None
            rel = Path(*name.split("."))
            for root in self.roots:
                for candidate in (root / rel / "__init__.py", root / rel.with_suffix(".py"),
                                  root / rel / "__init__.pyi", root / rel.with_suffix(".pyi")):
                    if candidate.is_file():
                        self._trees[name] = (candidate, ast.parse(candidate.read_bytes(), str(candidate)))
                        break
                if self._trees[name] is not None:
                    break
        return self._trees[name]

    def is_package(self, name: str) -> bool:
        found = self.module(name)
        return found is not None and found[0].name.startswith("__init__.")

    def resolve(self, dotted: str, depth: int = 0):
        """``("module", name)``, ``("def", node, path)``, ``("class", node, path)`` or None."""
        if depth > 12:
            return None
        parts = dotted.split(".")
        # the longest prefix that is a module, then attributes inside it
        for cut in range(len(parts), 0, -1):
            modname = ".".join(parts[:cut])
            if self.module(modname) is None:
                continue
            target: tuple | None = ("module", modname)
            for attr in parts[cut:]:
                if target is None or target[0] != "module":
                    return None  # an attribute of a class or function: not followed
                target = self._attribute(target[1], attr, depth + 1)
            return target
        return None

    def _attribute(self, modname: str, attr: str, depth: int):
        found = self.module(modname)
        if found is None or depth > 12:
            return None
        path, tree = found
        package = modname if self.is_package(modname) else modname.rpartition(".")[0]
        result = None
        for stmt in _top_level(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == attr:
                result = ("def", stmt, path)
            elif isinstance(stmt, ast.ClassDef) and stmt.name == attr:
                result = ("class", stmt, path)
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if (alias.asname or alias.name) == attr:
                        base = _absolute(package, stmt.module, stmt.level)
                        sub = f"{base}.{alias.name}"
                        result = (("module", sub) if self.module(sub) is not None
                                  else self.resolve(f"{base}.{alias.name}", depth + 1))
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname == attr:
                        result = ("module", alias.name)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
                    dotted = _dotted(stmt.value) if stmt.value is not None else None
                    result = self._local(modname, tree, dotted, depth) if dotted else None
        if result is None and self.module(f"{modname}.{attr}") is not None:
            result = ("module", f"{modname}.{attr}")
        return result

    def _local(self, modname: str, tree: ast.Module, dotted: str, depth: int):
        """A name as seen from inside module ``modname`` (``x = other`` or ``x = mod.other``)."""
        head, _, rest = dotted.partition(".")
        target = self._attribute(modname, head, depth + 1)
        for attr in rest.split(".") if rest else []:
            if target is None or target[0] != "module":
                return None
            target = self._attribute(target[1], attr, depth + 1)
        return target


def _top_level(body: list[ast.stmt]):
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _top_level(stmt.body)
            yield from _top_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _top_level(stmt.body)
            for handler in stmt.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(stmt.orelse)
        else:
            yield stmt


def _absolute(package: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _rapids_bindings(tree: ast.Module) -> dict[str, str]:
    """Names bound to RAPIDS modules or objects by any import in the file (module or function level)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in RAPIDS:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        names[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
              and node.module.split(".")[0] in RAPIDS):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _signature_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[set[str], bool]:
    args = fn.args
    return {a.arg for a in [*args.args, *args.kwonlyargs]}, args.kwarg is not None


def check_kwargs(path: Path, tree: ast.Module, lines: list[str], source: Source) -> list[Violation]:
    bindings = _rapids_bindings(tree)
    if not bindings:
        return []
    found: list[Violation] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not any(k.arg for k in node.keywords):
            continue
        dotted = _dotted(node.func)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head not in bindings:
            continue
        qualified = bindings[head] + (f".{rest}" if rest else "")
        target = source.resolve(qualified)
        if target is None or target[0] == "module":
            continue
        kind, definition, where = target
        if kind == "class":
            init = next((s for s in definition.body
                         if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "__init__"), None)
            if init is None:
                continue
            definition = init
        names, has_kwargs = _signature_names(definition)
        if not has_kwargs:
            continue  # pyright checks every keyword of this callee
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg in names:
                continue
            if PRAGMA in lines[keyword.lineno - 1]:
                continue
            loc = f"{where.parent.name}/{where.name}:{definition.lineno}"
            found.append(Violation(path, keyword.lineno, keyword.col_offset,
                                   f'"{keyword.arg}" is not a named parameter of {qualified} ({loc}); it would '
                                   f"go into its **kwargs, which pyright does not check. Fix the name, or, if "
                                   f'{qualified} really takes it through **kwargs, add "# {PRAGMA}" to the line'))
    return found


# --------------------------------------------------------------------------- the environment

GETATTR_MODULE = ("cudf", "core", "mixins", "getitem.py")
GETATTR_ORIGINAL = "    def __getattr__(self, key):\n"
GETATTR_RENAMED = "    def _gpu_api_check_getattr_column(self, key):  # renamed by scripts/gpu_api_check.py\n"


def prepare_env() -> int:
    """Rename cuDF's column-by-attribute ``__getattr__`` in this environment's copy (idempotent)."""
    for root in _site_packages():
        path = root.joinpath(*GETATTR_MODULE)
        if path.is_file():
            break
    else:
        print(f"gpu-api-check: {'/'.join(GETATTR_MODULE)} not found in this environment", file=sys.stderr)
        return 2
    text = path.read_text()
    if text.count(GETATTR_RENAMED) == 1 and GETATTR_ORIGINAL not in text:
        return 0
    if text.count(GETATTR_ORIGINAL) != 1:
        print(f"gpu-api-check: {path} no longer defines GetAttrGetItemMixin.__getattr__ as this script "
              f"expects; look at the new cuDF and update prepare_env()", file=sys.stderr)
        return 2
    path.write_text(text.replace(GETATTR_ORIGINAL, GETATTR_RENAMED))
    return 0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="files to check (default: [tool.pyright].include)")
    parser.add_argument("--list", action="store_true", help="print the files that would be checked, one a line")
    parser.add_argument("--prepare-env", action="store_true",
                        help="make unknown cudf.DataFrame attributes visible to pyright (see above)")
    ns = parser.parse_args(argv)
    if ns.prepare_env:
        return prepare_env()
    files = expand(ns.files, note_missing=False) if ns.files else expand(configured_paths(), note_missing=True)
    if ns.list:
        print("\n".join(str(f) for f in files))
        return 0
    if not files:
        print("gpu-api-check: no GPU-only module to check", file=sys.stderr)
        return 2
    source = Source(_site_packages())
    violations: list[Violation] = []
    for path in files:
        text = path.read_text()
        tree = ast.parse(text, str(path))
        violations += check_parameters(path, tree)
        violations += check_kwargs(path, tree, text.splitlines(), source)
    for v in sorted(violations, key=lambda v: (str(v.path), v.line, v.col)):
        print(v)
    print(f"gpu-api-check (types and **kwargs rules): {len(files)} files, {len(violations)} errors")
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
