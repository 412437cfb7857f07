#include <cstddef>

#include "kernels/softmax.h"
#include "ops/softmax_op.h"

namespace mishnet::ops {

void softmax_groups_reference(const float* src, float* dst, int images, int image_size,
                              int groups, int group_size, float temperature) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < images; ++b)
    for (int g = 0; g < groups; ++g) {
      size_t offset = size_t(b) * size_t(image_size) + size_t(g) * size_t(group_size);
      kernels::softmax_strided(src + offset, dst + offset, group_size, 1, temperature);
    }
}

void softmax_channels_reference(const float* src, float* dst, int images, int channels,
                                int spatial, float temperature) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < images; ++b)
    for (int p = 0; p < spatial; ++p) {
      size_t offset = size_t(b) * size_t(channels) * size_t(spatial) + size_t(p);
      kernels::softmax_strided(src + offset, dst + offset, channels, spatial, temperature);
    }
}

}  // namespace mishnet::ops
