#!/usr/bin/env bash
# Training-speed benchmark: `mishnet train-benchmark` against PyTorch CPU (bench/bench_training.py)
# on the same cfgs, one after the other in one run, 2 threads each, and the results into
# BENCHMARKS.md between the training_bench markers (the rest of the file is kept).
#   bash bench/run_training.sh BUILD_DIR
# Networks: csdarknet53-omega at 256 (the classifier of the training issue) and yolov4-tiny at
# 416 (the detector), batch 8. Env: BENCH_THREADS (2), MISHNET_WARMUP/MISHNET_ITERS (2/5),
# TORCH_WARMUP/TORCH_ITERS (1/3), PEAK_GFLOPS (520), MISHNET_SHARED_CFG, OMP_WAIT_POLICY (default active: right on
# an idle machine; passive on a shared one, where spinning threads steal each other's cores).
set -euo pipefail

build_dir=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
mishnet="$build_dir/mishnet"
[[ -x $mishnet ]] || { echo "bench/run_training.sh: $mishnet not found; build first" >&2; exit 1; }
cfg_dir=${MISHNET_SHARED_CFG:-$repo/../shared/darknet-cfg}
python=${PYTHON:-/usr/bin/python3}

threads=${BENCH_THREADS:-2}
export OMP_NUM_THREADS=$threads
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-active}
batch=8
peak=${PEAK_GFLOPS:-520}  # float32 peak of the 2 cores (the CPU-speed issue's figure)
mw=${MISHNET_WARMUP:-2} mi=${MISHNET_ITERS:-5} tw=${TORCH_WARMUP:-1} ti=${TORCH_ITERS:-3}

# name, cfg, input size, PyTorch loss, Darknet's CPU build (s / iteration, measured earlier here)
networks=(
  "csdarknet53-omega|csdarknet53-omega.cfg|256|softmax-ce|16.35"
  "yolov4-tiny|yolov4-tiny.cfg|416|yolo-sum-squares|3.8"
)
rows="" details="" loads="before: $(cut -d' ' -f1-3 /proc/loadavg)"
for spec in "${networks[@]}"; do
  IFS='|' read -r name cfg_name size loss darknet_s <<<"$spec"
  cfg="$cfg_dir/$cfg_name"
  [[ -f $cfg ]] || { echo "bench/run_training.sh: $cfg not found (set MISHNET_SHARED_CFG)" >&2; exit 1; }
  m_cmd=("$mishnet" train-benchmark "$cfg" --width "$size" --height "$size" --batch $batch --warmup "$mw" --iters "$mi" --threads "$threads")
  echo "running: ${m_cmd[*]}" >&2
  m_out=$("${m_cmd[@]}" | tee >(cat >&2))
  t_cmd=("$python" "$repo/bench/bench_training.py" "$cfg" --width "$size" --height "$size" --batch $batch --warmup "$tw" --iters "$ti" --threads "$threads" --loss "$loss")
  echo "running: ${t_cmd[*]}" >&2
  t_out=$("${t_cmd[@]}" | tee >(cat >&2))
  loads+=", after $name: $(cut -d' ' -f1-3 /proc/loadavg)"

  m_s=$(sed -n 's/^median \([0-9.]*\) s per iteration.*/\1/p' <<<"$m_out")
  t_s=$(sed -n 's/^median \([0-9.]*\) s per iteration.*/\1/p' <<<"$t_out")
  m_rss=$(sed -n 's/^peak RSS \([0-9]*\) MiB/\1/p' <<<"$m_out")
  t_rss=$(sed -n 's/^peak RSS \([0-9]*\) MiB/\1/p' <<<"$t_out")
  ratio=$(awk -v a="$t_s" -v b="$m_s" 'BEGIN { printf "%.2f", a / b }')
  # A step's work: forward, backward-data and backward-weights, 3x the forward BFLOPs per image.
  bflops=$(sed -n 's/.* \([0-9.]*\) BFLOPs forward per image.*/\1/p' <<<"$m_out")
  rate() { awk -v f="$bflops" -v b=$batch -v s="$1" -v p="$peak" 'BEGIN { g = 3 * f * b / s; printf "%.1f (%.1f%%)", g, 100 * g / p }'; }
  m_rate=$(rate "$m_s") t_rate=$(rate "$t_s")
  darknet_ratio=$(awk -v d="$darknet_s" -v b="$m_s" 'BEGIN { printf "%.1f", d / b }')
  rows+="| $name | ${size}x${size} | $m_s | $t_s | **${ratio}x** | $m_rate | $t_rate | $darknet_s | ${darknet_ratio}x | $m_rss MiB | $t_rss MiB |"$'\n'
  details+="- $name: mishnet \`$(grep '^median' <<<"$m_out")\`; PyTorch \`$(grep '^median' <<<"$t_out")\`"$'\n'
done
# The low-memory setting (docs/cpu-backend.md, Training), mishnet alone.
lm_cmd=("$mishnet" train-benchmark "$cfg_dir/csdarknet53-omega.cfg" --width 256 --height 256 --batch $batch --warmup "$mw" --iters "$mi" --threads "$threads" --optimized_memory 1)
echo "running: ${lm_cmd[*]}" >&2
lm_out=$("${lm_cmd[@]}" | tee >(cat >&2))
details+="- csdarknet53-omega with \`--optimized_memory 1\` (Mish outputs rebuilt in backward; mishnet only): \`$(grep '^median' <<<"$lm_out")\`, peak RSS $(sed -n 's/^peak RSS \([0-9]*\) MiB/\1/p' <<<"$lm_out") MiB"$'\n'
torch_version=$("$python" -c 'import torch; print(torch.__version__)')

model=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)
section=$(cat <<SECTION
<!-- training_bench:begin (written by bench/run_training.sh; edits inside are overwritten) -->
## Training: mishnet against PyTorch CPU

- command: \`bash bench/run_training.sh $build_dir\` (OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=$OMP_WAIT_POLICY; per network mishnet \`train-benchmark\`, then \`bench/bench_training.py\`, one after the other)
- step: zero gradients, forward with batch statistics, backward, SGD update (momentum 0.9, decay 0.0005), batch $batch, random weights and inputs; median of the timed steps ($mw warm-up + $mi timed for mishnet, $tw + $ti for PyTorch)
- loss: csdarknet53-omega: the cfg's [softmax] cross-entropy on a random one-hot truth, summed over the batch, on both sides; yolov4-tiny: mishnet computes its [yolo] loss on ten random boxes per image, PyTorch half the sum of squares of the [yolo] outputs (a stand-in with the same backward shape)
- peer: PyTorch $torch_version (Debian build: oneDNN for convolutions), torch.set_num_threads($threads), channels_last, the same architecture built from the cfg by bench/torch_darknet.py
- machine: $model, $(nproc) CPUs; load average (1/5/15 min) $loads
- date: $(date -u '+%Y-%m-%d %H:%M UTC'), mishnet $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' + uncommitted changes')

| network | input | mishnet s / iteration | PyTorch s / iteration | PyTorch / mishnet | mishnet GFLOP/s (% of $peak) | PyTorch GFLOP/s (% of $peak) | Darknet CPU build s / iteration (measured earlier, not in this run) | Darknet / mishnet | mishnet peak RSS | PyTorch peak RSS |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$rows
>1 means mishnet is faster. GFLOP/s counts a step as 3x the forward BFLOPs (Darknet's count) per image: forward, backward-data and backward-weights. Peak RSS is each process's maximum resident memory (getrusage), the figure \`/usr/bin/time -v\` reports.

$details<!-- training_bench:end -->
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
