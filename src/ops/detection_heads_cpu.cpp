// The CPU's [yolo] activation: the reference's loop with a logistic that vectorises (libm's
// expf keeps the loop scalar: 0.68 ms of yolov4-tiny's 26x26 head at batch 1).
#include <cstddef>
#include <cstring>

#include "kernels/detection_heads.h"
#include "ops/detection_heads.h"
#include "ops/vector_math.h"

namespace mishnet::ops {

void yolo_activate(const HeadDesc& d, const float* src, float* dst, float scale_x_y,
                   bool new_coords) {
  const size_t plane = size_t(d.spatial);
  const size_t total = size_t(d.batch) * size_t(d.anchors) * size_t(d.entries) * plane;
  if (dst != src) std::memcpy(dst, src, total * sizeof(float));
  if (new_coords) {  // values come activated: only x and y move (kernels::yolo_activate_value)
    yolo_activate_reference(d, dst, dst, scale_x_y, new_coords);
    return;
  }
  const float shift = kernels::yolo_xy_shift(scale_x_y);
  const int rows = d.batch * d.anchors * d.entries;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const int e = r % d.entries;
    if (e == 2 || e == 3) continue;  // w, h pass through
    float* p = dst + size_t(r) * plane;
    if (e < 2) {
#pragma omp simd
      for (size_t i = 0; i < plane; ++i) p[i] = vec::sigmoid(p[i]) * scale_x_y + shift;
    } else {
#pragma omp simd
      for (size_t i = 0; i < plane; ++i) p[i] = vec::sigmoid(p[i]);
    }
  }
}

}  // namespace mishnet::ops
