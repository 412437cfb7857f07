// maxpool_depth, [reorg], [scale_channels]/[sam] products, dropout, [crop], [implicit] and
// accumulate on the GPU. Index bodies
// come from gather_kernels.h (tested on the CPU); reductions run one block per factor.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/gather_kernels.h"
#include "backend/cuda/kernel_util.cuh"
#include "mishnet/error.h"

namespace mishnet::cuda {

namespace {

__global__ void maxpool_depth_forward_kernel(int channels, int spatial, int out_channels,
                                             const float* src, float* dst, int32_t* argmax,
                                             size_t total) {
  MISHNET_GRID_STRIDE_LOOP(o, total) {
    dst[o] = maxpool_depth_output(channels, spatial, out_channels, src, o,
                                  argmax ? argmax + o : nullptr);
  }
}

__global__ void maxpool_depth_backward_kernel(int channels, int spatial, int out_channels,
                                              const float* ddst, const int32_t* argmax,
                                              float* dsrc, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(o, total) {
    const size_t b = o / (size_t(spatial) * size_t(out_channels));
    if (argmax[o] >= 0) dsrc[b * size_t(channels) * size_t(spatial) + size_t(argmax[o])] += ddst[o];
  }
}

__global__ void reorg_kernel(ops::ReorgGeometry g, const float* from, float* to,
                             bool space_to_depth, bool accumulate, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(d, total) {
    const size_t sp = reorg_space_index(g, d);
    // A permutation: each thread owns one element of each side.
    const size_t src = space_to_depth ? sp : d, dst = space_to_depth ? d : sp;
    to[dst] = accumulate ? to[dst] + from[src] : from[src];
  }
}

__global__ void broadcast_multiply_kernel(ops::Broadcast mode, size_t plane, size_t per_image,
                                          const float* x, const float* s, float* y, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) y[i] = x[i] * s[broadcast_factor_index(mode, plane, per_image, i)];
}

__global__ void broadcast_multiply_dx_kernel(ops::Broadcast mode, size_t plane, size_t per_image,
                                             const float* dy, const float* s, float* dx,
                                             size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) dx[i] += dy[i] * s[broadcast_factor_index(mode, plane, per_image, i)];
}

__global__ void elementwise_ds_kernel(const float* dy, const float* x, float* ds, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) ds[i] += dy[i] * x[i];
}

// Block f: factor f of a per-channel product, the sum over its plane.
__global__ void per_channel_ds_kernel(size_t plane, const float* dy, const float* x, float* ds) {
  const size_t f = blockIdx.x;
  double part = 0.0;
  for (size_t p = threadIdx.x; p < plane; p += blockDim.x)
    part += double(dy[f * plane + p]) * x[f * plane + p];
  const double sum = block_sum(part);
  if (threadIdx.x == 0) ds[f] += float(sum);
}

// One thread per factor of a per-position product: the sum over the channels.
__global__ void per_position_ds_kernel(size_t plane, int channels, const float* dy,
                                       const float* x, float* ds, size_t factors) {
  MISHNET_GRID_STRIDE_LOOP(f, factors) {
    const size_t b = f / plane, p = f % plane;
    double sum = 0.0;
    for (int c = 0; c < channels; ++c) {
      const size_t i = (b * size_t(channels) + size_t(c)) * plane + p;
      sum += double(dy[i]) * x[i];
    }
    ds[f] += float(sum);
  }
}

__global__ void dropout_forward_kernel(const float* in, const uint8_t* keep, float scale,
                                       float* out, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) out[i] = keep[i] ? in[i] * scale : 0.0f;
}

__global__ void dropout_backward_kernel(const float* dout, const uint8_t* keep, float scale,
                                        float* din, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) {
    if (keep[i]) din[i] += dout[i] * scale;
  }
}

__global__ void crop_kernel(int in_h, int in_w, ops::CropWindow win, const float* x, float* y,
                            size_t total) {
  MISHNET_GRID_STRIDE_LOOP(o, total) y[o] = x[crop_source_index(in_h, in_w, win, o)] * win.scale + win.shift;
}

__global__ void crop_backward_kernel(int in_h, int in_w, ops::CropWindow win, const float* dy,
                                     float* dx, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(o, total) dx[crop_source_index(in_h, in_w, win, o)] += win.scale * dy[o];
}

__global__ void broadcast_over_batch_kernel(const float* src, size_t count, float* dst,
                                            size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) dst[i] = src[i % count];
}

// One thread per value: the sum over the batch in a fixed order, in double as on the CPU.
__global__ void sum_over_batch_kernel(const float* src, size_t count, int batch, float* dst) {
  MISHNET_GRID_STRIDE_LOOP(i, count) {
    double sum = 0.0;
    for (int b = 0; b < batch; ++b) sum += src[size_t(b) * count + i];
    dst[i] += float(sum);
  }
}

__global__ void accumulate_kernel(const float* src, size_t n, float* dst) {
  MISHNET_GRID_STRIDE_LOOP(i, n) dst[i] += src[i];
}

void check_reorg(const ops::ReorgGeometry& g) {
  const int s2 = g.stride * g.stride;
  if (g.stride < 1 || g.channels < s2 || g.channels % s2 != 0)
    fail("reorg: ", g.channels, " channels are not a positive multiple of stride^2 = ", s2);
}

size_t reorg_total(const ops::ReorgGeometry& g) {
  return size_t(g.batch) * size_t(g.channels) * size_t(g.height) * size_t(g.width);
}

}  // namespace

