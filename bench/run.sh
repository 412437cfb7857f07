#!/usr/bin/env bash
# make bench: inference at batch 1 of mishnet against its CPU peers, OpenCV DNN and PyTorch, on 2
# threads, and the table, the commands, the machine and the date into BENCHMARKS.md, replacing the
# previous inference section and keeping anything else in the file. Per network, one after the
# other in the same run: mishnet_bench --only NAME (mishnet and OpenCV DNN, alternating run by run),
# then bench/bench_torch_inference.py on the same cfg (PyTorch, the fastest of its CPU variants).
#   bash bench/run.sh BUILD_DIR [mishnet_bench options...]
# Env: BENCH_THREADS (2), MISHNET_SHARED_CFG, PYTHON (/usr/bin/python3), TORCH_RUNS/TORCH_WARMUP
# (default: mishnet_bench's --runs/--warmup, 10/2), TORCH_VARIANT (best), TORCH_PROBE (3).
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

# mishnet_bench's options that the PyTorch side and the table follow too.
runs=10 warmup=2 peak=520 only=
args=("$@")
for ((i = 0; i < ${#args[@]}; ++i)); do
  case ${args[i]} in
    --runs) runs=${args[i + 1]:-$runs} ;;
    --warmup) warmup=${args[i + 1]:-$warmup} ;;
    --peak-gflops) peak=${args[i + 1]:-$peak} ;;
    --only) only=${args[i + 1]:-} ;;
    --threads) echo "bench/run.sh: set BENCH_THREADS instead of --threads" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-/usr/bin/python3}
t_runs=${TORCH_RUNS:-$runs} t_warmup=${TORCH_WARMUP:-$warmup}
t_variant=${TORCH_VARIANT:-best} t_probe=${TORCH_PROBE:-3}
torch_version=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null) || torch_version=

# name, cfg, input size: the networks of mishnet_bench (kNetworks in bench/bench_inference.cpp).
networks=("yolov4-tiny yolov4-tiny.cfg 416" "yolov4 yolov4.cfg 416" "csdarknet53-omega csdarknet53-omega.cfg 256")

# PyTorch runs with the weights mishnet_bench gives mishnet and OpenCV (init_weights, seed 1),
# written by `mishnet init`, so that all three compute on the same values.
mishnet="$build_dir/mishnet"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

load=$(cut -d' ' -f1-3 /proc/loadavg)
trim() { sed 's/^ *//; s/ *$//' <<<"$1"; }
# GFLOP/s and its share of the peak for BFLOPs $1 in $2 ms; empty inputs give "n/a".
rate() { awk -v f="$1" -v ms="$2" -v p="$peak" 'BEGIN { if (f == "" || ms == "" || ms + 0 <= 0) print "n/a"; else { g = f / (ms / 1000); printf "%.1f (%.1f%%)", g, 100 * g / p } }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a + 0 <= 0 || b + 0 <= 0) print "n/a"; else printf "%.2fx", a / b }'; }
number() { [[ $1 =~ ^[0-9.]+$ ]] && echo "$1" || true; }

