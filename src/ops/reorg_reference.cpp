#include "mishnet/error.h"
#include "ops/reorg.h"

namespace mishnet::ops {

namespace {

// Below this many floats a parallel region costs more than it saves.
constexpr long kParallelMin = 1 << 14;

// Calls fn(depth_index, space_index) for every float of the batch.
template <typename Fn>
void for_each_reorg_pair(const ReorgGeometry& g, Fn fn) {
  const int s = g.stride;
  if (s < 1 || g.channels % (s * s) != 0 || g.channels < s * s)
    fail("reorg: ", g.channels, " channels are not a positive multiple of stride^2 = ", s * s);
  const int space_c = g.channels / (s * s);
  const long space_w = long(g.width) * s, space_h = long(g.height) * s;
  const long planes = long(g.batch) * g.channels;
#pragma omp parallel for schedule(static) if (planes * g.height * g.width >= kParallelMin)
  for (long plane = 0; plane < planes; ++plane) {
    const long b = plane / g.channels;
    const int k = int(plane % g.channels);
    const int c2 = k % space_c, offset = k / space_c;
    const long space_plane = (b * space_c + c2) * space_h;
    for (int j = 0; j < g.height; ++j) {
      const long depth_row = (plane * g.height + j) * g.width;
      const long space_row = (space_plane + long(j) * s + offset / s) * space_w + offset % s;
      for (int i = 0; i < g.width; ++i) fn(depth_row + i, space_row + long(i) * s);
    }
  }
}

}  // namespace

void reorg_space_to_depth_reference(const ReorgGeometry& g, const float* space, float* depth,
                                    bool accumulate) {
  if (accumulate)
    for_each_reorg_pair(g, [&](long d, long sp) { depth[d] += space[sp]; });
  else
    for_each_reorg_pair(g, [&](long d, long sp) { depth[d] = space[sp]; });
}

void reorg_depth_to_space_reference(const ReorgGeometry& g, const float* depth, float* space,
                                    bool accumulate) {
  if (accumulate)
    for_each_reorg_pair(g, [&](long d, long sp) { space[sp] += depth[d]; });
  else
    for_each_reorg_pair(g, [&](long d, long sp) { space[sp] = depth[d]; });
}

}  // namespace mishnet::ops
