#include <algorithm>

#include "ops/batch_broadcast.h"

namespace mishnet::ops {

namespace {

// Below this many floats a parallel region costs more than it saves.
constexpr long kParallelMin = 1 << 14;
}  // namespace

void broadcast_over_batch_reference(const float* src, size_t count, int batch, float* dst) {
  for (int b = 0; b < batch; ++b) std::copy(src, src + count, dst + size_t(b) * count);
}

void sum_over_batch_reference(const float* src, size_t count, int batch, float* dst) {
  const long n = long(count);
#pragma omp parallel for schedule(static) if (n * batch >= kParallelMin)
  for (long i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int b = 0; b < batch; ++b) sum += src[size_t(b) * count + size_t(i)];
    dst[i] += float(sum);
  }
}

}  // namespace mishnet::ops
