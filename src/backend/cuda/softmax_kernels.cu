// Softmax and softmax + cross-entropy on the GPU: one thread per softmax group calling
// kernels::softmax_strided, as ops/softmax_reference.cpp does per group.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/gather_kernels.h"
#include "backend/cuda/kernel_util.cuh"
#include "kernels/softmax.h"

namespace mishnet::cuda {

namespace {

__global__ void softmax_groups_kernel(const float* src, float* dst, int groups, int image_size,
                                      int group_size, float temperature, size_t total_groups) {
  MISHNET_GRID_STRIDE_LOOP(g, total_groups) {
    const size_t base = softmax_group_offset(image_size, groups, group_size, g);
    kernels::softmax_strided(src + base, dst + base, group_size, 1, temperature);
  }
}

__global__ void softmax_channels_kernel(const float* src, float* dst, int channels, int spatial,
                                        float temperature, size_t pixels) {
  MISHNET_GRID_STRIDE_LOOP(p, pixels) {
    const size_t base = (p / spatial) * size_t(channels) * spatial + p % spatial;
    kernels::softmax_strided(src + base, dst + base, channels, spatial, temperature);
  }
}

__global__ void softmax_groups_backward_kernel(const float* p, const float* ddst, float* dsrc,
                                               int groups, int image_size, int group_size,
                                               float temperature, size_t total_groups) {
  MISHNET_GRID_STRIDE_LOOP(g, total_groups) {
    const size_t base = softmax_group_offset(image_size, groups, group_size, g);
    softmax_backward_strided(p + base, ddst + base, dsrc + base, group_size, 1, temperature);
  }
}

__global__ void softmax_channels_backward_kernel(const float* p, const float* ddst, float* dsrc,
                                                 int channels, int spatial, float temperature,
                                                 size_t pixels) {
  MISHNET_GRID_STRIDE_LOOP(q, pixels) {
    const size_t base = (q / spatial) * size_t(channels) * spatial + q % spatial;
    softmax_backward_strided(p + base, ddst + base, dsrc + base, channels, size_t(spatial),
                             temperature);
  }
}

// One block: delta for every value, and the loss summed in double (a fixed order per thread
// and a fixed tree: the same result every run).
__global__ void cross_entropy_kernel(const float* p, const float* truth, float* delta, size_t n,
                                     float inv_temperature, double* loss) {
  double part = 0.0;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
    part += kernels::cross_entropy_term(p[i], truth[i]);
    delta[i] = kernels::softmax_cross_entropy_gradient(p[i], truth[i], inv_temperature);
  }
  const double sum = block_sum(part);
  if (threadIdx.x == 0) *loss = sum;
}

}  // namespace

void softmax_groups(const float* src, float* dst, int images, int image_size, int groups,
                    int group_size, float temperature, StreamHandle stream) {
  const size_t total = size_t(images) * size_t(groups);
  launch_elements("launch of softmax_groups_kernel", total, stream, softmax_groups_kernel, src,
                  dst, groups, image_size, group_size, temperature, total);
}

void softmax_channels(const float* src, float* dst, int images, int channels, int spatial,
                      float temperature, StreamHandle stream) {
  const size_t pixels = size_t(images) * size_t(spatial);
  launch_elements("launch of softmax_channels_kernel", pixels, stream, softmax_channels_kernel,
                  src, dst, channels, spatial, temperature, pixels);
}

void softmax_groups_backward(const float* p, const float* ddst, float* dsrc, int images,
                             int image_size, int groups, int group_size, float temperature,
                             StreamHandle stream) {
  const size_t total = size_t(images) * size_t(groups);
  launch_elements("launch of softmax_groups_backward_kernel", total, stream,
                  softmax_groups_backward_kernel, p, ddst, dsrc, groups, image_size, group_size,
                  temperature, total);
}

void softmax_channels_backward(const float* p, const float* ddst, float* dsrc, int images,
                               int channels, int spatial, float temperature,
                               StreamHandle stream) {
  const size_t pixels = size_t(images) * size_t(spatial);
  launch_elements("launch of softmax_channels_backward_kernel", pixels, stream,
                  softmax_channels_backward_kernel, p, ddst, dsrc, channels, spatial, temperature,
                  pixels);
}

double softmax_cross_entropy(const float* p, const float* truth, float* delta, size_t n,
                             float temperature, StreamHandle stream) {
  if (n == 0) return 0.0;
  DeviceArray<double> loss(1);
  cross_entropy_kernel<<<1, kThreadsPerBlock, 0, stream>>>(p, truth, delta, n, 1.0f / temperature,
                                                           loss.data());
  MISHNET_CUDA_CHECK_LAUNCH("cross_entropy_kernel");
  double host = 0.0;
  copy_to_host(&host, loss.data(), sizeof(double), stream);
  if (stream) MISHNET_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

}  // namespace mishnet::cuda
