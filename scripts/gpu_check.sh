#!/usr/bin/env bash
# GPU check from a plain copy of the repository (no install, no network): bash scripts/gpu_check.sh OUTDIR
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu-results}"
mkdir -p "$OUT"
PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" timeout 290 python3 scripts/gpu_check.py "$OUT" "${@:2}"
