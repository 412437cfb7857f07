#include "ops/accumulate.h"

namespace mishnet::ops {

namespace {

// Below this many floats a parallel region costs more than it saves.
constexpr long kParallelMin = 1 << 14;
}  // namespace

void accumulate_reference(const float* src, size_t n, float* dst) {
  const long count = long(n);
#pragma omp parallel for simd schedule(static) if (count >= kParallelMin)
  for (long i = 0; i < count; ++i) dst[i] += src[i];
}

}  // namespace mishnet::ops
