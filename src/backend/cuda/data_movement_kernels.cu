// [route], [upsample] and [shortcut] on the GPU: the index arithmetic of the reference ops
// (ops/channel_copy.cpp, ops/upsample.cpp, ops/shortcut.cpp), with one thread per output element
// so that every gradient is gathered (no atomics; results do not depend on scheduling).
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/gather_kernels.h"
#include "backend/cuda/kernel_util.cuh"
#include "kernels/shortcut_weights.h"
#include "mishnet/error.h"

namespace mishnet::cuda {

namespace {

__global__ void add_channels_kernel(const float* ddst, int dst_channels, int dst_first,
                                    float* dsrc, int src_channels, int src_first, int spatial,
                                    int count, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    dsrc[channel_block_offset(i, spatial, count, src_channels, src_first)] +=
        ddst[channel_block_offset(i, spatial, count, dst_channels, dst_first)];
  }
}

__global__ void upsample_forward_kernel(int h, int w, int stride, float scale, const float* src,
                                        float* dst, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) dst[i] = scale * src[upsample_source_index(i, h, w, stride)];
}

// One thread per small cell: the sum of its stride x stride block of the big grid.
__global__ void block_sum_kernel(int h, int w, int stride, float scale, const float* big,
                                 float* small, bool accumulate, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const float sum = downsample_block_sum(h, w, stride, scale, big, i);
    small[i] = accumulate ? small[i] + sum : sum;
  }
}

__global__ void add_upsampled_kernel(int h, int w, int stride, float scale, const float* small,
                                     float* big, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) big[i] += scale * small[upsample_source_index(i, h, w, stride)];
}

struct ShortcutInputs {
  const float* from[kMaxShortcutInputs];
  long sizes[kMaxShortcutInputs];
  int count;
};

struct ShortcutOutputs {
  float* d_from[kMaxShortcutInputs];
  long sizes[kMaxShortcutInputs];
  int count;
};

// Effective weight of input k (0 = in) for channel c; 1 when unweighted.
__device__ inline float shortcut_weight(const float* ew, int groups, int k, int c) {
  return ew ? ew[k * groups + (groups == 1 ? 0 : c)] : 1.0f;
}

__global__ void shortcut_forward_kernel(int channels, int spatial, const float* in,
                                        ShortcutInputs from, const float* ew, int groups,
                                        float* out, size_t total) {
  const long per_image = long(channels) * spatial;
  MISHNET_GRID_STRIDE_LOOP(o, total) {
    const long b = long(o) / per_image, i = long(o) % per_image;
    const int c = int(i / spatial);
    float v = in[o];
    if (ew) v *= shortcut_weight(ew, groups, 0, c);
    for (int j = 0; j < from.count; ++j) {
      if (i >= from.sizes[j]) continue;
      const float a = from.from[j][b * from.sizes[j] + i];
      v += ew ? a * shortcut_weight(ew, groups, j + 1, c) : a;
    }
    out[o] = v;
  }
}

__global__ void shortcut_backward_kernel(int channels, int spatial, const float* delta,
                                         const float* ew, int groups, float* d_in,
                                         ShortcutOutputs to, size_t total) {
  const long per_image = long(channels) * spatial;
  MISHNET_GRID_STRIDE_LOOP(o, total) {
    const long b = long(o) / per_image, i = long(o) % per_image;
    const int c = int(i / spatial);
    const float dv = delta[o];
    if (d_in) d_in[o] += ew ? dv * shortcut_weight(ew, groups, 0, c) : dv;
    // Each from_j element feeds exactly one output element per image: no collisions.
    for (int j = 0; j < to.count; ++j) {
      if (i >= to.sizes[j] || !to.d_from[j]) continue;
      to.d_from[j][b * to.sizes[j] + i] += ew ? dv * shortcut_weight(ew, groups, j + 1, c) : dv;
    }
  }
}

// One thread per weight group: its normalised weights (kernels/shortcut_weights.h).
__global__ void shortcut_effective_weights_kernel(ops::ShortcutNormalization normalization,
                                                  const float* raw, int inputs, int groups,
                                                  float* effective) {
  MISHNET_GRID_STRIDE_LOOP(g, groups) {
    kernels::shortcut_effective_group(normalization, raw, inputs, groups, int(g), effective);
  }
}

