#include "ops/broadcast_multiply.h"

namespace mishnet::ops {

namespace {

// Below this many floats a parallel region costs more than it saves.
constexpr long kParallelMin = 1 << 14;

// Index into s of element i (flat NCHW index) of x.
struct FactorIndex {
  Broadcast mode;
  long plane;      // h * w
  long per_image;  // c * h * w
  long operator()(long i) const {
    switch (mode) {
      case Broadcast::per_channel:
        return i / plane;
      case Broadcast::per_position:
        return (i / per_image) * plane + i % plane;
      case Broadcast::elementwise:
        break;
    }
    return i;
  }
};

FactorIndex factor_index(const Shape& s, Broadcast mode) {
  return {mode, long(s.h) * s.w, long(s.per_image())};
}

}  // namespace

void broadcast_multiply_reference(const Tensor& x, const float* s, Broadcast mode, float* y) {
  const FactorIndex at = factor_index(x.shape, mode);
  const long n = long(x.size());
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i) y[i] = x.data[i] * s[at(i)];
}

void broadcast_multiply_backward_reference(const Shape& shape, Broadcast mode, const float* dy,
                                           const float* x, const float* s, float* dx, float* ds) {
  const FactorIndex at = factor_index(shape, mode);
  const long n = long(shape.size());
  if (dx) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (long i = 0; i < n; ++i) dx[i] += dy[i] * s[at(i)];
  }
  if (!ds) return;
  if (mode == Broadcast::elementwise) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (long i = 0; i < n; ++i) ds[i] += dy[i] * x[i];
    return;
  }
  // Reduce per factor; each factor is owned by one iteration, so no two threads add to it.
  const long plane = long(shape.h) * shape.w, channels = shape.c;
  if (mode == Broadcast::per_channel) {
    const long factors = long(shape.n) * channels;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (long f = 0; f < factors; ++f) {
      double sum = 0.0;
      for (long p = 0; p < plane; ++p) sum += double(dy[f * plane + p]) * x[f * plane + p];
      ds[f] += float(sum);
    }
  } else {
    const long factors = long(shape.n) * plane;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (long f = 0; f < factors; ++f) {
      const long b = f / plane, p = f % plane;
      double sum = 0.0;
      for (long c = 0; c < channels; ++c) {
        const long i = (b * channels + c) * plane + p;
        sum += double(dy[i]) * x[i];
      }
      ds[f] += float(sum);
    }
  }
}

}  // namespace mishnet::ops
