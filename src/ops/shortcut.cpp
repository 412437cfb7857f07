// Reference shortcut sum and its backward (Darknet's shortcut_multilayer_cpu semantics).
#include "ops/shortcut.h"

#include "kernels/shortcut_weights.h"
#include "ops/parallel_threshold.h"

namespace mishnet::ops {

namespace {

int weight_groups(const ShortcutDesc& d) {
  return d.weights == ShortcutWeights::per_channel ? d.channels : 1;
}

}  // namespace

std::vector<float> shortcut_effective_weights(const ShortcutDesc& d, const float* weights) {
  std::vector<float> effective(d.weights_count());
  if (effective.empty()) return effective;
  const int groups = weight_groups(d);
  for (int g = 0; g < groups; ++g)
    kernels::shortcut_effective_group(d.normalization, weights, d.inputs(), groups, g,
                                      effective.data());
  return effective;
}

void shortcut_forward(const ShortcutDesc& d, const float* in, const float* const* from,
                      const float* weights, float* out) {
  const std::vector<float> ew = shortcut_effective_weights(d, weights);
  const bool weighted = !ew.empty();
  const int groups = weight_groups(d), n = d.inputs() - 1;
  const long per_image = long(d.channels) * d.spatial;
  const long planes = long(d.batch) * d.channels;
  const long work = planes * d.spatial * d.inputs();
#pragma omp parallel for schedule(static) if (work >= kParallelMinWork)
  for (long plane = 0; plane < planes; ++plane) {
    const long b = plane / d.channels, c = plane % d.channels;
    const int g = groups == 1 ? 0 : int(c);
    for (long p = 0; p < d.spatial; ++p) {
      const long i = c * d.spatial + p;
      float v = in[b * per_image + i];
      if (weighted) v *= ew[size_t(g)];
      for (int j = 0; j < n; ++j) {
        const long size = d.from_sizes[size_t(j)];
        if (i >= size) continue;
        const float a = from[j][b * size + i];
        v += weighted ? a * ew[size_t(j + 1) * groups + g] : a;
      }
      out[b * per_image + i] = v;
    }
  }
}

void shortcut_backward(const ShortcutDesc& d, const float* delta, const float* in,
                       const float* const* from, const float* weights, float* d_in,
                       float* const* d_from, float* d_weights) {
  const std::vector<float> ew = shortcut_effective_weights(d, weights);
  const bool weighted = !ew.empty();
  const int groups = weight_groups(d), n = d.inputs() - 1;
  const long per_image = long(d.channels) * d.spatial;

  // Gradients of the inputs. A from_j element feeds exactly one output element per image,
  // so threads over (image, channel) never collide.
  const long planes = long(d.batch) * d.channels;
  const long work = planes * d.spatial * d.inputs();
#pragma omp parallel for schedule(static) if (work >= kParallelMinWork)
  for (long plane = 0; plane < planes; ++plane) {
    const long b = plane / d.channels, c = plane % d.channels;
    const int g = groups == 1 ? 0 : int(c);
    for (long p = 0; p < d.spatial; ++p) {
      const long i = c * d.spatial + p;
      const float dv = delta[b * per_image + i];
      if (d_in) d_in[b * per_image + i] += weighted ? dv * ew[size_t(g)] : dv;
      for (int j = 0; j < n; ++j) {
        const long size = d.from_sizes[size_t(j)];
        if (i >= size || !d_from || !d_from[j]) continue;
        d_from[j][b * size + i] += weighted ? dv * ew[size_t(j + 1) * groups + g] : dv;
      }
    }
  }
  if (!weighted || !d_weights) return;

  // dL/d(effective weight) per input and channel (kernels/shortcut_weights.h), then per raw
  // weight through the normalisation: the two steps of the CUDA kernels.
  const int inputs = d.inputs();
  std::vector<const float*> x{in};
  std::vector<long> x_size{per_image};
  for (int j = 0; j < n; ++j) {
    x.push_back(from[j]);
    x_size.push_back(d.from_sizes[size_t(j)]);
  }
  std::vector<double> per_channel(size_t(inputs) * d.channels, 0.0);
  const long weight_work = long(d.batch) * d.channels * d.spatial * inputs;
#pragma omp parallel for schedule(static) if (weight_work >= kParallelMinWork)
  for (long t = 0; t < long(per_channel.size()); ++t)
    per_channel[size_t(t)] = kernels::shortcut_channel_weight_gradient_at(
        delta, x.data(), x_size.data(), d.batch, d.channels, d.spatial, t);
  for (int t = 0; t < int(d.weights_count()); ++t)
    d_weights[t] += float(kernels::shortcut_raw_weight_gradient_at(
        d.normalization, weights, ew.data(), per_channel.data(), inputs, groups, d.channels, t));
}

}  // namespace mishnet::ops
