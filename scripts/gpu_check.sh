#!/usr/bin/env bash
# GPU check from a plain copy of the repository (no install, no network): bash scripts/gpu_check.sh OUTDIR [ARGS]
#
# Runs scripts/gpu_check.py with the repository on PYTHONPATH (and whatever PYTHONPATH already holds:
# the carried packages, see docs/gpu-results/PLAN.md). The check keeps to a 420 s budget of its own
# (--budget); the hard limit here, 440 s, stops it well under 8 minutes whatever happens, and what it had
# written by then (gpu_results.json/.md after every stage) stays in OUTDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu-results}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" timeout -k 10 440 python3 scripts/gpu_check.py "$OUT" "${@:2}"
rc=$?
[ "$rc" -eq 124 ] && echo "gpu_check: stopped at the 440 s limit; partial results in $OUT" >&2
exit "$rc"
