"""README.md's Python examples run as written, and the outputs their comments state are what they give.

Every ```python block of the README runs, each in a fresh namespace and an empty working directory,
except those preceded by an ``<!-- illustrative: why -->`` line (they use names that stand for the
reader's own data or services); those are only compiled. An expression statement whose trailing
comment is a Python literal (``ids.values.tolist()   # [[4, 3], [2, 2]]``) must evaluate to that literal.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_ILLUSTRATIVE = re.compile(r"<!--\s*illustrative:\s*\S.*-->\s*$")
#: modules a block needs beyond gpupipe's own requirements: the block is skipped, naming it, without them
_OPTIONAL = ("polars",)


def _blocks() -> list[tuple[int, str, bool]]:
    """(line of the fence, code, illustrative) for each python block of the README."""
    text = README.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        out.append((line, m.group(1), bool(_ILLUSTRATIVE.match(before))))
    return out


BLOCKS = _blocks()


def _comments(code: str) -> dict[int, str]:
    """Line number -> the text of the comment ending that line."""
    return {tok.start[0]: tok.string[1:].strip()
            for tok in tokenize.generate_tokens(io.StringIO(code).readline) if tok.type == tokenize.COMMENT}


def _stated(comment: str | None) -> tuple[bool, object]:
    """(True, value) when a comment is a Python literal, the output the README says a line gives."""
    if not comment:
        return False, None
    try:
        return True, ast.literal_eval(comment)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def test_the_readme_has_examples_that_run():
    # a broken fence pattern or a marker on every block would make the other tests pass by running nothing
    assert len(BLOCKS) >= 10
    assert sum(not illustrative for _, _, illustrative in BLOCKS) >= 5


def _param(block: tuple[int, str, bool]) -> object:
    line, code, illustrative = block
    # a ready pipeline end to end takes several seconds: out of the quick part (-m 'not slow')
    slow = not illustrative and re.search(r"^\s*from pipelines\b", code, re.M)
    return pytest.param(*block, id=f"README.md:{line}", marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("line, code, illustrative", [_param(b) for b in BLOCKS])
def test_readme_python_block(line, code, illustrative, tmp_path, monkeypatch):
    tree = ast.parse(code, filename=f"README.md:{line}")  # every block, illustrative ones too, is valid Python
    if illustrative:
        return
    for module in _OPTIONAL:
        if re.search(rf"^\s*(import|from)\s+{module}\b", code, re.M):
            pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    comments = _comments(code)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for stmt in tree.body:
        where = f"README.md:{line + stmt.lineno}"
        stated, value = _stated(comments.get(stmt.end_lineno)) if isinstance(stmt, ast.Expr) else (False, None)
        if stated:
            got = eval(compile(ast.Expression(stmt.value), where, "eval"), namespace)
            assert got == value, f"{where}: {ast.get_source_segment(code, stmt)} gives {got!r}, the README says {value!r}"
        else:
            exec(compile(ast.Module([stmt], type_ignores=[]), where, "exec"), namespace)
