// The learned weights of a weighted [shortcut] (ops/shortcut.h), for host and device: the
// normalisation across the inputs and the weights' gradient, written once so that
// ops::shortcut_forward/shortcut_backward and the CUDA kernels compute the same numbers.
//
// Weights are input-major: weight (k, g) of input k and group g is at k * groups + g, with one
// group (per_feature) or one per channel (per_channel); input 0 is the previous layer, input
// k > 0 is from_(k-1). The gradient goes in two gathered steps (no atomics): per (input k,
// channel c), the sum over the batch and pixels of delta * input_k (dL/d(effective weight) of
// that channel, in double; one call per index on the CPU, one block per index on the GPU); then
// per raw weight (one call / one thread each), the sum of those over its group's channels and
// the derivative of the normalisation.
#pragma once
#include <math.h>

#include "kernels/host_device.h"
#include "ops/shortcut.h"

namespace mishnet::kernels {

// Index of the first maximum of group g's raw weights (Darknet keeps the first).
MISHNET_HD int shortcut_first_max(const float* raw, int inputs, int groups, int g) {
  int best = 0;
  for (int k = 1; k < inputs; ++k)
    if (raw[k * groups + g] > raw[best * groups + g]) best = k;
  return best;
}

// Normaliser of group g: eps + sum of relu(w), or eps + sum of e^(w - max).
MISHNET_HD float shortcut_normaliser(ops::ShortcutNormalization normalization, const float* raw,
                                     int inputs, int groups, int g) {
  float sum = ops::kShortcutNormalizationEpsilon;
  const float m = raw[shortcut_first_max(raw, inputs, groups, g) * groups + g];
  for (int k = 0; k < inputs; ++k) {
    const float w = raw[k * groups + g];
    if (normalization == ops::ShortcutNormalization::relu)
      sum += w > 0.0f ? w : 0.0f;
    else
      sum += expf(w - m);
  }
  return sum;
}

// The effective weights of group g (its `inputs` entries of `effective`) from the raw ones.
MISHNET_HD void shortcut_effective_group(ops::ShortcutNormalization normalization,
                                         const float* raw, int inputs, int groups, int g,
                                         float* effective) {
  const float sum = normalization == ops::ShortcutNormalization::none
                        ? 1.0f
                        : shortcut_normaliser(normalization, raw, inputs, groups, g);
  const float m = raw[shortcut_first_max(raw, inputs, groups, g) * groups + g];
  for (int k = 0; k < inputs; ++k) {
    const float w = raw[k * groups + g];
    float& e = effective[k * groups + g];
    switch (normalization) {
      case ops::ShortcutNormalization::none:
        e = w;
        break;
      case ops::ShortcutNormalization::relu:
        e = (w > 0.0f ? w : 0.0f) / sum;
        break;
      case ops::ShortcutNormalization::softmax:
        e = expf(w - m) / sum;
        break;
    }
  }
}

// dL/d(effective weight of input x at channel c), or the part of it a thread of a block sums:
// the sum over images b and pixels p of delta[b][c][p] * x[b][c][p] in double, over the
// positions e = b * spatial + p = first, first + step, ... (first 0, step 1: all, in the order
// (image, pixel)). x holds `x_size` floats per image (Darknet's flat rule: element
// i = c * spatial + p exists only when i < x_size); delta holds channels * spatial per image.
MISHNET_HD double shortcut_channel_weight_gradient(const float* delta, const float* x,
                                                   long x_size, int batch, int channels,
                                                   int spatial, int c, long first = 0,
                                                   long step = 1) {
  const long per_image = long(channels) * spatial;
  const long positions = long(batch) * spatial;
  double sum = 0.0;
  for (long e = first; e < positions; e += step) {
    const long b = e / spatial, i = long(c) * spatial + e % spatial;
    if (i < x_size) sum += double(delta[b * per_image + i]) * x[b * x_size + i];
  }
  return sum;
}

// Step 1 for index t = k * channels + c (x[k] holds x_size[k] floats per image); the CPU sums
// all positions, a GPU block one call per thread (first = thread, step = block size) and then
// adds the threads' parts in a fixed tree.
MISHNET_HD double shortcut_channel_weight_gradient_at(const float* delta, const float* const* x,
                                                      const long* x_size, int batch,
                                                      int channels, int spatial, long t,
                                                      long first = 0, long step = 1) {
  const long k = t / channels;
  return shortcut_channel_weight_gradient(delta, x[k], x_size[k], batch, channels, spatial,
                                          int(t % channels), first, step);
}

// dL/d(effective weight (k, g)): the per-channel sums of its group's channels, in channel order.
MISHNET_HD double shortcut_group_weight_gradient(const double* per_channel, int channels,
                                                 int groups, int k, int g) {
  if (groups != 1) return per_channel[k * channels + g];
  double sum = 0.0;
  for (int c = 0; c < channels; ++c) sum += per_channel[k * channels + c];
  return sum;
}

// dL/d(raw weight (m, g)) from the per-channel sums (inputs x channels, as above), the raw and
// the effective weights. e_k = f(w_k) / S with S = eps + sum f(w): de_k/dw_m = f'(w_m)/S
// (δ_km - e_k) for relu; for softmax f' = f, and S = e^-max (eps e^max + sum e^w) adds
// -e_k eps/S at the max.
MISHNET_HD double shortcut_raw_weight_gradient(ops::ShortcutNormalization normalization,
                                               const float* raw, const float* effective,
                                               const double* per_channel, int inputs,
                                               int groups, int channels, int m, int g) {
  const int at = m * groups + g;
  const double own = shortcut_group_weight_gradient(per_channel, channels, groups, m, g);
  if (normalization == ops::ShortcutNormalization::none) return own;
  double dot = 0.0;  // sum_k dL/de_k * e_k
  for (int k = 0; k < inputs; ++k)
    dot += shortcut_group_weight_gradient(per_channel, channels, groups, k, g) *
           effective[k * groups + g];
  const double sum = shortcut_normaliser(normalization, raw, inputs, groups, g);
  if (normalization == ops::ShortcutNormalization::relu)
    return raw[at] > 0.0f ? (own - dot) / sum : 0.0;
  double grad = effective[at] * (own - dot);
  if (m == shortcut_first_max(raw, inputs, groups, g))
    grad -= ops::kShortcutNormalizationEpsilon / sum * dot;
  return grad;
}

// Step 2 for index t = m * groups + g (the raw weight's own index).
MISHNET_HD double shortcut_raw_weight_gradient_at(ops::ShortcutNormalization normalization,
                                                  const float* raw, const float* effective,
                                                  const double* per_channel, int inputs,
                                                  int groups, int channels, int t) {
  return shortcut_raw_weight_gradient(normalization, raw, effective, per_channel, inputs, groups,
                                      channels, t / groups, t % groups);
}

}  // namespace mishnet::kernels
