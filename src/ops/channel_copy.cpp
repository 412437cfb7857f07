// Reference channel-block copy: one contiguous run of count*spatial floats per image.
#include "ops/channel_copy.h"

#include <cstddef>
#include <cstring>

#include "ops/parallel_threshold.h"

namespace mishnet::ops {

void copy_channels(int batch, int spatial, const float* src, int src_channels, int src_first,
                   float* dst, int dst_channels, int dst_first, int count) {
  const size_t run = size_t(count) * spatial;
#pragma omp parallel for schedule(static) if (long(batch) * long(run) >= kParallelMinWork)
  for (int b = 0; b < batch; ++b) {
    float* to = dst + (size_t(b) * dst_channels + dst_first) * spatial;
    const float* from = src + (size_t(b) * src_channels + src_first) * spatial;
    // The network may have placed the source where it goes (core/output_views.h): nothing to do.
    if (to != from) std::memcpy(to, from, run * sizeof(float));
  }
}

void add_channels(int batch, int spatial, const float* ddst, int dst_channels, int dst_first,
                  float* dsrc, int src_channels, int src_first, int count) {
  const long run = long(count) * spatial;
#pragma omp parallel for schedule(static) if (batch * run >= kParallelMinWork)
  for (int b = 0; b < batch; ++b) {
    const float* from = ddst + (size_t(b) * dst_channels + dst_first) * spatial;
    float* to = dsrc + (size_t(b) * src_channels + src_first) * spatial;
    for (long i = 0; i < run; ++i) to[i] += from[i];
  }
}

}  // namespace mishnet::ops
