#!/usr/bin/env bash
# The first checks to run on a machine with an NVIDIA GPU (docs/gpu.md, "On a machine with a
# GPU"), in the order that makes a failure easiest to read: device query, every kernel against
# the reference op, whole networks, training, then timings against the CPU. Stops at nothing:
# each step's log is kept, and a summary says which passed, failed or was skipped.
#
#   scripts/gpu_check.sh [BUILD_DIR] [OUT_DIR]
#
# BUILD_DIR (default build-gpu) is configured for the GPUs present (MISHNET_CUDA=ON,
# MISHNET_CUDA_ARCHITECTURES=native) and built if needed. OUT_DIR (default gpu-check) gets one
# log per step and summary.txt.
set -u
BUILD=${1:-build-gpu}
OUT=${2:-gpu-check}
mkdir -p "$OUT"
if [ ! -x "$BUILD/mishnet_tests" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMISHNET_CUDA=ON \
        -DMISHNET_CUDA_ARCHITECTURES=native >"$OUT/configure.log" 2>&1 &&
  cmake --build "$BUILD" -j "$(nproc)" >"$OUT/build.log" 2>&1 ||
  { echo "build failed: see $OUT/configure.log and $OUT/build.log"; exit 1; }
fi
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"

# step NAME COMMAND...: runs it, keeps its output, records the exit status (and gtest's counts).
step() {
  local name=$1
  shift
  local start=$SECONDS
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local counts
  counts=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/$name.log" | grep -v ', listed below' | tr '\n' ' ')
  printf '%-28s rc=%-3s %4ss  %s\n' "$name" "$rc" "$((SECONDS - start))" "$counts" | tee -a "$SUMMARY"
}

T="$BUILD/mishnet_tests"
M="$BUILD/mishnet"
step info "$M" info
step 1-runtime "$T" --gtest_filter='CudaRuntime.*'
step 2-ops "$T" --gtest_filter='CudaOps.*:CudaMixedPrecision.*:CudaYoloLoss.*'
step 3-host-logic "$T" --gtest_filter='CudaGeometry.*:CudaGather.*:CudaPlan.*:CudaTrainingPlan.*:*CudaGradientPlan*'
step 4-network "$T" --gtest_filter='CudaNetwork.*'
step 5-training "$T" --gtest_filter='CudaTraining.*'
SHARED=../shared/darknet-cfg
if [ -f "$SHARED/yolov4-tiny.cfg" ]; then
  step bench-tiny-gpu "$M" benchmark "$SHARED/yolov4-tiny.cfg" -gpu 0 --layers
  step bench-tiny-cpu "$M" benchmark "$SHARED/yolov4-tiny.cfg" -cpu
  step train-bench-tiny-gpu "$M" train-benchmark "$SHARED/yolov4-tiny.cfg" --batch 16 -gpus 0
fi
if [ -f "$SHARED/yolov4.cfg" ]; then
  step bench-yolov4-gpu "$M" benchmark "$SHARED/yolov4.cfg" -gpu 0
  step train-bench-yolov4-gpu "$M" train-benchmark "$SHARED/yolov4.cfg" --batch 8 -gpus 0
fi
echo "logs in $OUT/; summary in $SUMMARY"
