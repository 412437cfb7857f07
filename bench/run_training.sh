#!/usr/bin/env bash
# Training-speed benchmark: `mishnet train-benchmark` against PyTorch CPU (bench/bench_training.py)
# on the same cfg, one after the other in one run, 2 threads each, and the result into
# BENCHMARKS.md between the training_bench markers (the rest of the file is kept).
#   bash bench/run_training.sh BUILD_DIR
# Env: BENCH_THREADS (2), MISHNET_WARMUP/MISHNET_ITERS (2/5), TORCH_WARMUP/TORCH_ITERS (1/3:
# PyTorch's steps take over a minute each here), MISHNET_SHARED_CFG.
set -euo pipefail

build_dir=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
mishnet="$build_dir/mishnet"
[[ -x $mishnet ]] || { echo "bench/run_training.sh: $mishnet not found; build first" >&2; exit 1; }
cfg_dir=${MISHNET_SHARED_CFG:-$repo/../shared/darknet-cfg}
cfg="$cfg_dir/csdarknet53-omega.cfg"
[[ -f $cfg ]] || { echo "bench/run_training.sh: $cfg not found (set MISHNET_SHARED_CFG)" >&2; exit 1; }
python=${PYTHON:-/usr/bin/python3}

threads=${BENCH_THREADS:-2}
export OMP_NUM_THREADS=$threads
# Passive waiting: with spin-waiting, a loaded shared machine makes every barrier cost more
# than the layer it guards (see bench/run.sh).
export OMP_WAIT_POLICY=passive
size=256 batch=8
mw=${MISHNET_WARMUP:-2} mi=${MISHNET_ITERS:-5} tw=${TORCH_WARMUP:-1} ti=${TORCH_ITERS:-3}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
m_cmd=("$mishnet" train-benchmark "$cfg" --width $size --height $size --batch $batch --warmup $mw --iters $mi --threads $threads)
echo "running: ${m_cmd[*]}" >&2
m_out=$("${m_cmd[@]}" | tee >(cat >&2))
load_mid=$(cut -d' ' -f1-3 /proc/loadavg)
t_cmd=("$python" "$repo/bench/bench_training.py" "$cfg" --width $size --height $size --batch $batch --warmup $tw --iters $ti --threads $threads)
echo "running: ${t_cmd[*]}" >&2
t_out=$("${t_cmd[@]}" | tee >(cat >&2))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

m_s=$(sed -n 's/^median \([0-9.]*\) s per iteration.*/\1/p' <<<"$m_out")
t_s=$(sed -n 's/^median \([0-9.]*\) s per iteration.*/\1/p' <<<"$t_out")
m_rss=$(sed -n 's/^peak RSS \([0-9]*\) MiB/\1/p' <<<"$m_out")
t_rss=$(sed -n 's/^peak RSS \([0-9]*\) MiB/\1/p' <<<"$t_out")
m_line=$(grep '^median' <<<"$m_out"); t_line=$(grep '^median' <<<"$t_out")
ratio=$(awk -v a="$t_s" -v b="$m_s" 'BEGIN { printf "%.2f", a / b }')
darknet_ratio=$(awk -v b="$m_s" 'BEGIN { printf "%.2f", 16.35 / b }')
torch_version=$("$python" -c 'import torch; print(torch.__version__)')

model=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)
section=$(cat <<SECTION
<!-- training_bench:begin (written by bench/run_training.sh; edits inside are overwritten) -->
## Training: mishnet against PyTorch CPU

- command: \`bash bench/run_training.sh $build_dir\` (OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive; mishnet \`train-benchmark\`, then \`bench/bench_training.py\`, one after the other)
- network: csdarknet53-omega.cfg at ${size}x${size}, batch $batch, random weights and inputs, random one-hot truth; loss: the cfg's [softmax] cross-entropy summed over the batch on both sides
- step: zero gradients, forward with batch statistics, backward, SGD update (momentum 0.9, decay 0.0005); median of the timed steps ($mw warm-up + $mi timed for mishnet, $tw + $ti for PyTorch, whose steps are slow)
- peer: PyTorch $torch_version (Debian build: oneDNN for convolutions, generic BLAS), torch.set_num_threads($threads), channels_last, same architecture built from the cfg by bench/torch_darknet.py
- machine: $model, $(nproc) CPUs, shared with other work; load average (1/5/15 min) before: $load_before, between: $load_mid, after: $load_after
- date: $(date -u '+%Y-%m-%d %H:%M UTC'), mishnet $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' + uncommitted changes')

| framework | median s / iteration | peak RSS |
|---|---|---|
| mishnet | $m_s | $m_rss MiB |
| PyTorch CPU | $t_s | $t_rss MiB |
| Darknet CPU build (reference, measured earlier on this machine, not in this run) | 16.35 | - |

PyTorch / mishnet: **${ratio}x**; Darknet / mishnet: ${darknet_ratio}x (>1 means mishnet is faster).

mishnet: \`$m_line\`; PyTorch: \`$t_line\`
<!-- training_bench:end -->
SECTION
)

out="$repo/BENCHMARKS.md"
[[ -f $out ]] || printf '# Benchmarks\n\n' > "$out"
if grep -q '<!-- training_bench:begin' "$out"; then
  SECTION="$section" perl -0pi -e 's/<!-- training_bench:begin.*?<!-- training_bench:end -->/$ENV{SECTION}/s' "$out"
else
  printf '\n%s\n' "$section" >> "$out"
fi
echo "$section"
echo "bench/run_training.sh: updated $out" >&2
