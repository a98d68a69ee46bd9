#!/usr/bin/env bash
# The GPU API check: the GPU-only modules against the real RAPIDS packages, without a GPU.
#
#   scripts/gpu_api_check.sh [FILE ...]     (no FILE: [tool.pyright].include of pyproject.toml)
#
# Needs .venv-gpuapi (`make gpu-api-check` creates it; another one: GPU_API_VENV=path). Runs
#   0. scripts/gpu_api_check.py --prepare-env: lets pyright see unknown cudf.DataFrame attributes;
#   1. scripts/gpu_api_check.py: every parameter has a real type (no Any, none unannotated), and no
#      keyword vanishes into a RAPIDS function's **kwargs;
#   2. pyright with pyproject.toml's [tool.pyright] settings: unknown attributes and modules, wrong
#      keywords and arity, unresolvable imports.
# Steps 1 and 2 both run; the exit status is 1 if either found an error, 2 if the environment is missing.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${GPU_API_VENV:-$ROOT/.venv-gpuapi}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
PY="$VENV/bin/python"
if [ ! -x "$PY" ] || [ ! -x "$VENV/bin/pyright" ]; then
    echo "gpu-api-check: no checker environment at $VENV; run 'make gpu-api-check' to create it" >&2
    exit 2
fi
cd "$ROOT"
"$PY" scripts/gpu_api_check.py --prepare-env || exit 2
listed="$("$PY" scripts/gpu_api_check.py --list "$@")" || exit 2
if [ -z "$listed" ]; then
    echo "gpu-api-check: no GPU-only module to check" >&2
    exit 2
fi
mapfile -t FILES <<<"$listed"

"$PY" scripts/gpu_api_check.py "${FILES[@]}"
rules=$?
# The wheel carries pyright itself; this only stops it asking PyPI whether a newer one exists.
PYRIGHT_PYTHON_IGNORE_WARNINGS=1 "$VENV/bin/pyright" --project pyproject.toml --pythonpath "$PY" "${FILES[@]}"
types=$?
if [ "$rules" -ne 0 ] || [ "$types" -ne 0 ]; then
    exit 1
fi
