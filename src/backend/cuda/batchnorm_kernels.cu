// Batch norm and bias on the GPU, the arithmetic of ops/batchnorm_training_reference.cpp:
// per-channel sums in two stages (channel_chunks.h: blocks over (channel, chunk), float per
// thread, double across a block, chunks added in order; two passes for the variance), then
// element-wise kernels.
#include <map>
#include <utility>

#include "backend/cuda/channel_chunks.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
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

// --- Per-channel sums in two stages ---
enum class SumOf { value, centered_square, value_and_product };

// Block (c, j) sums chunk j of channel c: a, (a - center[c])^2, or a and a * b, into
// partial_a / partial_b[c * chunks + j].
__global__ void channel_partial_sums_kernel(Nchw d, ChannelChunks g, SumOf what, const float* a,
                                            const float* b, const float* center,
                                            double* partial_a, double* partial_b) {
  const int c = int(blockIdx.x);
  const unsigned j = blockIdx.y;
  const size_t end = chunk_end(g, j, d.per_channel());
  const float mu = what == SumOf::centered_square ? center[c] : 0.0f;
  float pa = 0.0f, pb = 0.0f;
  for (size_t k = chunk_begin(g, j) + threadIdx.x; k < end; k += blockDim.x) {
    const size_t i = channel_element_offset(k, c, d.c, d.spatial);
    if (what == SumOf::centered_square) {
      const float v = a[i] - mu;
      pa += v * v;
    } else {
      pa += a[i];
      if (what == SumOf::value_and_product) pb += a[i] * b[i];
    }
  }
  const double sa = block_sum(pa);
  const double sb = block_sum(pb);  // every thread calls block_sum
  if (threadIdx.x == 0) {
    partial_a[size_t(c) * g.chunks + j] = sa;
    if (partial_b) partial_b[size_t(c) * g.chunks + j] = sb;
  }
}

// Channel c's total: its chunks' sums in chunk order.
__device__ inline double channel_total(const double* partial, int c, unsigned chunks) {
  double s = 0.0;
  for (unsigned j = 0; j < chunks; ++j) s += partial[size_t(c) * chunks + j];
  return s;
}

__global__ void channel_mean_kernel(Nchw d, ChannelChunks g, const double* partial, float* mean) {
  MISHNET_GRID_STRIDE_LOOP(c, size_t(d.c)) {
    mean[c] = float(channel_total(partial, int(c), g.chunks) / double(d.per_channel()));
  }
}

// Biased variance for normalising, unbiased for the rolling statistic (as the CPU).
__global__ void channel_variance_kernel(Nchw d, ChannelChunks g, const double* partial,
                                        const float* mean, float* rolling_mean,
                                        float* rolling_variance, float momentum, float* variance) {
  MISHNET_GRID_STRIDE_LOOP(c, size_t(d.c)) {
    const size_t count = d.per_channel();
    const double sq = channel_total(partial, int(c), g.chunks);
    const double var = sq / double(count);
    const double unbiased = count > 1 ? sq / double(count - 1) : var;
    variance[c] = float(var);
    rolling_mean[c] = (1.0f - momentum) * rolling_mean[c] + momentum * mean[c];
    rolling_variance[c] = (1.0f - momentum) * rolling_variance[c] + momentum * float(unbiased);
  }
}

// dbiases += sum(dy), dscales += sum(dy * x_hat); means[c] = mean(dy), means[C + c] =
// mean(dy * x_hat) for the dx pass.
__global__ void batchnorm_backward_sums_kernel(Nchw d, ChannelChunks g, const double* sum_dy,
                                               const double* sum_dy_xh, float* dscales,
                                               float* dbiases, float* means) {
  MISHNET_GRID_STRIDE_LOOP(c, size_t(d.c)) {
    const double a = channel_total(sum_dy, int(c), g.chunks);
    const double b = channel_total(sum_dy_xh, int(c), g.chunks);
    dbiases[c] += float(a);
    dscales[c] += float(b);
    means[c] = float(a / double(d.per_channel()));
    means[size_t(d.c) + c] = float(b / double(d.per_channel()));
  }
}

