#!/usr/bin/env bash
# make bench: runs mishnet_bench (mishnet against OpenCV DNN, same run) on 2 threads and puts
# the table, the command, the machine and the date into BENCHMARKS.md, replacing the previous
# inference section and keeping anything else in the file.
#   bash bench/run.sh BUILD_DIR [mishnet_bench options...]
set -euo pipefail

build_dir=${1:-build}
shift || true
repo=$(cd "$(dirname "$0")/.." && pwd)
bench="$build_dir/mishnet_bench"
[[ -x $bench ]] || { echo "bench/run.sh: $bench not found; build first (make build)" >&2; exit 1; }

cfg_dir=${MISHNET_SHARED_CFG:-$repo/../shared/darknet-cfg}
[[ -d $cfg_dir ]] || { echo "bench/run.sh: Darknet cfgs not found in $cfg_dir (set MISHNET_SHARED_CFG)" >&2; exit 1; }

threads=${BENCH_THREADS:-2}
export OMP_NUM_THREADS=$threads
# OMP_WAIT_POLICY is passed through when set: on a machine shared with other work, libgomp's
# default spin-waiting at each layer's barrier costs far more than the layers themselves
# (measured 8x on yolov4-tiny with a load average of 16 on 2 cores); "passive" avoids that.
omp_env="OMP_NUM_THREADS=$threads${OMP_WAIT_POLICY:+ OMP_WAIT_POLICY=$OMP_WAIT_POLICY}"
load=$(cut -d' ' -f1-3 /proc/loadavg)
cmd=(env $omp_env "$bench" --cfg-dir "$cfg_dir" --threads "$threads" "$@")
echo "running: ${cmd[*]}" >&2
table=$("${cmd[@]}")
echo "$table"

model=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)
cpus=$(nproc)
flags=$(grep -o -w -E 'avx512f|avx2|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')
section=$(cat <<SECTION
<!-- mishnet_bench:begin (written by bench/run.sh; edits inside are overwritten) -->
## Inference: mishnet against OpenCV DNN

- command: \`make bench\` (\`$omp_env $(basename "$bench") --threads $threads${*:+ $*}\`)
- machine: $model, $cpus CPUs available (${flags% }); load average before the run: $load
- date: $(date -u '+%Y-%m-%d %H:%M UTC'), mishnet $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' + uncommitted changes'), OpenCV $(pkg-config --modversion opencv4 2>/dev/null || echo '?')
- peer: OpenCV DNN \`readNetFromDarknet\`, DNN_BACKEND_OPENCV / DNN_TARGET_CPU, cv::setNumThreads($threads)
- weights: freshly initialised (seed 1); BFLOPs as Darknet counts them; "OpenCV/mishnet" > 1 means mishnet is faster

$table
<!-- mishnet_bench:end -->
SECTION
)

out="$repo/BENCHMARKS.md"
if [[ ! -f $out ]]; then
  printf '# Benchmarks\n\nRows are written by the programs in bench/; each says how it was measured.\n\n' > "$out"
fi
if grep -q '<!-- mishnet_bench:begin' "$out"; then
  SECTION="$section" perl -0pi -e 's/<!-- mishnet_bench:begin.*?<!-- mishnet_bench:end -->/$ENV{SECTION}/s' "$out"
else
  printf '%s\n' "$section" >> "$out"
fi
echo "bench/run.sh: updated $out" >&2
