#!/usr/bin/env bash
# Rehearse docs/gpu-results/PLAN.md here, against a simulated GPU machine:
#
#   bash scripts/gpu_simulate.sh VENV [A|B]     (A: cuDF in six parts, the default; B: the small set alone)
#
# VENV is a Python 3.12 environment holding only the GPU machine's packages (torch, cupy-cuda13x, numpy,
# pandas, pyarrow, scikit-learn, pytest, hypothesis, matplotlib, tqdm, fsspec, nvidia-ml-py, ...; not
# gpupipe, not cuDF). The calls are read from PLAN.md's tables, so what runs here is what the plan says.
# Each call runs as the device runs it: in a copy of the working tree (tracked and untracked files git
# does not ignore, plus the call's carried paths), as `bash -c COMMAND` with OUT set to an empty folder,
# nothing on PATH but VENV/bin and the system's, no PYTHONPATH. The copy and the carried files stay
# between calls, as on a warm machine. Needs `bash scripts/gpu_wheels.sh` first. Prints each call's
# output; leaves everything under the folder it names at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$(cd "${1:?usage: gpu_simulate.sh VENV [A|B]}" && pwd)"
WHICH="${2:-A}"
[ -x "$VENV/bin/python3" ] || { echo "no python3 in $VENV/bin" >&2; exit 2; }
SIM="$(mktemp -d /tmp/gpupipe-sim.XXXXXX)"
mkdir -p "$SIM/tree" "$SIM/home"

# the working tree as the device tool sends it
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -C "$SIM/tree" -xf -

mapfile -t CALLS < <("$VENV/bin/python3" - "$ROOT/docs/gpu-results/PLAN.md" "$WHICH" <<'EOF'
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("## 1. Plan A")[1].split("## 2.")[0] if sys.argv[2] == "A" else text.split("## 2. Plan B")[1].split("## 3.")[0]
row = re.compile(r"^\| (\d+) \| `(\[.*?\])` \| `(.+?)` \| (\d+) \|", re.M)
for n, carry, command, timeout in row.findall(section):
    print("\t".join([n, " ".join(json.loads(carry)), timeout, command]))
EOF
)
[ "${#CALLS[@]}" -gt 0 ] || { echo "no calls found in PLAN.md for plan $WHICH" >&2; exit 2; }

for spec in "${CALLS[@]}"; do
  IFS=$'\t' read -r n carry timeout command <<<"$spec"
  for path in $carry; do
    [ -e "$ROOT/$path" ] || { echo "call $n carries $path, which is not here: run scripts/gpu_wheels.sh" >&2; exit 1; }
    mkdir -p "$SIM/tree/$(dirname "$path")"
    cp "$ROOT/$path" "$SIM/tree/$path"
  done
  mkdir -p "$SIM/out$n"
  echo "=== call $n: carry [$carry] timeout ${timeout}s"
  echo "    \$ $command"
  t0=$SECONDS
  set +e
  (cd "$SIM/tree" && env -i HOME="$SIM/home" PATH="$VENV/bin:/usr/bin:/bin" OUT="$SIM/out$n" \
       GPUPIPE_CARRY_DIR="$SIM/carry" GPUPIPE_SITE="$SIM/site" \
       timeout "$timeout" bash -c "$command") > "$SIM/call$n.log" 2>&1
  rc=$?
  set -e
  tail -n 25 "$SIM/call$n.log" | sed 's/^/    /'
  echo "    -> exit $rc after $((SECONDS - t0)) s; files: $(ls "$SIM/out$n" | tr '\n' ' ')"
done
echo "simulation folder: $SIM"
