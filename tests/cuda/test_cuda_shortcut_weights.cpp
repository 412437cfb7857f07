// The per-thread bodies of the weighted [shortcut]'s device training (kernels/shortcut_weights.h),
// run on the CPU for every index as the kernels launch them (one call per weight group, one
// block of kThreadsPerBlock parts and block_sum's tree per (input, channel), one call per raw
// weight), against ops::shortcut_backward and against an independent double-precision finite
// difference of the loss sum(delta * out) in the raw weights. Needs no device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backend/cuda/launch_geometry.h"
#include "cuda_test_util.h"
#include "kernels/shortcut_weights.h"
#include "ops/shortcut.h"

namespace mishnet {
namespace {

using test::uniform_values;

struct Case {
  ops::ShortcutDesc desc;
  std::vector<float> in, delta, raw;
  std::vector<std::vector<float>> from;

  std::vector<const float*> from_ptrs() const {
    std::vector<const float*> p;
    for (const auto& f : from) p.push_back(f.data());
    return p;
  }
  int groups() const {
    return desc.weights == ops::ShortcutWeights::per_channel ? desc.channels : 1;
  }
};

Case make_case(ops::ShortcutWeights weights, ops::ShortcutNormalization normalization,
               uint32_t seed) {
  Case c;
  ops::ShortcutDesc& d = c.desc;
  d.batch = 3;
  d.channels = 4;
  d.spatial = 5;
  d.from_sizes = {20, 10, 30};  // same size, fewer channels, more channels (Darknet's flat rule)
  d.weights = weights;
  d.normalization = normalization;
  c.in = uniform_values(size_t(d.batch) * 20, seed);
  for (size_t j = 0; j < d.from_sizes.size(); ++j)
    c.from.push_back(
        uniform_values(size_t(d.batch) * size_t(d.from_sizes[j]), seed + 1 + uint32_t(j)));
  c.delta = uniform_values(c.in.size(), seed + 10);
  // Away from relu's kink at 0 and from softmax ties, where finite differences mislead.
  c.raw = uniform_values(d.weights_count(), seed + 11, -1.5f, 1.5f);
  for (float& w : c.raw)
    if (std::fabs(w) < 0.05f) w = 0.3f;
  return c;
}

// The sum of one (input, channel) as a block computes it: thread th's part over positions th,
// th + threads, ..., then block_sum's tree (kernel_util.cuh). threads == 1: the CPU's one sum.
double block_of_parts(const float* delta, const std::vector<const float*>& x,
                      const std::vector<long>& x_size, const ops::ShortcutDesc& d, long t,
                      int threads) {
  std::vector<double> part(static_cast<size_t>(threads));
  for (int th = 0; th < threads; ++th)
    part[size_t(th)] = kernels::shortcut_channel_weight_gradient_at(
        delta, x.data(), x_size.data(), d.batch, d.channels, d.spatial, t, th, threads);
  for (int half = threads / 2; half > 0; half /= 2)
    for (int th = 0; th < half; ++th) part[size_t(th)] += part[size_t(th + half)];
  return part[0];
}

// What the two kernels compute (threads = kThreadsPerBlock; 1: the CPU's order): the effective
// weights per group, then the per-(input, channel) sums, then each raw weight's gradient added
// to d_weights.
std::vector<float> device_bodies_gradient(const Case& c, std::vector<float>* effective_out,
                                          float start, int threads) {
  const ops::ShortcutDesc& d = c.desc;
  const int groups = c.groups(), inputs = d.inputs();
  std::vector<float> effective(d.weights_count());
  for (int g = 0; g < groups; ++g)
    kernels::shortcut_effective_group(d.normalization, c.raw.data(), inputs, groups, g,
                                      effective.data());
  std::vector<const float*> x{c.in.data()};
  std::vector<long> x_size{long(d.channels) * d.spatial};
  for (size_t j = 0; j < c.from.size(); ++j) {
    x.push_back(c.from[j].data());
    x_size.push_back(d.from_sizes[j]);
  }
  std::vector<double> per_channel(size_t(inputs) * size_t(d.channels));
  for (long t = 0; t < long(per_channel.size()); ++t)
    per_channel[size_t(t)] = block_of_parts(c.delta.data(), x, x_size, d, t, threads);
  std::vector<float> d_weights(d.weights_count(), start);
  for (int t = 0; t < int(d_weights.size()); ++t)
    d_weights[size_t(t)] += float(kernels::shortcut_raw_weight_gradient_at(
        d.normalization, c.raw.data(), effective.data(), per_channel.data(), inputs, groups,
        d.channels, t));
  if (effective_out) *effective_out = effective;
  return d_weights;
}

// Independent of the code above: the normalisation and the sum in double.
double loss_in_double(const Case& c, const std::vector<double>& raw) {
  const ops::ShortcutDesc& d = c.desc;
  const int groups = c.groups(), inputs = d.inputs();
  std::vector<double> e(raw.size());
  for (int g = 0; g < groups; ++g) {
    double largest = raw[size_t(g)];
    for (int k = 1; k < inputs; ++k) largest = std::max(largest, raw[size_t(k * groups + g)]);
    double sum = ops::kShortcutNormalizationEpsilon;
    for (int k = 0; k < inputs; ++k) {
      const double w = raw[size_t(k * groups + g)];
      sum += d.normalization == ops::ShortcutNormalization::relu ? std::max(w, 0.0)
                                                                  : std::exp(w - largest);
    }
    for (int k = 0; k < inputs; ++k) {
      const double w = raw[size_t(k * groups + g)];
      double& out = e[size_t(k * groups + g)];
      switch (d.normalization) {
        case ops::ShortcutNormalization::none: out = w; break;
        case ops::ShortcutNormalization::relu: out = std::max(w, 0.0) / sum; break;
        case ops::ShortcutNormalization::softmax: out = std::exp(w - largest) / sum; break;
      }
    }
  }
  const long per_image = long(d.channels) * d.spatial;
  double loss = 0.0;
  for (int b = 0; b < d.batch; ++b)
    for (long i = 0; i < per_image; ++i) {
      const int g = groups == 1 ? 0 : int(i / d.spatial);
      double out = e[size_t(g)] * c.in[size_t(b * per_image + i)];
      for (size_t j = 0; j < c.from.size(); ++j) {
        const long size = d.from_sizes[j];
        if (i < size) out += e[(j + 1) * size_t(groups) + size_t(g)] * c.from[j][size_t(b * size + i)];
      }
      loss += c.delta[size_t(b * per_image + i)] * out;
    }
  return loss;
}

const ops::ShortcutWeights kWeights[] = {ops::ShortcutWeights::per_feature,
                                         ops::ShortcutWeights::per_channel};
const ops::ShortcutNormalization kNormalizations[] = {ops::ShortcutNormalization::none,
                                                      ops::ShortcutNormalization::relu,
                                                      ops::ShortcutNormalization::softmax};

std::string name(ops::ShortcutWeights w, ops::ShortcutNormalization n) {
  return std::string(w == ops::ShortcutWeights::per_feature ? "per_feature" : "per_channel") +
         " / " +
         (n == ops::ShortcutNormalization::none   ? "none"
          : n == ops::ShortcutNormalization::relu ? "relu"
                                                  : "softmax");
}

// The CPU backward sums each (input, channel) in one pass: the bodies in that order give its
// numbers to the bit; the device's blocks (the same double terms, another order of additions)
// to float rounding.
TEST(CudaGather, ShortcutWeightBodiesMatchTheCpuBackward) {
  uint32_t seed = 300;
  for (auto w : kWeights)
    for (auto n : kNormalizations) {
      SCOPED_TRACE(name(w, n));
      const Case c = make_case(w, n, seed += 20);
      std::vector<float> want(c.raw.size(), 0.25f);
      ops::shortcut_backward(c.desc, c.delta.data(), c.in.data(), c.from_ptrs().data(),
                             c.raw.data(), nullptr, nullptr, want.data());
      std::vector<float> effective;
      EXPECT_EQ(device_bodies_gradient(c, &effective, 0.25f, 1), want);
      EXPECT_EQ(effective, ops::shortcut_effective_weights(c.desc, c.raw.data()));
      test::expect_close(device_bodies_gradient(c, nullptr, 0.25f, cuda::kThreadsPerBlock), want,
                         1e-6f, 1e-7f, "blocks");
    }
}

// Against central differences of the loss in double (step 1e-4: truncation error ~1e-8).
TEST(CudaGather, ShortcutWeightBodiesAreTheGradientOfTheLoss) {
  uint32_t seed = 500;
  for (auto w : kWeights)
    for (auto n : kNormalizations) {
      SCOPED_TRACE(name(w, n));
      const Case c = make_case(w, n, seed += 20);
      const std::vector<float> got =
          device_bodies_gradient(c, nullptr, 0.0f, cuda::kThreadsPerBlock);
      const std::vector<double> raw(c.raw.begin(), c.raw.end());
      double scale = 0.0;
      std::vector<double> want(raw.size());
      for (size_t k = 0; k < raw.size(); ++k) {
        const double h = 1e-4;
        std::vector<double> plus = raw, minus = raw;
        plus[k] += h;
        minus[k] -= h;
        want[k] = (loss_in_double(c, plus) - loss_in_double(c, minus)) / (2 * h);
        scale = std::max(scale, std::fabs(want[k]));
      }
      ASSERT_GT(scale, 0.1);
      for (size_t k = 0; k < raw.size(); ++k)
        EXPECT_NEAR(got[k], want[k], 1e-5 * scale + 1e-6) << "weight " << k;
    }
}

}  // namespace
}  // namespace mishnet