rows= notes= footer= random_weights=
for entry in "${networks[@]}"; do
  read -r name cfg size <<<"$entry"
  [[ -z $only || $only == "$name" ]] || continue
  m_cmd=(env $omp_env "$bench" --cfg-dir "$cfg_dir" --threads "$threads" "$@")
  [[ -n $only ]] || m_cmd+=(--only "$name")
  echo "running: ${m_cmd[*]}" >&2
  m_out=$("${m_cmd[@]}")
  echo "$m_out" >&2
  footer=$(grep '^median of' <<<"$m_out" || true)
  row=$(grep "^| $name |" <<<"$m_out" || true)
  IFS='|' read -r _ _ input bflops m_ms cv_ms _ <<<"$row"
  input=$(trim "$input") bflops=$(trim "$bflops") m_ms=$(trim "$m_ms") cv_ms=$(trim "$cv_ms")
  [[ -n $input ]] || input="${size}x$size"

  t_ms= t_text="n/a"
  if [[ -n $torch_version ]]; then
    t_cmd=(env $omp_env "$python" "$repo/bench/bench_torch_inference.py" "$cfg_dir/$cfg" --width "$size" --height "$size"
           --threads "$threads" --warmup "$t_warmup" --iters "$t_runs" --variant "$t_variant" --probe "$t_probe")
    if [[ -x $mishnet ]] && "$mishnet" init "$cfg_dir/$cfg" "$scratch/$name.weights" --seed 1 --width "$size" --height "$size" >&2; then
      t_cmd+=(--weights "$scratch/$name.weights")
    else
      random_weights+=" $name"
    fi
    echo "running: ${t_cmd[*]}" >&2
    if t_out=$("${t_cmd[@]}" 2>&1); then
      echo "$t_out" >&2
      t_ms=$(sed -n 's/^median \([0-9.]*\) ms per forward.*/\1/p' <<<"$t_out")
      t_text=${t_ms:-n/a}
      notes+="- PyTorch on $name: $(sed -n 's/^variant: //p' <<<"$t_out")"
      probes=$(sed -n 's/^probe \([^:]*\): median \([0-9.]*\) ms.*/\1 \2 ms/p; s/^probe \([^:]*\): failed.*/\1 failed/p' <<<"$t_out" | paste -sd, - | sed 's/,/, /g')
      notes+="${probes:+; probes ($t_probe runs each): $probes}"$'\n'
    else
      echo "$t_out" >&2
      t_text="failed: $(tail -n1 <<<"$t_out" | tr '|' '/')"
    fi
  fi
  m_num=$(number "$m_ms") cv_num=$(number "$cv_ms")
  rows+="| $name | $input | $bflops | $m_ms | $cv_ms | $t_text | $(rate "$bflops" "$m_num") | $(rate "$bflops" "$cv_num") | $(rate "$bflops" "$t_ms") | **$(ratio "$t_ms" "$m_num")** | $(ratio "$t_ms" "$cv_num") | $(ratio "$cv_num" "$m_num") |"$'\n'
done
[[ -n $rows ]] || { echo "bench/run.sh: no network called '$only'" >&2; exit 2; }

peak_text=$(awk -v p="$peak" 'BEGIN { printf "%g", p }')
table="| network | input | BFLOPs | mishnet ms | OpenCV ms | PyTorch ms | mishnet GFLOP/s (% of $peak_text) | OpenCV GFLOP/s (% of $peak_text) | PyTorch GFLOP/s (% of $peak_text) | PyTorch/mishnet | PyTorch/OpenCV | OpenCV/mishnet |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows%$'\n'}

$footer; then PyTorch: median of $t_runs runs after $t_warmup warm-up runs, same batch, threads and input size
${notes%$'\n'}"
echo "$table"
model=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)
cpus=$(nproc)
flags=$(grep -o -w -E 'avx512f|avx2|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')
section=$(cat <<SECTION
<!-- mishnet_bench:begin (written by bench/run.sh; edits inside are overwritten) -->
## Inference: mishnet against OpenCV DNN and PyTorch

- command: \`make bench\` (per network, one after the other: \`$omp_env $(basename "$bench") --threads $threads --only NAME${*:+ $*}\`, then \`$omp_env python3 bench/bench_torch_inference.py CFG --threads $threads --warmup $t_warmup --iters $t_runs --variant $t_variant --probe $t_probe\`)
- machine: $model, $cpus CPUs available (${flags% }); load average before the run: $load
- date: $(date -u '+%Y-%m-%d %H:%M UTC'), mishnet $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' + uncommitted changes'), OpenCV $(pkg-config --modversion opencv4 2>/dev/null || echo '?')
- peer: OpenCV DNN \`readNetFromDarknet\`, DNN_BACKEND_OPENCV / DNN_TARGET_CPU, cv::setNumThreads($threads), timed in the same process as mishnet, alternating run by run
- peer: PyTorch ${torch_version:-(not installed: python3-torch)} (Debian build, oneDNN for convolutions) on the same cfg via bench/torch_darknet.py: torch.set_num_threads($threads), eval mode, no autograd, denormals flushed, batch 1; $([[ $t_variant == best ]] && echo "the fastest of eager / channels_last / TorchScript trace + freeze (NCHW, channels_last) / + optimize_for_inference, probed $t_probe runs each; the one kept is named below the table" || echo "variant $t_variant")
- weights: freshly initialised by mishnet (seed 1), the same for all three (PyTorch loads them from \`mishnet init\`'s .weights${random_weights:+; NOT for$random_weights, where $mishnet was missing or failed and PyTorch used its own random ones}); outputs: every [yolo] layer with its activation, or the last layer
- BFLOPs as Darknet counts them, the same for all three; GFLOP/s = BFLOPs / median time; "A/B" is A's time over B's, > 1 means B is faster

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