// Input 0 (the previous layer) and the `from` layers, as the weight-gradient bodies read them.
struct ShortcutWeightSources {
  const float* x[kMaxShortcutInputs + 1];
  long size[kMaxShortcutInputs + 1];
};

// One block per (input, channel): dL/d(effective weight) of that channel, each thread's part in
// double, then the block's sum in a fixed tree (kernel_util.cuh block_sum).
__global__ void shortcut_channel_weight_gradient_kernel(const float* delta,
                                                        ShortcutWeightSources sources, int batch,
                                                        int channels, int spatial,
                                                        double* per_channel) {
  const long t = long(blockIdx.x);
  const double part = kernels::shortcut_channel_weight_gradient_at(
      delta, sources.x, sources.size, batch, channels, spatial, t, long(threadIdx.x),
      long(blockDim.x));
  const double sum = block_sum(part);
  if (threadIdx.x == 0) per_channel[t] = sum;
}

// One thread per raw weight: its gradient through the normalisation, added.
__global__ void shortcut_raw_weight_gradient_kernel(ops::ShortcutNormalization normalization,
                                                    const float* raw, const float* effective,
                                                    const double* per_channel, int inputs,
                                                    int groups, int channels, float* d_weights,
                                                    size_t total) {
  MISHNET_GRID_STRIDE_LOOP(t, total) {
    d_weights[t] += float(kernels::shortcut_raw_weight_gradient_at(
        normalization, raw, effective, per_channel, inputs, groups, channels, int(t)));
  }
}

int shortcut_groups(const ops::ShortcutDesc& d) {
  return d.weights == ops::ShortcutWeights::per_channel ? d.channels : 1;
}

void check_shortcut_inputs(const ops::ShortcutDesc& d) {
  if (int(d.from_sizes.size()) > kMaxShortcutInputs)
    fail("cuda shortcut: ", d.from_sizes.size(), " inputs, at most ", kMaxShortcutInputs);
}

}  // namespace

void copy_channels(int batch, int spatial, const float* src, int src_channels, int src_first,
                   float* dst, int dst_channels, int dst_first, int count, StreamHandle stream) {
  if (batch <= 0 || count <= 0 || spatial <= 0) return;
  // One strided 2-D copy: `batch` rows of count*spatial floats.
  const size_t row = size_t(count) * spatial * sizeof(float);
  MISHNET_CUDA_CHECK(cudaMemcpy2DAsync(
      dst + size_t(dst_first) * spatial, size_t(dst_channels) * spatial * sizeof(float),
      src + size_t(src_first) * spatial, size_t(src_channels) * spatial * sizeof(float), row,
      size_t(batch), cudaMemcpyDeviceToDevice, stream));
}

void add_channels(int batch, int spatial, const float* ddst, int dst_channels, int dst_first,
                  float* dsrc, int src_channels, int src_first, int count, StreamHandle stream) {
  const size_t total = size_t(batch) * size_t(count) * size_t(spatial);
  launch_elements("launch of add_channels_kernel", total, stream, add_channels_kernel, ddst,
                  dst_channels, dst_first, dsrc, src_channels, src_first, spatial, count, total);
}

void upsample_nearest_forward(int planes, int h, int w, int stride, float scale, const float* src,
                              float* dst, StreamHandle stream) {
  const size_t total = size_t(planes) * h * stride * w * stride;
  launch_elements("launch of upsample_forward_kernel", total, stream, upsample_forward_kernel, h,
                  w, stride, scale, src, dst, total);
}

void upsample_nearest_backward(int planes, int h, int w, int stride, float scale,
                               const float* ddst, float* dsrc, StreamHandle stream) {
  const size_t total = size_t(planes) * h * w;
  launch_elements("launch of block_sum_kernel", total, stream, block_sum_kernel, h, w, stride,
                  scale, ddst, dsrc, true, total);
}

