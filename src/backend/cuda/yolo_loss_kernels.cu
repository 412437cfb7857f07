// The [yolo] loss kernels: each one calls one step of kernels/yolo_loss_steps.h per thread, as
// the CPU loss calls it per loop iteration (src/layers/yolo_loss.cpp), so the CPU tests of the
// steps (YoloLossSteps.*) describe what runs here.
#include "backend/cuda/yolo_loss_kernels.h"

#include <vector>

#include "backend/cuda/kernel_util.cuh"
#include "kernels/yolo_loss_steps.h"

namespace mishnet::cuda {

namespace {

using kernels::YoloImageSums;
using kernels::YoloLossBuffers;
using kernels::YoloLossIndex;
using kernels::YoloLossParams;
using kernels::YoloLossTotals;
using kernels::YoloPredictionSums;

// Step A: one thread per prediction q = (image * anchors + anchor) * plane + cell.
__global__ void yolo_prediction_kernel(YoloLossParams p, YoloLossBuffers m, size_t predictions) {
  const YoloLossIndex ix(p);
  MISHNET_GRID_STRIDE_LOOP(q, predictions) {
    const size_t block = q / ix.plane;
    kernels::yolo_prediction_step(p, m, int(block / size_t(p.anchors)),
                                  int(block % size_t(p.anchors)), q % ix.plane);
  }
}

// Step B: one thread per image, its truths in order.
__global__ void yolo_truth_kernel(YoloLossParams p, YoloLossBuffers m, int batch,
                                  YoloImageSums* image_sums) {
  MISHNET_GRID_STRIDE_LOOP(b, size_t(batch)) image_sums[b] = kernels::yolo_truth_step(p, m, int(b));
}

// Step C: one thread per prediction, kYoloSumChunk threads per block; thread 0 adds the block's
// values in thread order (the CPU's chunk order).
__global__ void yolo_finish_kernel(YoloLossParams p, YoloLossBuffers m, size_t predictions,
                                   float to_gradient, YoloPredictionSums* chunk_sums) {
  // Raw storage: a __shared__ array of a type with member initializers is not allowed.
  __shared__ alignas(YoloPredictionSums) unsigned char storage[kernels::kYoloSumChunk *
                                                                sizeof(YoloPredictionSums)];
  auto* values = reinterpret_cast<YoloPredictionSums*>(storage);
  const YoloLossIndex ix(p);
  const size_t first = size_t(blockIdx.x) * size_t(kernels::kYoloSumChunk);
  const size_t q = first + threadIdx.x;
  YoloPredictionSums s;
  if (q < predictions) {
    const size_t block = q / ix.plane;
    s = kernels::yolo_prediction_finish(p, m, int(block / size_t(p.anchors)),
                                        int(block % size_t(p.anchors)), q % ix.plane, to_gradient);
  }
  values[threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    const size_t n = predictions - first < size_t(kernels::kYoloSumChunk)
                         ? predictions - first
                         : size_t(kernels::kYoloSumChunk);
    YoloPredictionSums sum;
    for (size_t i = 0; i < n; ++i) kernels::yolo_add(sum, values[i]);
    chunk_sums[blockIdx.x] = sum;
  }
}

// Step D: one thread, images in order, then chunks in order.
__global__ void yolo_totals_kernel(const YoloImageSums* image_sums, int batch,
                                   const YoloPredictionSums* chunk_sums, size_t chunks,
                                   YoloLossTotals* totals) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  YoloLossTotals t;
  for (int b = 0; b < batch; ++b) kernels::yolo_add(t.images, image_sums[b]);
  for (size_t c = 0; c < chunks; ++c) kernels::yolo_add(t.predictions, chunk_sums[c]);
  *totals = t;
}

template <typename T>
DeviceArray<T> device_copy(const T* host, size_t n) {
  return DeviceArray<T>(std::vector<T>(host, host + n));
}

}  // namespace

YoloLossWorkspace::YoloLossWorkspace(const kernels::YoloLossParams& host, int batch)
    : params_(host), batch_(batch) {
  const YoloLossIndex ix(host);
  predictions_ = ix.predictions_per_image() * size_t(batch);
  chunks_ = (predictions_ + kernels::kYoloSumChunk - 1) / kernels::kYoloSumChunk;
  const size_t entries = ix.per_image() * size_t(batch);
  anchor_sizes_ = device_copy(host.anchor_sizes, size_t(2 * host.num));
  mask_ = device_copy(host.mask, size_t(host.anchors));
  if (host.classes_multipliers) multipliers_ = device_copy(host.classes_multipliers, size_t(host.classes));
  weight_ = DeviceArray<float>(entries);
  target_ = DeviceArray<float>(entries);
  focal_true_ = DeviceArray<uint8_t>(entries);
  box_loss_ = DeviceArray<double>(predictions_);
  image_sums_ = DeviceBuffer(sizeof(YoloImageSums) * size_t(batch));
  chunk_sums_ = DeviceBuffer(sizeof(YoloPredictionSums) * (chunks_ > 0 ? chunks_ : 1));
  totals_ = DeviceBuffer(sizeof(YoloLossTotals));
  params_.anchor_sizes = anchor_sizes_.data();
  params_.mask = mask_.data();
  params_.classes_multipliers = host.classes_multipliers ? multipliers_.data() : nullptr;
}

kernels::YoloLossTotals YoloLossWorkspace::run(const float* in, const float* out,
                                               const float* truth, size_t truth_stride,
                                               float* delta, float to_gradient,
                                               StreamHandle stream) {
  YoloLossBuffers m;
  m.in = in;
  m.out = out;
  m.truth = truth;
  m.truth_stride = truth_stride;
  m.delta = delta;
  m.weight = weight_.data();
  m.target = target_.data();
  m.focal_true = focal_true_.data();
  m.box_loss = box_loss_.data();
  auto* image_sums = static_cast<YoloImageSums*>(image_sums_.data());
  auto* chunk_sums = static_cast<YoloPredictionSums*>(chunk_sums_.data());
  auto* totals = static_cast<YoloLossTotals*>(totals_.data());

  launch_elements("launch of yolo_prediction_kernel", predictions_, stream, yolo_prediction_kernel,
                  params_, m, predictions_);
  launch_elements("launch of yolo_truth_kernel", size_t(batch_), stream, yolo_truth_kernel,
                  params_, m, batch_, image_sums);
  if (chunks_ > 0) {
    yolo_finish_kernel<<<unsigned(chunks_), kernels::kYoloSumChunk, 0, stream>>>(
        params_, m, predictions_, to_gradient, chunk_sums);
    MISHNET_CUDA_CHECK_LAUNCH("yolo_finish_kernel");
  }
  yolo_totals_kernel<<<1, 1, 0, stream>>>(image_sums, batch_, chunk_sums, chunks_, totals);
  MISHNET_CUDA_CHECK_LAUNCH("yolo_totals_kernel");

  YoloLossTotals host;
  MISHNET_CUDA_CHECK(cudaMemcpyAsync(&host, totals, sizeof host, cudaMemcpyDeviceToHost, stream));
  MISHNET_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

}  // namespace mishnet::cuda
