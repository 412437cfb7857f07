// Pooling on the GPU with Darknet's geometry (ops/pool2d.cpp): forward one thread per output,
// backward one thread per input cell gathering from the windows that cover it
// (gather_kernels.h), so overlapping windows need no atomics.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/gather_kernels.h"
#include "backend/cuda/kernel_util.cuh"

namespace mishnet::cuda {

namespace {

// The per-thread bodies live in gather_kernels.h, tested on the CPU.
__global__ void maxpool_forward_kernel(ops::Pool2dDesc d, const float* src, float* dst,
                                       int32_t* argmax, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(o, total) dst[o] = maxpool_output(d, src, o, argmax ? argmax + o : nullptr);
}

__global__ void maxpool_backward_kernel(ops::Pool2dDesc d, const float* ddst,
                                        const int32_t* argmax, float* dsrc, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) dsrc[i] += maxpool_input_gradient(d, ddst, argmax, i);
}

__global__ void avgpool_forward_kernel(ops::Pool2dDesc d, const float* src, float* dst,
                                       size_t total) {
  MISHNET_GRID_STRIDE_LOOP(o, total) dst[o] = avgpool_output(d, src, o);
}

__global__ void avgpool_backward_kernel(ops::Pool2dDesc d, const float* ddst, float* dsrc,
                                        size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) dsrc[i] += avgpool_input_gradient(d, ddst, i);
}

// One block per plane: the mean of its `spatial` values.
__global__ void global_avgpool_forward_kernel(int spatial, const float* src, float* dst) {
  const size_t plane = blockIdx.x;
  float part = 0.0f;
  for (int i = threadIdx.x; i < spatial; i += blockDim.x) part += src[plane * spatial + i];
  const double sum = block_sum(part);
  if (threadIdx.x == 0) dst[plane] = float(sum) / float(spatial);
}

__global__ void global_avgpool_backward_kernel(int spatial, const float* ddst, float* dsrc,
                                               size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) dsrc[i] += ddst[i / spatial] / float(spatial);
}

size_t outputs(const ops::Pool2dDesc& d) { return size_t(d.batch) * d.channels * d.out_h * d.out_w; }
size_t inputs(const ops::Pool2dDesc& d) { return size_t(d.batch) * d.channels * d.in_h * d.in_w; }

}  // namespace

void maxpool2d_forward(const ops::Pool2dDesc& d, const float* src, float* dst, int32_t* argmax,
                       StreamHandle stream) {
  launch_elements("launch of maxpool_forward_kernel", outputs(d), stream, maxpool_forward_kernel,
                  d, src, dst, argmax, outputs(d));
}

void maxpool2d_backward(const ops::Pool2dDesc& d, const float* ddst, const int32_t* argmax,
                        float* dsrc, StreamHandle stream) {
  launch_elements("launch of maxpool_backward_kernel", inputs(d), stream, maxpool_backward_kernel,
                  d, ddst, argmax, dsrc, inputs(d));
}

void avgpool2d_forward(const ops::Pool2dDesc& d, const float* src, float* dst,
                       StreamHandle stream) {
  launch_elements("launch of avgpool_forward_kernel", outputs(d), stream, avgpool_forward_kernel,
                  d, src, dst, outputs(d));
}

void avgpool2d_backward(const ops::Pool2dDesc& d, const float* ddst, float* dsrc,
                        StreamHandle stream) {
  launch_elements("launch of avgpool_backward_kernel", inputs(d), stream, avgpool_backward_kernel,
                  d, ddst, dsrc, inputs(d));
}

void global_avgpool_forward(int batch, int channels, int spatial, const float* src, float* dst,
                            StreamHandle stream) {
  const unsigned planes = unsigned(batch) * unsigned(channels);
  if (planes == 0) return;
  global_avgpool_forward_kernel<<<planes, kThreadsPerBlock, 0, stream>>>(spatial, src, dst);
  MISHNET_CUDA_CHECK_LAUNCH("global_avgpool_forward_kernel");
}

void global_avgpool_backward(int batch, int channels, int spatial, const float* ddst, float* dsrc,
                             StreamHandle stream) {
  const size_t total = size_t(batch) * channels * spatial;
  launch_elements("launch of global_avgpool_backward_kernel", total, stream,
                  global_avgpool_backward_kernel, spatial, ddst, dsrc, total);
}

}  // namespace mishnet::cuda