void downsample_sum_forward(int planes, int out_h, int out_w, int stride, float scale,
                            const float* src, float* dst, StreamHandle stream) {
  const size_t total = size_t(planes) * out_h * out_w;
  launch_elements("launch of block_sum_kernel", total, stream, block_sum_kernel, out_h, out_w,
                  stride, scale, src, dst, false, total);
}

void downsample_sum_backward(int planes, int out_h, int out_w, int stride, float scale,
                             const float* ddst, float* dsrc, StreamHandle stream) {
  const size_t total = size_t(planes) * out_h * stride * out_w * stride;
  launch_elements("launch of add_upsampled_kernel", total, stream, add_upsampled_kernel, out_h,
                  out_w, stride, scale, ddst, dsrc, total);
}

void shortcut_forward(const ops::ShortcutDesc& d, const float* in, const float* const* from,
                      const float* effective_weights, float* out, StreamHandle stream) {
  check_shortcut_inputs(d);
  ShortcutInputs inputs{};
  inputs.count = int(d.from_sizes.size());
  for (int j = 0; j < inputs.count; ++j) {
    inputs.from[j] = from[j];
    inputs.sizes[j] = d.from_sizes[size_t(j)];
  }
  const size_t total = size_t(d.batch) * d.channels * d.spatial;
  launch_elements("launch of shortcut_forward_kernel", total, stream, shortcut_forward_kernel,
                  d.channels, d.spatial, in, inputs, effective_weights, shortcut_groups(d), out,
                  total);
}

void shortcut_backward_inputs(const ops::ShortcutDesc& d, const float* delta,
                              const float* effective_weights, float* d_in, float* const* d_from,
                              StreamHandle stream) {
  check_shortcut_inputs(d);
  ShortcutOutputs outputs{};
  outputs.count = int(d.from_sizes.size());
  for (int j = 0; j < outputs.count; ++j) {
    outputs.d_from[j] = d_from ? d_from[j] : nullptr;
    outputs.sizes[j] = d.from_sizes[size_t(j)];
  }
  const size_t total = size_t(d.batch) * d.channels * d.spatial;
  launch_elements("launch of shortcut_backward_kernel", total, stream, shortcut_backward_kernel,
                  d.channels, d.spatial, delta, effective_weights, shortcut_groups(d), d_in,
                  outputs, total);
}

void shortcut_effective_weights(const ops::ShortcutDesc& d, const float* raw, float* effective,
                                StreamHandle stream) {
  if (d.weights_count() == 0) fail("cuda::shortcut_effective_weights: an unweighted shortcut");
  const int groups = shortcut_groups(d);
  launch_elements("launch of shortcut_effective_weights_kernel", size_t(groups), stream,
                  shortcut_effective_weights_kernel, d.normalization, raw, d.inputs(), groups,
                  effective);
}

void shortcut_backward_weights(const ops::ShortcutDesc& d, const float* delta, const float* in,
                               const float* const* from, const float* raw,
                               const float* effective, double* per_channel, float* d_weights,
                               StreamHandle stream) {
  check_shortcut_inputs(d);
  if (d.weights_count() == 0) fail("cuda::shortcut_backward_weights: an unweighted shortcut");
  ShortcutWeightSources sources{};
  sources.x[0] = in;
  sources.size[0] = long(d.channels) * d.spatial;
  for (size_t j = 0; j < d.from_sizes.size(); ++j) {
    sources.x[j + 1] = from[j];
    sources.size[j + 1] = d.from_sizes[j];
  }
  const unsigned pairs = unsigned(d.inputs()) * unsigned(d.channels);
  shortcut_channel_weight_gradient_kernel<<<pairs, kThreadsPerBlock, 0, stream>>>(
      delta, sources, d.batch, d.channels, d.spatial, per_channel);
  MISHNET_CUDA_CHECK_LAUNCH("shortcut_channel_weight_gradient_kernel");
  launch_elements("launch of shortcut_raw_weight_gradient_kernel", d.weights_count(), stream,
                  shortcut_raw_weight_gradient_kernel, d.normalization, raw, effective,
                  static_cast<const double*>(per_channel), d.inputs(), shortcut_groups(d),
                  d.channels, d_weights, d.weights_count());
}

}  // namespace mishnet::cuda
