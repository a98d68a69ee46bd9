"""Dependencies point down: cli → pipelines → gpupipe's public API → the library's layers.

* No module of the library imports the ready pipelines (``pipelines``) or the command line
  (``gpupipe.cli``), except ``gpupipe/cli.py`` itself (and ``gpupipe/__main__.py``, which runs the CLI).
* ``pipelines/`` uses gpupipe's public API only. "Public" means: a name in the ``__all__`` of the
  gpupipe module it is taken from, reached through modules none of whose names starts with ``_``.
  This holds for ``import``/``from ... import`` statements and for attribute chains on what they
  bind (``gp.bench.StageTimer``, ``ops.Normalize``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "gpupipe"
PIPELINES = ROOT / "pipelines"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def _module_name(path: Path) -> str:
    parts = list(Path(_rel(path)).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import statement, relative ones resolved."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.append((node.lineno, module, [alias.name for alias in node.names]))
    return out


def _targets(module: str, names: list[str]) -> list[str]:
    """Every module an import statement may load: the module, and ``module.name`` for each name."""
    return [module, *(f"{module}.{n}" for n in names)]


def _is(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


LIBRARY_FILES = sorted(LIBRARY.rglob("*.py"))


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_library_imports_neither_the_pipelines_nor_the_cli(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    bad = []
    for line, module, names in _imports(path):
        for target in _targets(module, names):
            if _is(target, "pipelines") and rel != "gpupipe/cli.py":
                bad.append(f"line {line}: imports {target}")
            if _is(target, "gpupipe.cli") and rel not in ("gpupipe/cli.py", "gpupipe/__main__.py"):
                bad.append(f"line {line}: imports {target}")
    assert not bad, f"{rel} must not depend on the pipelines or the CLI: {bad}"


def test_the_cli_imports_the_pipelines_only_inside_subcommands() -> None:
    tree = ast.parse((LIBRARY / "cli.py").read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [n.lineno for n in top if any(_is(t, "pipelines") for t in
                                              _targets(getattr(n, "module", None) or "", [a.name for a in n.names]))]


# ----------------------------------------------------------------------------------- pipelines/
def _public_step(obj: object, name: str, where: str) -> object:
    """``obj.name`` when it is public: of a module, a name in its ``__all__`` or a submodule not starting
    with ``_``; of anything else, a name not starting with ``_`` (dunders aside)."""
    if not isinstance(obj, types.ModuleType):
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            raise AssertionError(f"{where}: .{name} of {obj!r:.60} is private")
        return getattr(obj, name, None)
    if name in getattr(obj, "__all__", ()):
        return getattr(obj, name)
    sub = f"{obj.__name__}.{name}"
    if not name.startswith("_") and hasattr(obj, "__path__") and importlib.util.find_spec(sub) is not None:
        return importlib.import_module(sub)
    raise AssertionError(f"{where}: {sub} is not public gpupipe API (not in {obj.__name__}.__all__)")


def _public_module(module: str, where: str) -> types.ModuleType:
    parts = module.split(".")
    obj = importlib.import_module(parts[0])
    for name in parts[1:]:
        obj = _public_step(obj, name, where)
        assert isinstance(obj, types.ModuleType), f"{where}: {module} is not a module"
    return obj


def _check_pipeline_file(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = _rel(path)
    bound: dict[str, object] = {}  # local name -> the gpupipe object it is bound to
    problems = []
    for line, module, names in _imports(path):
        if not _is(module, "gpupipe"):
            continue
        where = f"{rel} line {line}"
        try:
            mod = _public_module(module, where)
            for name in names:
                bound[name] = _public_step(mod, name, where)
        except AssertionError as exc:
            problems.append(str(exc))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is(alias.name, "gpupipe"):
                    bound[alias.asname or "gpupipe"] = importlib.import_module(
                        alias.name if alias.asname else "gpupipe")
    # attribute chains: gp.bench.StageTimer, ops.Normalize, ...
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain = []
        cur: ast.AST = node
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            cur = cur.value
        if not isinstance(cur, ast.Name) or cur.id not in bound:
            continue
        obj = bound[cur.id]
        for name in reversed(chain):
            try:
                obj = _public_step(obj, name, f"{rel} line {node.lineno}")
            except AssertionError as exc:
                problems.append(str(exc))
                break
    return sorted(set(problems))


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*.py")), ids=lambda p: p.name)
def test_pipelines_use_only_public_gpupipe_names(path: Path) -> None:
    assert _check_pipeline_file(path) == []


def test_the_public_name_check_has_teeth(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import gpupipe as gp\nfrom gpupipe.bench.harness import _one_case\n"
                     "from gpupipe.ops import _stats\nx = gp.bench._clear_caches\ny = gp.Workflow._finish_fit\n"
                     "ok = gp.bench.StageTimer, gp.Workflow.from_spec, gp.backend.array_namespace\n", encoding="utf-8")
    problems = "\n".join(_check_pipeline_file(probe))
    for name in ("gpupipe.bench.harness._one_case", "gpupipe.ops._stats", "gpupipe.bench._clear_caches",
                 "._finish_fit"):
        assert name in problems
    assert "StageTimer" not in problems and "from_spec" not in problems and "array_namespace" not in problems
