// Pooling on the GPU with Darknet's geometry (ops/pool2d.cpp): forward one thread per output,
// backward one thread per input cell gathering from the windows that cover it
// (pool_outputs_covering), so overlapping windows need no atomics.
#include <cfloat>

#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernel_util.cuh"

namespace mishnet::cuda {

namespace {

__global__ void maxpool_forward_kernel(ops::Pool2dDesc d, const float* src, float* dst,
                                       int32_t* argmax, size_t total) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * d.in_w, out_plane = size_t(d.out_h) * d.out_w;
  MISHNET_GRID_STRIDE_LOOP(o, total) {
    const size_t plane = o / out_plane, cell = o % out_plane;
    const int oy = int(cell / d.out_w), ox = int(cell % d.out_w);
    const int y0 = oy * d.stride_y - before, x0 = ox * d.stride_x - before;
    const float* in = src + plane * in_plane;
    float best = -FLT_MAX;
    long best_at = -1;
    // Row-major window order and a strict '>': ties go to the first, as on the CPU.
    for (int y = y0; y < y0 + d.size; ++y) {
      if (y < 0 || y >= d.in_h) continue;
      for (int x = x0; x < x0 + d.size; ++x) {
        if (x < 0 || x >= d.in_w) continue;
        const float v = in[size_t(y) * d.in_w + x];
        if (v > best) {
          best = v;
          best_at = long(y) * d.in_w + x;
        }
      }
    }
    dst[o] = best;
    if (argmax) {
      const long c = long(plane % size_t(d.channels));
      argmax[o] = best_at < 0 ? -1 : int32_t(c * long(in_plane) + best_at);
    }
  }
}

__global__ void maxpool_backward_kernel(ops::Pool2dDesc d, const float* ddst,
                                        const int32_t* argmax, float* dsrc, size_t total) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * d.in_w, out_plane = size_t(d.out_h) * d.out_w;
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const size_t plane = i / in_plane, cell = i % in_plane;
    const int y = int(cell / d.in_w), x = int(cell % d.in_w);
    const int32_t me = int32_t((plane % size_t(d.channels)) * in_plane + cell);
    const IndexRange rows = pool_outputs_covering(y, before, d.size, d.stride_y, d.out_h);
    const IndexRange cols = pool_outputs_covering(x, before, d.size, d.stride_x, d.out_w);
    float g = 0.0f;
    for (int oy = rows.first; oy <= rows.last; ++oy)
      for (int ox = cols.first; ox <= cols.last; ++ox) {
        const size_t o = plane * out_plane + size_t(oy) * d.out_w + ox;
        if (argmax[o] == me) g += ddst[o];
      }
    dsrc[i] += g;
  }
}

__global__ void avgpool_forward_kernel(ops::Pool2dDesc d, const float* src, float* dst,
                                       size_t total) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * d.in_w, out_plane = size_t(d.out_h) * d.out_w;
  MISHNET_GRID_STRIDE_LOOP(o, total) {
    const size_t plane = o / out_plane, cell = o % out_plane;
    const int oy = int(cell / d.out_w), ox = int(cell % d.out_w);
    const IndexRange rows = clip_window(oy * d.stride_y - before, d.size, d.in_h);
    const IndexRange cols = clip_window(ox * d.stride_x - before, d.size, d.in_w);
    const float* in = src + plane * in_plane;
    float sum = 0.0f;
    int count = 0;
    for (int y = rows.first; y <= rows.last; ++y)
      for (int x = cols.first; x <= cols.last; ++x) {
        sum += in[size_t(y) * d.in_w + x];
        ++count;
      }
    dst[o] = count ? sum / float(count) : 0.0f;
  }
}

__global__ void avgpool_backward_kernel(ops::Pool2dDesc d, const float* ddst, float* dsrc,
                                        size_t total) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * d.in_w, out_plane = size_t(d.out_h) * d.out_w;
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const size_t plane = i / in_plane, cell = i % in_plane;
    const int y = int(cell / d.in_w), x = int(cell % d.in_w);
    const IndexRange rows = pool_outputs_covering(y, before, d.size, d.stride_y, d.out_h);
    const IndexRange cols = pool_outputs_covering(x, before, d.size, d.stride_x, d.out_w);
    float g = 0.0f;
    for (int oy = rows.first; oy <= rows.last; ++oy)
      for (int ox = cols.first; ox <= cols.last; ++ox) {
        const IndexRange wr = clip_window(oy * d.stride_y - before, d.size, d.in_h);
        const IndexRange wc = clip_window(ox * d.stride_x - before, d.size, d.in_w);
        const int count = (wr.last - wr.first + 1) * (wc.last - wc.first + 1);
        g += ddst[plane * out_plane + size_t(oy) * d.out_w + ox] / float(count);
      }
    dsrc[i] += g;
  }
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
