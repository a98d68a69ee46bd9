#!/usr/bin/env bash
# Start JupyterLab for the compose `notebook` services, refusing to run without a token.
#
# The token comes from the JUPYTER_TOKEN environment variable, which jupyter-server reads itself
# (so it never appears on a command line or in `ps`). An empty or unset token would make
# jupyter-server invent one, or disable authentication when configured so; both are refused here.
# Inside the container the server listens on 0.0.0.0 so the published port works; compose
# publishes it on 127.0.0.1 only unless JUPYTER_BIND says otherwise.
set -euo pipefail

if [[ -z "${JUPYTER_TOKEN:-}" ]]; then
    echo "gpupipe-notebook: JUPYTER_TOKEN is not set. Start with e.g." >&2
    echo "  JUPYTER_TOKEN=\$(openssl rand -hex 24) docker compose -f docker/compose.yaml up notebook" >&2
    exit 2
fi
if (( ${#JUPYTER_TOKEN} < 16 )); then
    echo "gpupipe-notebook: JUPYTER_TOKEN has ${#JUPYTER_TOKEN} characters; use at least 16" \
         "(e.g. \$(openssl rand -hex 24))" >&2
    exit 2
fi
export JUPYTER_TOKEN

exec jupyter lab \
    --ip=0.0.0.0 \
    --port="${JUPYTER_PORT_IN_CONTAINER:-8888}" \
    --no-browser \
    --ServerApp.root_dir="${NOTEBOOK_DIR:-/home/rapids/gpupipe/notebooks}" \
    "$@"
