"""docs/gpu-results/PLAN.md, the device plan, agrees with what scripts/gpu_wheels.sh makes (the manifest) and
with the device's limits: every part is carried exactly once, in order, and fits one call with the tree."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "docs" / "gpu-results" / "PLAN.md"
MANIFEST = ROOT / "docs" / "gpu-results" / "carry-manifest.txt"
CALL_LIMIT = 64 * 2**20  # bytes one device call carries, working tree included
ROW = re.compile(r"^\| (\d+) \| `(\[.*?\])` \| `(.+?)` \| (\d+) \|", re.M)


def _manifest() -> dict[str, int]:
    rows = [line.split() for line in MANIFEST.read_text().splitlines() if line and not line.startswith("#")]
    return {name: int(size) for size, _sha, name in rows}


def _calls(section: str) -> list[tuple[int, list[str], str, int]]:
    text = PLAN.read_text()
    part = text.split(section)[1].split("\n## ")[0]
    return [(int(n), json.loads(carry), cmd, int(t)) for n, carry, cmd, t in ROW.findall(part)]


def _tree_bytes() -> int:
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / n.decode()).stat().st_size for n in names if n and (ROOT / n.decode()).is_file())


def test_plan_a_carries_every_part_once_in_order_and_installs_last():
    manifest = _manifest()
    parts = sorted(n for n in manifest if re.fullmatch(r"carry\.tar\.\d+", n))
    calls = _calls("## 1. Plan A")
    assert [c[0] for c in calls] == list(range(1, len(parts) + 1))
    assert [Path(c[1][0]).name for c in calls] == parts and all(len(c[1]) == 1 for c in calls)
    assert all(c[2] == "bash scripts/gpu_carry.sh stash" for c in calls[:-1])
    last = calls[-1][2]
    assert last.startswith("bash scripts/gpu_carry.sh install;") and "bash scripts/gpu_check.sh $OUT" in last
    assert sum(manifest[p] for p in parts) == manifest["carry.tar"]
    assert all(t <= 600 for *_, t in calls)


def test_each_call_fits_the_carry_limit_with_the_working_tree():
    manifest = _manifest()
    tree = _tree_bytes()
    for _, carry, _, _ in _calls("## 1. Plan A") + _calls("## 2. Plan B"):
        carried = sum(manifest[Path(p).name] for p in carry)
        assert carried + tree <= CALL_LIMIT, (carry, carried, tree)


def test_the_check_stops_before_the_last_call_times_out():
    script = (ROOT / "scripts" / "gpu_check.sh").read_text()
    hard = int(re.search(r"timeout -k (\d+) (\d+) python3", script).group(2))
    assert hard <= 8 * 60
    for section in ("## 1. Plan A", "## 2. Plan B"):
        timeout = _calls(section)[-1][3]
        assert hard + 60 <= timeout <= 600  # room for the install before the check
