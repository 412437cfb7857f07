// Darknet's reorg permutation (blas.c reorg_cpu), the one op behind [reorg] and [reorg3d].
//
// It relates two views of the same c*h*w floats of an image: the "depth" view (c, h, w) and the
// "space" view (c/s^2, h*s, w*s), s = stride:
//   depth[k][j][i] == space[k % c'][j*s + (k / c') / s][i*s + (k / c') % s],  c' = c / s^2.
// Which layer tensor plays which view (and with which dimensions) differs between the layers;
// src/layers/reorg.cpp says how. Both directions are permutations and each is the other's
// inverse, so the backward pass of one is the other.
#pragma once

namespace mishnet::ops {

// Dimensions of the depth view, per image; channels must be a positive multiple of stride^2.
struct ReorgGeometry {
  int batch = 1;
  int channels = 0;
  int height = 0;
  int width = 0;
  int stride = 1;
};

// depth = gather(space). With `accumulate` the result is added to `depth` (backward passes).
void reorg_space_to_depth_reference(const ReorgGeometry& g, const float* space, float* depth,
                                    bool accumulate = false);
// space = scatter(depth), the inverse permutation.
void reorg_depth_to_space_reference(const ReorgGeometry& g, const float* depth, float* space,
                                    bool accumulate = false);

}  // namespace mishnet::ops
