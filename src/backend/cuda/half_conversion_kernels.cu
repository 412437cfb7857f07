// float <-> half conversions of the half-precision convolution (cudnn_convolution.cpp): one
// thread per element over the bit-level functions of kernels/half_precision.h, which the CPU
// tests check against numpy's float16. Half values are uint16_t bit patterns (what cuDNN's
// CUDNN_DATA_HALF buffers hold), so no CUDA half type appears outside this file.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernel_util.cuh"
#include "kernels/half_precision.h"

namespace mishnet::cuda {

namespace {

__global__ void float_to_half_kernel(const float* x, uint16_t* h, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) h[i] = kernels::float_to_half_bits(x[i]);
}

__global__ void half_to_float_kernel(const uint16_t* h, float* x, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) x[i] = kernels::half_bits_to_float(h[i]);
}

__global__ void add_half_to_float_kernel(const uint16_t* h, float* x, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) x[i] += kernels::half_bits_to_float(h[i]);
}

}  // namespace

void float_to_half(const float* x, uint16_t* h, size_t n, StreamHandle stream) {
  launch_elements("launch of float_to_half_kernel", n, stream, float_to_half_kernel, x, h, n);
}

void half_to_float(const uint16_t* h, float* x, size_t n, StreamHandle stream) {
  launch_elements("launch of half_to_float_kernel", n, stream, half_to_float_kernel, h, x, n);
}

void add_half_to_float(const uint16_t* h, float* x, size_t n, StreamHandle stream) {
  launch_elements("launch of add_half_to_float_kernel", n, stream, add_half_to_float_kernel, h, x,
                  n);
}

}  // namespace mishnet::cuda
