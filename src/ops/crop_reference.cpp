#include "ops/crop.h"

namespace mishnet::ops {

namespace {

// Below this many floats a parallel region costs more than it saves.
constexpr long kParallelMin = 1 << 14;

// Calls fn(output_index, input_index) for every output float.
template <typename Fn>
void for_each_window_pair(const Shape& in, const CropWindow& win, Fn fn) {
  const long planes = long(in.n) * in.c;
  const long out_plane = long(win.out_h) * win.out_w;
#pragma omp parallel for schedule(static) if (planes * out_plane >= kParallelMin)
  for (long plane = 0; plane < planes; ++plane) {
    for (int r = 0; r < win.out_h; ++r) {
      const long in_row = (plane * in.h + win.top + r) * in.w;
      const long out_row = plane * out_plane + long(r) * win.out_w;
      for (int j = 0; j < win.out_w; ++j) {
        const int col = win.flip ? win.left + win.out_w - 1 - j : win.left + j;
        fn(out_row + j, in_row + col);
      }
    }
  }
}

}  // namespace

void crop_reference(const Tensor& x, const CropWindow& win, float* y) {
  for_each_window_pair(x.shape, win,
                       [&](long o, long i) { y[o] = x.data[i] * win.scale + win.shift; });
}

void crop_backward_reference(const Shape& x_shape, const CropWindow& win, const float* dy,
                             float* dx) {
  // The window never covers an input float twice, so the adds do not race.
  for_each_window_pair(x_shape, win, [&](long o, long i) { dx[i] += win.scale * dy[o]; });
}

}  // namespace mishnet::ops
