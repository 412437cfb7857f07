// Darknet's [shortcut] sum: out = w_0 * in + sum_j w_(j+1) * from_j, optionally with learned
// weights (one per input, or one per input and channel) normalised across the inputs.
// Plain reference implementations; backward passes ADD into their outputs.
//
// Inputs of other shapes follow Darknet's rule (blas.c shortcut_multilayer_cpu): element i of an
// image (flat CHW index) adds from_j's element i when i < from_j's per-image size, so a `from`
// with fewer channels but the same width and height adds into the first channels, one with more
// channels contributes its first ones, and one of another width/height mixes flat positions.
#pragma once
#include <cstddef>
#include <vector>

namespace mishnet::ops {

enum class ShortcutWeights { none, per_feature, per_channel };
enum class ShortcutNormalization { none, relu, softmax };

struct ShortcutDesc {
  int batch = 1;
  int channels = 0;             // of `in` and `out`
  int spatial = 0;              // h * w of `in` and `out`
  std::vector<int> from_sizes;  // per-image element count of each from_j
  ShortcutWeights weights = ShortcutWeights::none;
  ShortcutNormalization normalization = ShortcutNormalization::none;

  int inputs() const { return int(from_sizes.size()) + 1; }
  // Darknet's .weights layout: input-major, [input][channel] for per_channel.
  size_t weights_count() const {
    switch (weights) {
      case ShortcutWeights::per_feature:
        return size_t(inputs());
      case ShortcutWeights::per_channel:
        return size_t(inputs()) * size_t(channels);
      default:
        return 0;
    }
  }
};

// Darknet's epsilon in the denominator of both normalisations.
constexpr float kShortcutNormalizationEpsilon = 0.0001f;

// The effective (normalised) weights, same layout as the raw ones; empty when weights == none.
std::vector<float> shortcut_effective_weights(const ShortcutDesc& d, const float* weights);

// from[j] points at batch images of from_sizes[j] floats. weights: weights_count() raw values
// (null when none).
void shortcut_forward(const ShortcutDesc& d, const float* in, const float* const* from,
                      const float* weights, float* out);

// delta = dL/d(out). Adds dL/d(in) into d_in, dL/d(from_j) into d_from[j] and dL/d(raw weights)
// into d_weights; any of them (or an entry of d_from) may be null. The weight gradient is
// the exact one, through the normalisation.
void shortcut_backward(const ShortcutDesc& d, const float* delta, const float* in,
                       const float* const* from, const float* weights, float* d_in,
                       float* const* d_from, float* d_weights);

}  // namespace mishnet::ops
