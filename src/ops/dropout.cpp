#include "ops/dropout.h"

#include "ops/parallel_threshold.h"

namespace mishnet::ops {

void dropout_draw_mask(std::mt19937_64& rng, float probability, size_t n, uint8_t* keep) {
  for (size_t i = 0; i < n; ++i) {
    const float r = float(rng() >> 40) * 0x1p-24f;  // uniform in [0, 1)
    keep[i] = r < probability ? 0 : 1;
  }
}

void dropout_forward(size_t n, const float* in, const uint8_t* keep, float scale, float* out) {
#pragma omp parallel for schedule(static) if (long(n) >= kParallelMinWork)
  for (long i = 0; i < long(n); ++i) out[i] = keep[i] ? in[i] * scale : 0.0f;
}

void dropout_backward(size_t n, const float* dout, const uint8_t* keep, float scale, float* din) {
#pragma omp parallel for schedule(static) if (long(n) >= kParallelMinWork)
  for (long i = 0; i < long(n); ++i)
    if (keep[i]) din[i] += dout[i] * scale;
}

}  // namespace mishnet::ops