__global__ void bias_total_kernel(Nchw d, ChannelChunks g, const double* partial, float* dbias) {
  MISHNET_GRID_STRIDE_LOOP(c, size_t(d.c)) dbias[c] += float(channel_total(partial, int(c), g.chunks));
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

// dx = scale * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat)) per channel (dx may
// alias dy: each element is read and written by one thread).
__global__ void batchnorm_dx_kernel(Nchw d, const float* dy, const float* scales,
                                    const float* variance, const float* x_hat, const float* means,
                                    float* dx, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const int c = channel_of(i, d);
    const float inv_std = 1.0f / sqrtf(variance[c] + kernels::kBatchNormEpsilon);
    dx[i] = scales[c] * inv_std * (dy[i] - means[c] - x_hat[i] * means[d.c + c]);
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

// Scratch for the partial sums, per thread, device and stream: work queued on one stream uses
// it in order; growing it frees the old block (cudaFree waits for the device).
DeviceBuffer& reduction_scratch(StreamHandle stream, size_t bytes) {
  thread_local std::map<std::pair<int, StreamHandle>, DeviceBuffer> scratch;
  int device = 0;
  MISHNET_CUDA_CHECK(cudaGetDevice(&device));
  DeviceBuffer& b = scratch[{device, stream}];
  b.reserve(bytes);
  return b;
}

// The split of `d`'s channels and one array of C x chunks partial sums in the scratch.
struct ChannelSums {
  ChannelChunks g;
  double* partial = nullptr;
};
ChannelSums channel_sums_scratch(const Nchw& d, StreamHandle stream) {
  ChannelSums s;
  s.g = channel_chunks(d.per_channel(), d.c);
  s.partial = static_cast<double*>(
      reduction_scratch(stream, size_t(d.c) * s.g.chunks * sizeof(double)).data());
  return s;
}

// The partial sums of every channel of `d` into partial_a (and partial_b).
void channel_partial_sums(const Nchw& d, const ChannelChunks& g, SumOf what, const float* a,
                          const float* b, const float* center, double* partial_a,
                          double* partial_b, StreamHandle stream) {
  const dim3 grid(unsigned(d.c), g.chunks);
  channel_partial_sums_kernel<<<grid, kThreadsPerBlock, 0, stream>>>(d, g, what, a, b, center,
                                                                     partial_a, partial_b);
  MISHNET_CUDA_CHECK_LAUNCH("channel_partial_sums_kernel");
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
  const auto [g, partial] = channel_sums_scratch(d, stream);
  channel_partial_sums(d, g, SumOf::value, x, nullptr, nullptr, partial, nullptr, stream);
  launch_elements("launch of channel_mean_kernel", size_t(d.c), stream, channel_mean_kernel, d, g,
                  static_cast<const double*>(partial), mean);
  channel_partial_sums(d, g, SumOf::centered_square, x, nullptr, mean, partial, nullptr, stream);
  launch_elements("launch of channel_variance_kernel", size_t(d.c), stream,
                  channel_variance_kernel, d, g, static_cast<const double*>(partial),
                  static_cast<const float*>(mean), rolling_mean, rolling_variance, momentum,
                  variance);
  launch_elements("launch of batchnorm_normalize_kernel", shape.size(), stream,
                  batchnorm_normalize_kernel, d, x, scales, biases,
                  static_cast<const float*>(mean), static_cast<const float*>(variance), x_hat, y,
                  shape.size());
}

void batchnorm_backward(const Shape& shape, const float* dy, const float* scales,
                        const float* variance, const float* x_hat, float* dscales, float* dbiases,
                        float* dx, StreamHandle stream) {
  if (shape.size() == 0) return;
  const Nchw d = nchw(shape);
  const ChannelChunks g = channel_chunks(d.per_channel(), d.c);
  const size_t partials = size_t(d.c) * g.chunks;
  // Two partial arrays (doubles), then the two per-channel means (floats).
  char* scratch = static_cast<char*>(
      reduction_scratch(stream, 2 * partials * sizeof(double) + 2 * size_t(d.c) * sizeof(float))
          .data());
  double* sum_dy = reinterpret_cast<double*>(scratch);
  double* sum_dy_xh = sum_dy + partials;
  float* means = reinterpret_cast<float*>(sum_dy_xh + partials);
  channel_partial_sums(d, g, SumOf::value_and_product, dy, x_hat, nullptr, sum_dy, sum_dy_xh,
                       stream);
  launch_elements("launch of batchnorm_backward_sums_kernel", size_t(d.c), stream,
                  batchnorm_backward_sums_kernel, d, g, static_cast<const double*>(sum_dy),
                  static_cast<const double*>(sum_dy_xh), dscales, dbiases, means);
  launch_elements("launch of batchnorm_dx_kernel", shape.size(), stream, batchnorm_dx_kernel, d,
                  dy, scales, variance, x_hat, static_cast<const float*>(means), dx, shape.size());
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
  const Nchw d = nchw(shape);
  const auto [g, partial] = channel_sums_scratch(d, stream);
  channel_partial_sums(d, g, SumOf::value, dy, nullptr, nullptr, partial, nullptr, stream);
  launch_elements("launch of bias_total_kernel", size_t(d.c), stream, bias_total_kernel, d, g,
                  static_cast<const double*>(partial), dbias);
}

}  // namespace mishnet::cuda
