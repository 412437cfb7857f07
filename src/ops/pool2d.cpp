// Reference pooling: the loops follow Darknet's maxpool_layer.c / avgpool_layer.c geometry.
#include "ops/pool2d.h"

#include <cfloat>
#include <cstddef>

#include "ops/parallel_threshold.h"

namespace mishnet::ops {

namespace {

// Calls fn(plane, out_y, out_x, y0, x0) for every output cell: plane = image * channels + c,
// (y0, x0) the window's top-left corner in input coordinates (may be negative).
template <typename Fn>
void for_each_window(const Pool2dDesc& d, Fn fn) {
  const long planes = long(d.batch) * d.channels;
  const int before = d.padding / 2;
  const long work = planes * d.out_h * d.out_w * d.size * d.size;
#pragma omp parallel for schedule(static) if (work >= kParallelMinWork)
  for (long plane = 0; plane < planes; ++plane)
    for (int oy = 0; oy < d.out_h; ++oy)
      for (int ox = 0; ox < d.out_w; ++ox)
        fn(plane, oy, ox, oy * d.stride_y - before, ox * d.stride_x - before);
}

}  // namespace

namespace {

// maxpool2d_forward_reference for size 2, stride 2, no padding before, every window inside:
// the reference's strict '>' scan over (y0,x0), (y0,x0+1), (y0+1,x0), (y0+1,x0+1) as selects.
void maxpool2x2_stride2_inside(const Pool2dDesc& d, const float* src, float* dst, int32_t* argmax) {
  const long planes = long(d.batch) * d.channels;
  const int in_w = d.in_w, out_w = d.out_w, out_h = d.out_h, channels = d.channels;
  const size_t in_plane = size_t(d.in_h) * in_w, out_plane = size_t(out_h) * out_w;
  const long work = planes * long(out_plane) * 4;
  // One output row at a time; `omp simd` makes the selects vector blends (plain loops compiled
  // to branches, which mispredict on real activations and ran slower than the reference).
#pragma omp parallel for schedule(static) if (work >= kParallelMinWork)
  for (long plane = 0; plane < planes; ++plane) {
    const float* in = src + size_t(plane) * in_plane;
    float* out = dst + size_t(plane) * out_plane;
    int32_t* arg = argmax ? argmax + size_t(plane) * out_plane : nullptr;
    const int32_t channel_offset = int32_t((plane % channels) * long(in_plane));
    for (int oy = 0; oy < out_h; ++oy) {
      const float* __restrict r0 = in + size_t(2 * oy) * in_w;
      const float* __restrict r1 = r0 + in_w;
      float* __restrict o = out + size_t(oy) * out_w;
      if (!arg) {
#pragma omp simd
        for (int ox = 0; ox < out_w; ++ox) {
          float best = -FLT_MAX;
          best = r0[2 * ox] > best ? r0[2 * ox] : best;
          best = r0[2 * ox + 1] > best ? r0[2 * ox + 1] : best;
          best = r1[2 * ox] > best ? r1[2 * ox] : best;
          best = r1[2 * ox + 1] > best ? r1[2 * ox + 1] : best;
          o[ox] = best;
        }
        continue;
      }
      int32_t* __restrict a = arg + size_t(oy) * out_w;
      const int32_t row0 = channel_offset + 2 * oy * in_w, row1 = row0 + in_w;
#pragma omp simd
      for (int ox = 0; ox < out_w; ++ox) {
        float best = -FLT_MAX;
        int32_t at = -1;
        const float v0 = r0[2 * ox], v1 = r0[2 * ox + 1], v2 = r1[2 * ox], v3 = r1[2 * ox + 1];
        bool g = v0 > best;
        best = g ? v0 : best;
        at = g ? row0 + 2 * ox : at;
        g = v1 > best;
        best = g ? v1 : best;
        at = g ? row0 + 2 * ox + 1 : at;
        g = v2 > best;
        best = g ? v2 : best;
        at = g ? row1 + 2 * ox : at;
        g = v3 > best;
        best = g ? v3 : best;
        at = g ? row1 + 2 * ox + 1 : at;
        o[ox] = best;
        a[ox] = at;
      }
    }
  }
}

}  // namespace

void maxpool2d_forward(const Pool2dDesc& d, const float* src, float* dst, int32_t* argmax) {
  const bool inside = d.padding / 2 == 0 && 2 * d.out_h <= d.in_h && 2 * d.out_w <= d.in_w;
  if (d.size == 2 && d.stride_x == 2 && d.stride_y == 2 && inside)
    maxpool2x2_stride2_inside(d, src, dst, argmax);
  else
    maxpool2d_forward_reference(d, src, dst, argmax);
}

void maxpool2d_forward_reference(const Pool2dDesc& d, const float* src, float* dst,
                                 int32_t* argmax) {
  const size_t in_plane = size_t(d.in_h) * d.in_w, out_plane = size_t(d.out_h) * d.out_w;
  for_each_window(d, [&](long plane, int oy, int ox, int y0, int x0) {
    const float* in = src + size_t(plane) * in_plane;
    float best = -FLT_MAX;
    long best_at = -1;
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
    const size_t o = size_t(plane) * out_plane + size_t(oy) * d.out_w + ox;
    dst[o] = best;
    if (argmax) {
      // Index within the image: the plane's channel offset plus the cell.
      const long c = plane % d.channels;
      argmax[o] = best_at < 0 ? -1 : int32_t(c * long(in_plane) + best_at);
    }
  });
}

void avgpool2d_forward(const Pool2dDesc& d, const float* src, float* dst) {
  const size_t in_plane = size_t(d.in_h) * d.in_w, out_plane = size_t(d.out_h) * d.out_w;
  for_each_window(d, [&](long plane, int oy, int ox, int y0, int x0) {
    const float* in = src + size_t(plane) * in_plane;
    float sum = 0.0f;
    int count = 0;
    for (int y = y0; y < y0 + d.size; ++y) {
      if (y < 0 || y >= d.in_h) continue;
      for (int x = x0; x < x0 + d.size; ++x) {
        if (x < 0 || x >= d.in_w) continue;
        sum += in[size_t(y) * d.in_w + x];
        ++count;
      }
    }
    dst[size_t(plane) * out_plane + size_t(oy) * d.out_w + ox] = count ? sum / float(count) : 0.0f;
  });
}

void avgpool2d_backward(const Pool2dDesc& d, const float* ddst, float* dsrc) {
  const size_t in_plane = size_t(d.in_h) * d.in_w, out_plane = size_t(d.out_h) * d.out_w;
  // Windows overlap within a plane, never across planes: one thread per plane.
  for_each_window(d, [&](long plane, int oy, int ox, int y0, int x0) {
    const int y_lo = y0 < 0 ? 0 : y0, y_hi = y0 + d.size > d.in_h ? d.in_h : y0 + d.size;
    const int x_lo = x0 < 0 ? 0 : x0, x_hi = x0 + d.size > d.in_w ? d.in_w : x0 + d.size;
    const int count = (y_hi - y_lo) * (x_hi - x_lo);
    if (count <= 0) return;
    const float g = ddst[size_t(plane) * out_plane + size_t(oy) * d.out_w + ox] / float(count);
    float* in = dsrc + size_t(plane) * in_plane;
    for (int y = y_lo; y < y_hi; ++y)
      for (int x = x_lo; x < x_hi; ++x) in[size_t(y) * d.in_w + x] += g;
  });
}

void maxpool_depth_forward(int batch, int channels, int h, int w, int out_channels,
                           const float* src, float* dst, int32_t* argmax) {
  const long spatial = long(h) * w;
  const long outputs = long(batch) * out_channels * spatial;
#pragma omp parallel for schedule(static) if (long(batch) * channels * spatial >= kParallelMinWork)
  for (long o = 0; o < outputs; ++o) {
    const long p = o % spatial, g = (o / spatial) % out_channels, b = o / (spatial * out_channels);
    const float* in = src + size_t(b) * channels * spatial;
    float best = -FLT_MAX;
    long best_at = -1;
    for (long k = g; k < channels; k += out_channels) {
      const float v = in[k * spatial + p];
      if (v > best) {
        best = v;
        best_at = k * spatial + p;
      }
    }
    dst[o] = best;
    if (argmax) argmax[o] = int32_t(best_at);
  }
}

void maxpool_backward(int batch, int out_size, int in_size, const float* ddst,
                      const int32_t* argmax, float* dsrc) {
  // Within an image several outputs may share a winner (overlapping windows): one thread per
  // image keeps the scatter race-free.
#pragma omp parallel for schedule(static) if (long(batch) * out_size >= kParallelMinWork)
  for (int b = 0; b < batch; ++b) {
    const size_t base = size_t(b) * out_size;
    float* in = dsrc + size_t(b) * in_size;
    for (int o = 0; o < out_size; ++o) {
      const int32_t at = argmax[base + o];
      if (at >= 0) in[at] += ddst[base + o];
    }
  }
}

void global_avgpool_forward(int batch, int channels, int spatial, const float* src, float* dst) {
  const long planes = long(batch) * channels;
#pragma omp parallel for schedule(static) if (planes * spatial >= kParallelMinWork)
  for (long plane = 0; plane < planes; ++plane) {
    const float* in = src + size_t(plane) * spatial;
    float sum = 0.0f;
    for (int i = 0; i < spatial; ++i) sum += in[i];
    dst[plane] = sum / float(spatial);
  }
}

void global_avgpool_backward(int batch, int channels, int spatial, const float* ddst, float* dsrc) {
  const long planes = long(batch) * channels;
#pragma omp parallel for schedule(static) if (planes * spatial >= kParallelMinWork)
  for (long plane = 0; plane < planes; ++plane) {
    const float g = ddst[plane] / float(spatial);
    float* in = dsrc + size_t(plane) * spatial;
    for (int i = 0; i < spatial; ++i) in[i] += g;
  }
}

}  // namespace mishnet::ops
