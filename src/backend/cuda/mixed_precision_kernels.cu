// Mixed-precision training's gradient steps on the GPU (kernels/mixed_precision.h, the functions
// the CPU test checks): the overflow check of the scaled gradients, reduced to one flag for the
// host, and the multiplication by a factor (the loss scale on the loss deltas, 1/scale on the
// gradients). Called by CudaTrainingNetwork under [net] mixed_precision=1 (docs/gpu.md).
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/kernel_util.cuh"
#include "kernels/mixed_precision.h"

namespace mishnet::cuda {

namespace {

// Every thread that sees an inf/nan writes 1: the same value, so the race is benign.
__global__ void overflow_kernel(const float* g, size_t n, int* flag) {
  MISHNET_GRID_STRIDE_LOOP(i, n) {
    if (kernels::gradient_overflows(g[i])) *flag = 1;
  }
}

__global__ void scale_kernel(float* x, size_t n, float factor) {
  MISHNET_GRID_STRIDE_LOOP(i, n) x[i] = kernels::unscale_gradient(x[i], factor);
}

}  // namespace

bool gradients_overflow(const float* grad, size_t n, StreamHandle stream) {
  if (n == 0) return false;
  DeviceArray<int> flag(1);
  flag.zero(stream);
  launch_elements("launch of overflow_kernel", n, stream, overflow_kernel, grad, n, flag.data());
  int host = 0;
  copy_to_host(&host, flag.data(), sizeof(int), stream);
  if (stream) MISHNET_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host != 0;
}

void scale_values(float* x, size_t n, float factor, StreamHandle stream) {
  launch_elements("launch of scale_kernel", n, stream, scale_kernel, x, n, factor);
}

}  // namespace mishnet::cuda
