// Reference shortcut sum and its backward (Darknet's shortcut_multilayer_cpu semantics).
#include "ops/shortcut.h"

#include <math.h>

#include <cfloat>

#include "ops/parallel_threshold.h"

namespace mishnet::ops {

namespace {

int weight_groups(const ShortcutDesc& d) {
  return d.weights == ShortcutWeights::per_channel ? d.channels : 1;
}

// Index of the first maximum of the raw weights of group g (Darknet keeps the first).
int first_max(const ShortcutDesc& d, const float* weights, int g) {
  const int groups = weight_groups(d);
  int best = 0;
  for (int k = 1; k < d.inputs(); ++k)
    if (weights[k * groups + g] > weights[best * groups + g]) best = k;
  return best;
}

// Normaliser of group g: eps + sum of relu(w) or of e^(w - max).
float normaliser(const ShortcutDesc& d, const float* weights, int g) {
  const int groups = weight_groups(d);
  float sum = kShortcutNormalizationEpsilon;
  const float m = weights[first_max(d, weights, g) * groups + g];
  for (int k = 0; k < d.inputs(); ++k) {
    const float w = weights[k * groups + g];
    if (d.normalization == ShortcutNormalization::relu)
      sum += w > 0.0f ? w : 0.0f;
    else
      sum += expf(w - m);
  }
  return sum;
}

}  // namespace

std::vector<float> shortcut_effective_weights(const ShortcutDesc& d, const float* weights) {
  std::vector<float> effective(d.weights_count());
  if (effective.empty()) return effective;
  const int groups = weight_groups(d);
  for (int g = 0; g < groups; ++g) {
    const float sum =
        d.normalization == ShortcutNormalization::none ? 1.0f : normaliser(d, weights, g);
    const float m = weights[first_max(d, weights, g) * groups + g];
    for (int k = 0; k < d.inputs(); ++k) {
      const float w = weights[k * groups + g];
      float& e = effective[size_t(k) * groups + g];
      switch (d.normalization) {
        case ShortcutNormalization::none:
          e = w;
          break;
        case ShortcutNormalization::relu:
          e = (w > 0.0f ? w : 0.0f) / sum;
          break;
        case ShortcutNormalization::softmax:
          e = expf(w - m) / sum;
          break;
      }
    }
  }
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

  // dL/d(effective weight) per input and channel, in double: a sum over batch and pixels.
  std::vector<double> grad_effective_per_channel(size_t(d.inputs()) * d.channels, 0.0);
  const long weight_work = long(d.batch) * d.channels * d.spatial * d.inputs();
#pragma omp parallel for schedule(static) if (weight_work >= kParallelMinWork)
  for (int c = 0; c < d.channels; ++c)
    for (int b = 0; b < d.batch; ++b)
      for (long p = 0; p < d.spatial; ++p) {
        const long i = long(c) * d.spatial + p;
        const double dv = delta[b * per_image + i];
        grad_effective_per_channel[size_t(c)] += dv * in[b * per_image + i];
        for (int j = 0; j < n; ++j) {
          const long size = d.from_sizes[size_t(j)];
          if (i < size)
            grad_effective_per_channel[size_t(j + 1) * d.channels + c] +=
                dv * from[j][b * size + i];
        }
      }
  std::vector<double> ge(d.weights_count(), 0.0);  // per weight group
  for (int k = 0; k < d.inputs(); ++k)
    for (int c = 0; c < d.channels; ++c)
      ge[size_t(k) * groups + (groups == 1 ? 0 : c)] +=
          grad_effective_per_channel[size_t(k) * d.channels + c];

  for (int g = 0; g < groups; ++g) {
    if (d.normalization == ShortcutNormalization::none) {
      for (int k = 0; k < d.inputs(); ++k)
        d_weights[k * groups + g] += float(ge[size_t(k) * groups + g]);
      continue;
    }
    // e_k = f(w_k) / S with S = eps + sum f(w): de_k/dw_m = f'(w_m)/S (δ_km - e_k) for relu;
    // for softmax f' = f, and S = e^-max (eps e^max + sum e^w) adds -e_k eps/S at the max.
    double dot = 0.0;  // sum_k dL/de_k * e_k
    for (int k = 0; k < d.inputs(); ++k)
      dot += ge[size_t(k) * groups + g] * ew[size_t(k) * groups + g];
    const double sum = normaliser(d, weights, g);
    const int arg_max = first_max(d, weights, g);
    for (int m = 0; m < d.inputs(); ++m) {
      const size_t at = size_t(m) * groups + g;
      double grad;
      if (d.normalization == ShortcutNormalization::relu) {
        grad = weights[at] > 0.0f ? (ge[at] - dot) / sum : 0.0;
      } else {
        grad = ew[at] * (ge[at] - dot);
        if (m == arg_max) grad -= kShortcutNormalizationEpsilon / sum * dot;
      }
      d_weights[at] += float(grad);
    }
  }
}

}  // namespace mishnet::ops
