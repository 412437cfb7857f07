// Reference resampling: the index arithmetic of Darknet's upsample_cpu, once per direction.
#include "ops/upsample.h"

#include <cstddef>

#include "ops/parallel_threshold.h"

namespace mishnet::ops {

namespace {

// Calls fn(small_index, big_index) for every cell of the big grid, one thread per plane.
template <typename Fn>
void for_each_cell(int planes, int small_h, int small_w, int stride, Fn fn) {
  const size_t small_plane = size_t(small_h) * small_w;
  const int big_w = small_w * stride, big_h = small_h * stride;
  const size_t big_plane = size_t(big_h) * big_w;
#pragma omp parallel for schedule(static) if (long(planes) * long(big_plane) >= kParallelMinWork)
  for (int p = 0; p < planes; ++p)
    for (int y = 0; y < big_h; ++y)
      for (int x = 0; x < big_w; ++x)
        fn(size_t(p) * small_plane + size_t(y / stride) * small_w + size_t(x / stride),
           size_t(p) * big_plane + size_t(y) * big_w + size_t(x));
}

}  // namespace

void upsample_nearest_forward(int planes, int h, int w, int stride, float scale, const float* src,
                              float* dst) {
  for_each_cell(planes, h, w, stride, [&](size_t s, size_t b) { dst[b] = scale * src[s]; });
}

void upsample_nearest_forward_blocked16(int blocks, int h, int w, int stride, float scale,
                                        const float* src, float* dst) {
  constexpr int kLanes = 16;
  const int out_h = h * stride, out_w = w * stride;
#pragma omp parallel for collapse(2) schedule(static) \
    if (long(blocks) * out_h * out_w * kLanes >= kParallelMinWork)
  for (int p = 0; p < blocks; ++p)
    for (int y = 0; y < out_h; ++y) {
      const float* in_row = src + (size_t(p) * h + size_t(y / stride)) * w * kLanes;
      float* out_row = dst + (size_t(p) * out_h + size_t(y)) * out_w * kLanes;
      for (int x = 0; x < out_w; ++x) {
        const float* in = in_row + size_t(x / stride) * kLanes;
#pragma omp simd
        for (int l = 0; l < kLanes; ++l) out_row[size_t(x) * kLanes + size_t(l)] = scale * in[l];
      }
    }
}

void upsample_nearest_backward(int planes, int h, int w, int stride, float scale, const float* ddst,
                               float* dsrc) {
  // Each thread owns one plane of dsrc, so the += of a block is race-free.
  for_each_cell(planes, h, w, stride, [&](size_t s, size_t b) { dsrc[s] += scale * ddst[b]; });
}

void downsample_sum_forward(int planes, int out_h, int out_w, int stride, float scale,
                            const float* src, float* dst) {
  const size_t n = size_t(planes) * out_h * out_w;
  for (size_t i = 0; i < n; ++i) dst[i] = 0.0f;
  for_each_cell(planes, out_h, out_w, stride,
                [&](size_t s, size_t b) { dst[s] += scale * src[b]; });
}

void downsample_sum_backward(int planes, int out_h, int out_w, int stride, float scale,
                             const float* ddst, float* dsrc) {
  for_each_cell(planes, out_h, out_w, stride,
                [&](size_t s, size_t b) { dsrc[b] += scale * ddst[s]; });
}

}  // namespace mishnet::ops
