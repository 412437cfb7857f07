// The [yolo] training loss on the device: the steps of kernels/yolo_loss_steps.h launched in the
// order the CPU loss (src/layers/yolo_loss.cpp) runs them, one kernel per step, no atomics, so
// the deltas and the sums follow the CPU's decisions and summation order. No CUDA types here.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend/cuda/device_memory.h"
#include "backend/cuda/stream_handle.h"
#include "kernels/yolo_loss_steps.h"

namespace mishnet::cuda {

// Device memory of one head's loss for `batch` images: the options' arrays and the scratch of
// the steps. Made once per training network (a resize makes a new one).
class YoloLossWorkspace {
 public:
  // `host` as yolo_loss_params gives it (pointers into host memory; they are copied).
  YoloLossWorkspace(const kernels::YoloLossParams& host, int batch);

  int batch() const { return batch_; }
  // The options with device pointers.
  const kernels::YoloLossParams& params() const { return params_; }

  // Steps A-D for the batch: in, out, truth and delta are device pointers (truth_stride floats
  // per image, checked on the host beforehand). Writes the gradient into delta and returns the
  // sums; waits for `stream` (the sums come back to the host, a few dozen bytes).
  kernels::YoloLossTotals run(const float* in, const float* out, const float* truth,
                              size_t truth_stride, float* delta, float to_gradient,
                              StreamHandle stream);

 private:
  kernels::YoloLossParams params_;
  int batch_ = 0;
  size_t predictions_ = 0, chunks_ = 0;
  DeviceArray<float> anchor_sizes_, multipliers_, weight_, target_;
  DeviceArray<int> mask_;
  DeviceArray<uint8_t> focal_true_;
  DeviceArray<double> box_loss_;
  DeviceBuffer image_sums_, chunk_sums_, totals_;
};

}  // namespace mishnet::cuda
