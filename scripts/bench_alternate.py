#!/usr/bin/env python
"""Whole processes side by side: run several commands in alternation (A B C A B C ...), each under
``/usr/bin/time -v``, and report per run and as medians (with ranges) wall, user and system seconds,
peak RSS, minor page faults and the 1-minute load average before each run.

On a shared machine, wall times drift with other people's work; alternating the commands spreads
that drift over all of them alike, and the medians and ranges of the same invocation are what may
be compared. Minor faults and peak RSS do not depend on the load.

    python scripts/bench_alternate.py --runs 5 --json out.json \\
        --name gpupipe -- gpupipe run flights-delay --epochs 1 --no-progress \\
        --name usual -- python scripts/usual_flights.py

Each ``--name NAME -- CMD...`` group ends at the next ``--name``; ``VAR=VALUE`` words may prefix CMD
(set for that command only). ``--sleep S`` waits S seconds before each run. A command's last stdout
line that parses as a JSON object is kept with its run (``out``). The JSON file also records the
machine (CPU model, cores, kernel, Python) and the load averages at the start and the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

FIELDS = {"user": r"User time \(seconds\): ([\d.]+)", "sys": r"System time \(seconds\): ([\d.]+)",
          "maxrss_kb": r"Maximum resident set size \(kbytes\): (\d+)",
          "minflt": r"Minor \(reclaiming a frame\) page faults: (\d+)",
          "vcsw": r"Voluntary context switches: (\d+)", "ivcsw": r"Involuntary context switches: (\d+)"}
SUMMARY = ("wall", "user", "sys", "maxrss_kb", "minflt", "load1")


def parse(argv: list[str]) -> tuple[dict[str, Any], list[tuple[str, list[str]]]]:
    opts: dict[str, Any] = {"runs": 5, "sleep": 0.0, "json": None}
    cmds: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--runs", "--sleep", "--json"):
            opts[a[2:]] = argv[i + 1] if a == "--json" else (int if a == "--runs" else float)(argv[i + 1])
            i += 2
        elif a == "--name":
            if i + 2 >= len(argv) or argv[i + 2] != "--":
                raise SystemExit("usage: --name NAME -- CMD ...")
            j = i + 3
            while j < len(argv) and argv[j] != "--name":
                j += 1
            cmds.append((argv[i + 1], argv[i + 3:j]))
            i = j
        elif a in ("-h", "--help"):
            print(__doc__)
            raise SystemExit(0)
        else:
            raise SystemExit(f"unexpected argument {a!r} (see --help)")
    if not cmds:
        raise SystemExit("no commands (see --help)")
    return opts, cmds


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, kernel and Python of this machine."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "memory_gib": mem, "kernel": platform.release(), "python": platform.python_version()}


def run_one(cmd: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    while cmd and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", cmd[0]):
        k, v = cmd[0].split("=", 1)
        env[k] = v
        cmd = cmd[1:]
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as tf:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name, *cmd], capture_output=True, text=True, env=env,
                           check=False)
        wall = time.perf_counter() - t0
        text = tf.read()
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-2000:] + p.stderr[-4000:])
        raise SystemExit(f"command failed with status {p.returncode}: {' '.join(cmd)}")
    r: dict[str, Any] = {"wall": wall, "load1": load}
    for k, pat in FIELDS.items():
        m = re.search(pat, text)
        r[k] = float(m.group(1)) if m else None
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                r["out"] = json.loads(line)
            break
    return r


def summarise(rs: list[dict[str, Any]]) -> dict[str, Any]:
    med = {k: statistics.median(r[k] for r in rs) for k in SUMMARY}
    med["wall_range"] = [min(r["wall"] for r in rs), max(r["wall"] for r in rs)]
    med["maxrss_range_kb"] = [min(r["maxrss_kb"] for r in rs), max(r["maxrss_kb"] for r in rs)]
    return med


def line(name: str, r: dict[str, Any]) -> str:
    return (f"{name:<16} wall {r['wall']:6.2f}  user {r['user']:5.2f}  sys {r['sys']:5.2f}  "
            f"maxrss {r['maxrss_kb'] * 1024 / 1e9:5.2f} GB  minflt {int(r['minflt']):>8}  load {r['load1']:.2f}")


def alternate(cmds: list[tuple[str, list[str]]], runs: int, sleep: float = 0.0) -> dict[str, list[dict[str, Any]]]:
    """``runs`` rounds of every command in turn; name -> list of run records."""
    out: dict[str, list[dict[str, Any]]] = {n: [] for n, _ in cmds}
    for k in range(runs):
        for name, cmd in cmds:
            if sleep:
                time.sleep(sleep)
            r = run_one(list(cmd))
            out[name].append(r)
            print(f"[{k + 1}] " + line(name, r), flush=True)
    return out


def report(cmds: list[tuple[str, list[str]]], runs: dict[str, list[dict[str, Any]]],
           load_start: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "runs_per_command": len(next(iter(runs.values()))),
        "load1_start": load_start, "load1_end": os.getloadavg()[0],
        "commands": {n: " ".join(c) for n, c in cmds},
        "medians": {n: summarise(rs) for n, rs in runs.items()}, "runs": runs,
    }
    if extra:
        result.update(extra)
    print(f"\nmedians ({result['runs_per_command']} runs each, load {load_start:.2f} -> {result['load1_end']:.2f}, "
          f"{result['machine']['cpu']}, {result['machine']['cores']} cores):")
    for n, m in result["medians"].items():
        print("  " + line(n, m) + f"  (wall {m['wall_range'][0]:.2f}-{m['wall_range'][1]:.2f})")
    return result


def main(argv: list[str] | None = None) -> int:
    opts, cmds = parse(sys.argv[1:] if argv is None else argv)
    load_start = os.getloadavg()[0]
    runs = alternate(cmds, int(opts["runs"]), float(opts["sleep"]))
    result = report(cmds, runs, load_start)
    if opts["json"]:
        with open(opts["json"], "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {opts['json']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
