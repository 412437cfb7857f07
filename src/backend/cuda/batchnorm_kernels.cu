// Batch norm and bias on the GPU, the arithmetic of ops/batchnorm_training_reference.cpp:
// per-channel sums (one block per channel, float per thread, double across threads; two passes
// for the variance), then element-wise kernels.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernel_util.cuh"
#include "kernels/activations.h"
#include "kernels/batchnorm.h"
#include "mishnet/error.h"

namespace mishnet::cuda {

namespace {

struct Nchw {
  int n, c, spatial;
  MISHNET_HD size_t per_channel() const { return size_t(n) * size_t(spatial); }
};

Nchw nchw(const Shape& s) { return {s.n, s.c, s.h * s.w}; }

__device__ inline int channel_of(size_t i, const Nchw& d) {
  return int((i / size_t(d.spatial)) % size_t(d.c));
}

__global__ void batchnorm_inference_kernel(Nchw d, const float* x, const float* scales,
                                           const float* biases, const float* mean,
                                           const float* variance, float* y, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const int c = channel_of(i, d);
    const float m = kernels::batchnorm_multiplier(scales[c], variance[c]);
    y[i] = x[i] * m + (biases[c] - mean[c] * m);
  }
}

// Block c: mean and biased variance of channel c, rolling statistics.
__global__ void batchnorm_statistics_kernel(Nchw d, const float* x, float* rolling_mean,
                                            float* rolling_variance, float momentum, float* mean,
                                            float* variance) {
  const int c = blockIdx.x;
  const size_t count = d.per_channel();
  float part = 0.0f;
  for (size_t k = threadIdx.x; k < count; k += blockDim.x)
    part += x[channel_element_offset(k, c, d.c, d.spatial)];
  const float mu = float(block_sum(part) / double(count));
  part = 0.0f;
  for (size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const float v = x[channel_element_offset(k, c, d.c, d.spatial)] - mu;
    part += v * v;
  }
  const double sq = block_sum(part);
  if (threadIdx.x == 0) {
    const double var = sq / double(count);
    const double unbiased = count > 1 ? sq / double(count - 1) : var;
    mean[c] = mu;
    variance[c] = float(var);
    rolling_mean[c] = (1.0f - momentum) * rolling_mean[c] + momentum * mu;
    rolling_variance[c] = (1.0f - momentum) * rolling_variance[c] + momentum * float(unbiased);
  }
}

__global__ void batchnorm_normalize_kernel(Nchw d, const float* x, const float* scales,
                                           const float* biases, const float* mean,
                                           const float* variance, float* x_hat, float* y,
                                           size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const int c = channel_of(i, d);
    const float inv_std = 1.0f / sqrtf(variance[c] + kernels::kBatchNormEpsilon);
    const float v = (x[i] - mean[c]) * inv_std;
    x_hat[i] = v;
    y[i] = scales[c] * v + biases[c];
  }
}

// Block c: sum(dy) and sum(dy * x_hat) of channel c are added to dbiases / dscales, then
// dx = scale * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat)) for the channel (dx may
// alias dy: each thread rewrites only the elements it read).
__global__ void batchnorm_backward_kernel(Nchw d, const float* dy, const float* scales,
                                          const float* variance, const float* x_hat,
                                          float* dscales, float* dbiases, float* dx) {
  const int c = blockIdx.x;
  const size_t count = d.per_channel();
  float part_dy = 0.0f, part_dy_xh = 0.0f;
  for (size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const size_t i = channel_element_offset(k, c, d.c, d.spatial);
    part_dy += dy[i];
    part_dy_xh += dy[i] * x_hat[i];
  }
  const double sum_dy = block_sum(part_dy);
  const double sum_dy_xh = block_sum(part_dy_xh);
  if (threadIdx.x == 0) {
    dbiases[c] += float(sum_dy);
    dscales[c] += float(sum_dy_xh);
  }
  const float inv_std = 1.0f / sqrtf(variance[c] + kernels::kBatchNormEpsilon);
  const float k_scale = scales[c] * inv_std;
  const float mean_dy = float(sum_dy / double(count));
  const float mean_dy_xh = float(sum_dy_xh / double(count));
  for (size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const size_t i = channel_element_offset(k, c, d.c, d.spatial);
    dx[i] = k_scale * (dy[i] - mean_dy - x_hat[i] * mean_dy_xh);
  }
}

