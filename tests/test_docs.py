"""The prose docs point at things that exist: every relative link of README.md and docs/**/*.md resolves to a file
(and, with ``#anchor``, to a heading of it), and every repository path they quote in backticks (``tests/...py``,
``scripts/...``, ``docs/bench/...json``, ``gpupipe/...``), with a ``::test_name`` after it where one is given, is there.

The checks are functions of a text, so the tests also show that each one catches a broken link or a missing file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
#: a repository path quoted in backticks, optionally with ``::test_name[params]`` after it
_QUOTED = re.compile(r"`((?:tests|scripts|docs|gpupipe|pipelines|notebooks|docker)/[\w./-]+?)(?:::(\w+)(?:\[[^`]*\])?)?`")


def _prose(text: str) -> str:
    """The text without its fenced code blocks (a ``# comment`` in a block is no heading, a link there no link)."""
    return _FENCE.sub("", text)


def anchors(text: str) -> set[str]:
    """The ``#anchors`` GitHub makes of a Markdown text's headings (lower case, punctuation dropped, spaces to
    hyphens, ``-1``, ``-2``... on repeats)."""
    out: set[str] = set()
    for _hashes, title in _HEADING.findall(_prose(text)):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link in a heading keeps its text
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in out:
            n += 1
            candidate = f"{slug}-{n}"
        out.add(candidate)
    return out


def broken_links(doc: Path, text: str) -> list[str]:
    """The relative links of ``text`` (the content of ``doc``) whose file or heading does not exist."""
    bad = []
    for target in _LINK.findall(_prose(text)):
        if re.match(r"[a-zA-Z][\w+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            bad.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md":
            text_there = text if file == doc else file.read_text(encoding="utf-8")
            if anchor not in anchors(text_there):
                bad.append(f"{target}: no heading #{anchor} in {file.name}")
    return bad


def missing_paths(text: str, root: Path = ROOT) -> list[str]:
    """The repository paths quoted in backticks in ``text`` that do not exist under ``root``, and the
    ``path::test_name`` whose file defines no such function."""
    bad = []
    for path, test in _QUOTED.findall(text):
        path = path.rstrip(".")
        if "*" in path or "<" in path:
            continue
        file = root / path
        if not file.exists():
            bad.append(f"`{path}` does not exist")
        elif test and not re.search(rf"^\s*def {test}\b", file.read_text(encoding="utf-8"), re.M):
            bad.append(f"`{path}::{test}`: no such test")
    return bad


def test_the_docs_are_found():
    names = {d.relative_to(ROOT).as_posix() for d in DOCS}
    assert {"README.md", "docs/distributed.md", "docs/reliability.md", "docs/verification.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(doc):
    assert broken_links(doc, doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_every_quoted_repository_path_exists(doc):
    assert missing_paths(doc.read_text(encoding="utf-8")) == []


def test_a_link_to_a_missing_file_or_heading_is_caught():
    doc = ROOT / "docs" / "distributed.md"
    ok = "[r](reliability.md#on-object-storage), [d](#faults), [j](bench/loader.json), [w](https://x.org/y)"
    assert broken_links(doc, ok + "\n## Faults\n") == []
    bad = broken_links(doc, "[r](reliablity.md) and [s](reliability.md#no-such-section) and [f](#nowhere)\n")
    assert len(bad) == 3, bad
    assert "no file" in bad[0] and "#no-such-section" in bad[1] and "#nowhere" in bad[2]
    # a link inside a code block is not a link; a heading inside one is not a heading
    assert broken_links(doc, "```\n[x](nope.md)\n```\n") == []
    assert "faults" not in anchors("```\n## Faults\n```\n")


def test_headings_give_githubs_anchors():
    text = "# Scaling out: Dask clusters and torch.distributed\n## `gp.distributed.cluster()`\n## A\n## A\n"
    assert anchors(text) == {"scaling-out-dask-clusters-and-torchdistributed", "gpdistributedcluster", "a", "a-1"}


def test_a_quoted_path_or_test_that_does_not_exist_is_caught():
    text = ("`docs/bench/loader.json`, `tests/test_docs.py::test_the_docs_are_found`, "
            "`docs/bench/criteo_vs_polars_6m.json`, `tests/test_docs.py::test_that_is_not_there`, `scripts/*.py`")
    assert missing_paths(text) == ["`docs/bench/criteo_vs_polars_6m.json` does not exist",
                                   "`tests/test_docs.py::test_that_is_not_there`: no such test"]
