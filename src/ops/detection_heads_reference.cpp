#include <cstddef>
#include <cstring>

#include "kernels/activations.h"
#include "kernels/detection_heads.h"
#include "kernels/softmax.h"
#include "ops/detection_heads.h"

namespace mishnet::ops {

void yolo_activate_reference(const HeadDesc& d, const float* src, float* dst, float scale_x_y,
                             bool new_coords) {
  const size_t plane = size_t(d.spatial);
  const size_t block = size_t(d.entries) * plane;
  const size_t total = size_t(d.batch) * size_t(d.anchors) * block;
  if (dst != src) std::memcpy(dst, src, total * sizeof(float));
  const float shift = kernels::yolo_xy_shift(scale_x_y);
  // One row (image, anchor, entry) per work item: batch 1 has 3 anchors for 2+ threads, and
  // within a row the entry is fixed, so the loop vectorises.
  const int rows = d.batch * d.anchors * d.entries;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const int e = r % d.entries;
    if (e == 2 || e == 3) continue;  // w, h pass through
    float* p = dst + size_t(r) * plane;
#pragma omp simd
    for (size_t i = 0; i < plane; ++i)
      p[i] = kernels::yolo_activate_value(e, p[i], scale_x_y, shift, new_coords);
  }
}

void region_activate_reference(const HeadDesc& d, const float* src, float* dst, bool softmax) {
  const size_t plane = size_t(d.spatial);
  const size_t block = size_t(d.entries) * plane;
  const size_t total = size_t(d.batch) * size_t(d.anchors) * block;
  if (dst != src) std::memcpy(dst, src, total * sizeof(float));
  const int classes = d.entries - 5;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < d.batch; ++b)
    for (int a = 0; a < d.anchors; ++a) {
      float* p = dst + (size_t(b) * size_t(d.anchors) + size_t(a)) * block;
      for (size_t i = 4 * plane; i < 5 * plane; ++i) p[i] = kernels::logistic(p[i]);
      if (softmax)
        for (size_t i = 0; i < plane; ++i)
          kernels::softmax_strided(p + 5 * plane + i, p + 5 * plane + i, classes, d.spatial, 1.f);
    }
}

}  // namespace mishnet::ops