void maxpool_depth_forward(int batch, int channels, int h, int w, int out_channels,
                           const float* src, float* dst, int32_t* argmax, StreamHandle stream) {
  const size_t total = size_t(batch) * size_t(out_channels) * size_t(h) * size_t(w);
  launch_elements("launch of maxpool_depth_forward_kernel", total, stream,
                  maxpool_depth_forward_kernel, channels, h * w, out_channels, src, dst, argmax,
                  total);
}

void maxpool_depth_backward(int batch, int channels, int h, int w, int out_channels,
                            const float* ddst, const int32_t* argmax, float* dsrc,
                            StreamHandle stream) {
  const size_t total = size_t(batch) * size_t(out_channels) * size_t(h) * size_t(w);
  launch_elements("launch of maxpool_depth_backward_kernel", total, stream,
                  maxpool_depth_backward_kernel, channels, h * w, out_channels, ddst, argmax,
                  dsrc, total);
}

void reorg_space_to_depth(const ops::ReorgGeometry& g, const float* space, float* depth,
                          bool accumulate, StreamHandle stream) {
  check_reorg(g);
  launch_elements("launch of reorg_kernel", reorg_total(g), stream, reorg_kernel, g, space, depth,
                  true, accumulate, reorg_total(g));
}

void reorg_depth_to_space(const ops::ReorgGeometry& g, const float* depth, float* space,
                          bool accumulate, StreamHandle stream) {
  check_reorg(g);
  launch_elements("launch of reorg_kernel", reorg_total(g), stream, reorg_kernel, g, depth, space,
                  false, accumulate, reorg_total(g));
}

void broadcast_multiply(const Shape& shape, ops::Broadcast mode, const float* x, const float* s,
                        float* y, StreamHandle stream) {
  const size_t plane = size_t(shape.h) * size_t(shape.w);
  launch_elements("launch of broadcast_multiply_kernel", shape.size(), stream,
                  broadcast_multiply_kernel, mode, plane, shape.per_image(), x, s, y,
                  shape.size());
}

void broadcast_multiply_backward(const Shape& shape, ops::Broadcast mode, const float* dy,
                                 const float* x, const float* s, float* dx, float* ds,
                                 StreamHandle stream) {
  const size_t plane = size_t(shape.h) * size_t(shape.w);
  if (dx)
    launch_elements("launch of broadcast_multiply_dx_kernel", shape.size(), stream,
                    broadcast_multiply_dx_kernel, mode, plane, shape.per_image(), dy, s, dx,
                    shape.size());
  if (!ds || shape.size() == 0) return;
  switch (mode) {
    case ops::Broadcast::elementwise:
      launch_elements("launch of elementwise_ds_kernel", shape.size(), stream,
                      elementwise_ds_kernel, dy, x, ds, shape.size());
      return;
    case ops::Broadcast::per_channel:
      per_channel_ds_kernel<<<unsigned(shape.n) * unsigned(shape.c), kThreadsPerBlock, 0,
                              stream>>>(plane, dy, x, ds);
      MISHNET_CUDA_CHECK_LAUNCH("per_channel_ds_kernel");
      return;
    case ops::Broadcast::per_position: {
      const size_t factors = size_t(shape.n) * plane;
      launch_elements("launch of per_position_ds_kernel", factors, stream, per_position_ds_kernel,
                      plane, shape.c, dy, x, ds, factors);
      return;
    }
  }
}

void crop(const Shape& x_shape, const float* x, const ops::CropWindow& win, float* y,
          StreamHandle stream) {
  if (win.top < 0 || win.left < 0 || win.top + win.out_h > x_shape.h ||
      win.left + win.out_w > x_shape.w)
    fail("cuda::crop: window ", win.out_w, "x", win.out_h, " at (", win.left, ", ", win.top,
         ") is outside the ", x_shape.w, "x", x_shape.h, " input");
  const size_t total = size_t(x_shape.n) * size_t(x_shape.c) * size_t(win.out_h) * size_t(win.out_w);
  launch_elements("launch of crop_kernel", total, stream, crop_kernel, x_shape.h, x_shape.w, win, x,
                  y, total);
}

void crop_backward(const Shape& x_shape, const ops::CropWindow& win, const float* dy, float* dx,
                   StreamHandle stream) {
  const size_t total = size_t(x_shape.n) * size_t(x_shape.c) * size_t(win.out_h) * size_t(win.out_w);
  launch_elements("launch of crop_backward_kernel", total, stream, crop_backward_kernel, x_shape.h,
                  x_shape.w, win, dy, dx, total);
}

void broadcast_over_batch(const float* src, size_t count, int batch, float* dst,
                          StreamHandle stream) {
  const size_t total = count * size_t(batch);
  launch_elements("launch of broadcast_over_batch_kernel", total, stream,
                  broadcast_over_batch_kernel, src, count, dst, total);
}

void sum_over_batch(const float* src, size_t count, int batch, float* dst, StreamHandle stream) {
  launch_elements("launch of sum_over_batch_kernel", count, stream, sum_over_batch_kernel, src,
                  count, batch, dst);
}

void accumulate(const float* src, size_t n, float* dst, StreamHandle stream) {
  launch_elements("launch of accumulate_kernel", n, stream, accumulate_kernel, src, n, dst);
}

void dropout_forward(size_t n, const float* in, const uint8_t* keep, float scale, float* out,
                     StreamHandle stream) {
  launch_elements("launch of dropout_forward_kernel", n, stream, dropout_forward_kernel, in, keep,
                  scale, out, n);
}

void dropout_backward(size_t n, const float* dout, const uint8_t* keep, float scale, float* din,
                      StreamHandle stream) {
  launch_elements("launch of dropout_backward_kernel", n, stream, dropout_backward_kernel, dout,
                  keep, scale, din, n);
}

}  // namespace mishnet::cuda
