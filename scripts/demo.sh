#!/usr/bin/env bash
# `make demo`: the main job on real data, from nothing to a trained classifier.
#   1. Fashion-MNIST (Debian's dataset-fashion-mnist) turned into PNGs, lists and a .data file
#   2. training of cfg/fashion-csp-mish.cfg (loss on screen, chart.png, backup/*.weights)
#   3. top-1/top-5 on the 10,000 test images, then a few single-image predictions
# Set DEMO_MAX_BATCHES to shorten step 2 (the cfg's max_batches is the full run).
set -euo pipefail
build=${1:-build}
bin="$build/mishnet"
data_dir=data/fashion
cfg=cfg/fashion-csp-mish.cfg

if [ ! -f "$data_dir/fashion.data" ]; then
  echo "== Preparing Fashion-MNIST in $data_dir"
  "$bin" dataset fashion-mnist "$data_dir"
fi

echo "== Training $cfg (chart: chart.png, checkpoints: $data_dir/backup/)"
extra=()
[ -n "${DEMO_MAX_BATCHES:-}" ] && extra+=(--max_batches "$DEMO_MAX_BATCHES")
start=$(date +%s)
"$bin" classifier train "$data_dir/fashion.data" "$cfg" -dont_show -seed 1 "${extra[@]}"
echo "== Training took $(( $(date +%s) - start )) s"

weights="$data_dir/backup/$(basename "$cfg" .cfg)_final.weights"
echo "== Top-1 / top-5 on the test set"
"$bin" classifier valid "$data_dir/fashion.data" "$cfg" "$weights"

echo "== A few predictions"
for img in $(sed -n '1p;1001p;2001p' "$data_dir/test.list"); do
  echo "-- $img"
  "$bin" classifier predict "$data_dir/fashion.data" "$cfg" "$weights" "$img" -top 3
done