__global__ void activation_backward_from_batchnorm_kernel(Activation a, Nchw d, float* delta,
                                                          const float* x_hat, const float* scales,
                                                          const float* biases, const float* y,
                                                          size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const int c = channel_of(i, d);
    delta[i] *= kernels::activation_gradient(a, scales[c] * x_hat[i] + biases[c], y[i]);
  }
}

__global__ void add_bias_kernel(Nchw d, float* y, const float* bias, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) y[i] += bias[channel_of(i, d)];
}

__global__ void bias_backward_kernel(Nchw d, const float* dy, float* dbias) {
  const int c = blockIdx.x;
  const size_t count = d.per_channel();
  float part = 0.0f;
  for (size_t k = threadIdx.x; k < count; k += blockDim.x)
    part += dy[channel_element_offset(k, c, d.c, d.spatial)];
  const double sum = block_sum(part);
  if (threadIdx.x == 0) dbias[c] += float(sum);
}

}  // namespace

void batchnorm_inference(const Shape& shape, const float* x, const float* scales,
                         const float* biases, const float* rolling_mean,
                         const float* rolling_variance, float* y, StreamHandle stream) {
  launch_elements("launch of batchnorm_inference_kernel", shape.size(), stream,
                  batchnorm_inference_kernel, nchw(shape), x, scales, biases, rolling_mean,
                  rolling_variance, y, shape.size());
}

void batchnorm_train_forward(const Shape& shape, const float* x, const float* scales,
                             const float* biases, float* rolling_mean, float* rolling_variance,
                             float momentum, float* mean, float* variance, float* x_hat, float* y,
                             StreamHandle stream) {
  if (shape.size() == 0) return;
  const Nchw d = nchw(shape);
  batchnorm_statistics_kernel<<<unsigned(shape.c), kThreadsPerBlock, 0, stream>>>(
      d, x, rolling_mean, rolling_variance, momentum, mean, variance);
  MISHNET_CUDA_CHECK_LAUNCH("batchnorm_statistics_kernel");
  launch_elements("launch of batchnorm_normalize_kernel", shape.size(), stream,
                  batchnorm_normalize_kernel, d, x, scales, biases,
                  static_cast<const float*>(mean), static_cast<const float*>(variance), x_hat, y,
                  shape.size());
}

void batchnorm_backward(const Shape& shape, const float* dy, const float* scales,
                        const float* variance, const float* x_hat, float* dscales, float* dbiases,
                        float* dx, StreamHandle stream) {
  if (shape.size() == 0) return;
  batchnorm_backward_kernel<<<unsigned(shape.c), kThreadsPerBlock, 0, stream>>>(
      nchw(shape), dy, scales, variance, x_hat, dscales, dbiases, dx);
  MISHNET_CUDA_CHECK_LAUNCH("batchnorm_backward_kernel");
}

void activation_backward_from_batchnorm(Activation a, const Shape& shape, float* delta,
                                        const float* x_hat, const float* scales,
                                        const float* biases, const float* y,
                                        StreamHandle stream) {
  if (a == Activation::linear) return;
  if (!activation_is_elementwise(a))
    fail("cuda::activation_backward_from_batchnorm: '", activation_name(a),
         "' is not element-wise");
  launch_elements("launch of activation_backward_from_batchnorm_kernel", shape.size(), stream,
                  activation_backward_from_batchnorm_kernel, a, nchw(shape), delta, x_hat, scales,
                  biases, y, shape.size());
}

void add_bias(const Shape& shape, float* y, const float* bias, StreamHandle stream) {
  launch_elements("launch of add_bias_kernel", shape.size(), stream, add_bias_kernel, nchw(shape),
                  y, bias, shape.size());
}

void bias_backward(const Shape& shape, const float* dy, float* dbias, StreamHandle stream) {
  if (shape.size() == 0) return;
  bias_backward_kernel<<<unsigned(shape.c), kThreadsPerBlock, 0, stream>>>(nchw(shape), dy, dbias);
  MISHNET_CUDA_CHECK_LAUNCH("bias_backward_kernel");
}

}  // namespace mishnet::cuda
