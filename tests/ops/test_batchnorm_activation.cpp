// The fused CPU batch norm + activation (ops/batchnorm_activation.h) against the reference ops
// it replaces, and the vectorisable e^x / Mish of ops/vector_math.h against libm.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/activations.h"
#include "ops/activation_op.h"
#include "ops/batchnorm_activation.h"
#include "ops/batchnorm_training.h"
#include "ops/vector_math.h"
#include "test_util.h"

namespace mishnet {
namespace {

// Distance in units in the last place between two floats of the same sign.
double ulps(float a, float b) {
  if (a == b) return 0;
  return std::fabs(double(a) - double(b)) /
         double(std::nextafter(std::fabs(b), INFINITY) - std::fabs(b));
}

TEST(VectorMath, ExpWithinTwoUlpOfLibm) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) worst = std::max(worst, ulps(ops::vec::exp(x), std::exp(x)));
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(ops::vec::exp(0.0f), 1.0f);
  EXPECT_GT(ops::vec::exp(-1000.0f), 0.0f);  // clamped, never NaN
  EXPECT_TRUE(std::isfinite(ops::vec::exp(1000.0f)));
}

TEST(VectorMath, MishAndGradientMatchTheReference) {
  double worst_value = 0, worst_gradient = 0;
  for (float x = -120.0f; x <= 40.0f; x += 0.00731f) {
    const float ref = kernels::mish(x), v = ops::vec::mish(x);
    if (x > -80.0f) worst_value = std::max(worst_value, ulps(v, ref));
    else EXPECT_LT(std::fabs(v - ref), 1e-33f) << x;
    const float g_ref = kernels::mish_gradient(x), g = ops::vec::mish_gradient(x);
    EXPECT_LE(std::fabs(g - g_ref), 4e-7f * std::max(1.0f, std::fabs(g_ref))) << x;
    if (std::fabs(g_ref) > 0.1f) worst_gradient = std::max(worst_gradient, ulps(g, g_ref));
  }
  EXPECT_LE(worst_value, 6.0);
  EXPECT_LE(worst_gradient, 16.0);  // the sum t + 4xe(1+e)/d² loses a few bits to cancellation
}

struct Case {
  Activation activation;
  Shape shape;
};

class FusedBatchNorm : public ::testing::TestWithParam<Case> {};

TEST_P(FusedBatchNorm, MatchesReferenceForwardAndBackward) {
  const Case c = GetParam();
  const Shape s = c.shape;
  std::mt19937_64 rng(test::test_seed());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(s.size()), dy(s.size()), scales(size_t(s.c)), biases(size_t(s.c));
  for (auto& v : x) v = 3.0f * normal(rng) + 0.5f;
  for (auto& v : dy) v = normal(rng);
  // Large scales push pre-activations far into both tails.
  for (auto& v : scales) v = 8.0f * normal(rng);
  for (auto& v : biases) v = 2.0f * normal(rng);
  const size_t n = s.size();

  // Reference: batch norm, then the activation, then their backward ops.
  std::vector<float> mean_r(size_t(s.c)), var_r(size_t(s.c)), xh_r(n), y_r(n);
  std::vector<float> rm_r(size_t(s.c), 0.1f), rv_r(size_t(s.c), 2.0f);
  ops::BatchNormBuffers buf_r{mean_r.data(), var_r.data(), xh_r.data()};
  ops::batchnorm_train_forward_reference(Tensor{x.data(), s}, scales.data(), biases.data(),
                                         rm_r.data(), rv_r.data(), 0.01f, buf_r, y_r.data());
  ops::activate_reference(c.activation, Tensor{y_r.data(), s});
  std::vector<float> d_r = dy, ds_r(size_t(s.c), 0.5f), db_r(size_t(s.c), 0.25f);
  ops::activation_backward_from_batchnorm_reference(c.activation, s, d_r.data(), xh_r.data(),
                                                    scales.data(), biases.data(), y_r.data());
  ops::batchnorm_backward_reference(s, d_r.data(), scales.data(), buf_r, ds_r.data(), db_r.data(),
                                    d_r.data());

  // Fused.
  std::vector<float> mean_f(size_t(s.c)), var_f(size_t(s.c)), xh_f(n), y_f(n);
  std::vector<float> rm_f(size_t(s.c), 0.1f), rv_f(size_t(s.c), 2.0f);
  ops::BatchNormBuffers buf_f{mean_f.data(), var_f.data(), xh_f.data()};
  ops::batchnorm_activation_train_forward(c.activation, Tensor{x.data(), s}, scales.data(),
                                          biases.data(), rm_f.data(), rv_f.data(), 0.01f, buf_f,
                                          y_f.data());
  std::vector<float> d_f = dy, ds_f(size_t(s.c), 0.5f), db_f(size_t(s.c), 0.25f);
  ops::batchnorm_activation_backward(c.activation, s, d_f.data(), scales.data(), biases.data(),
                                     buf_f, ds_f.data(), db_f.data());

  EXPECT_EQ(mean_f, mean_r);
  EXPECT_EQ(var_f, var_r);
  EXPECT_EQ(rm_f, rm_r);
  EXPECT_EQ(rv_f, rv_r);
  EXPECT_EQ(xh_f, xh_r);
  auto max_abs = [](const std::vector<float>& v) {
    float m = 0;
    for (float e : v) m = std::max(m, std::fabs(e));
    return m;
  };
  const float y_scale = max_abs(y_r), d_scale = max_abs(d_r);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_NEAR(y_f[i], y_r[i], 2e-6f * std::max(1.0f, std::fabs(y_r[i]))) << i;
    ASSERT_NEAR(d_f[i], d_r[i], 1e-5f * d_scale) << i;
  }
  (void)y_scale;
  // The parameter gradients are sums over n·h·w terms of either sign: a few ulp per term may
  // add up, so the bound scales with the sum of the terms' magnitudes.
  const size_t hw = size_t(s.h) * size_t(s.w);
  for (int ch = 0; ch < s.c; ++ch) {
    double magnitude = 0, magnitude_xh = 0;
    for (int b = 0; b < s.n; ++b)
      for (size_t i = 0; i < hw; ++i) {
        const size_t k = (size_t(b) * s.c + size_t(ch)) * hw + i;
        magnitude += std::fabs(dy[k]);
        magnitude_xh += std::fabs(dy[k] * xh_r[k]);
      }
    EXPECT_NEAR(ds_f[size_t(ch)], ds_r[size_t(ch)], 1e-6 + 4e-6 * magnitude_xh) << ch;
    EXPECT_NEAR(db_f[size_t(ch)], db_r[size_t(ch)], 1e-6 + 4e-6 * magnitude) << ch;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Activations, FusedBatchNorm,
    ::testing::Values(Case{Activation::mish, Shape{3, 5, 17, 13}},
                      Case{Activation::mish, Shape{8, 32, 64, 64}},  // parallel path
                      Case{Activation::swish, Shape{3, 5, 17, 13}},
                      Case{Activation::leaky, Shape{2, 7, 9, 11}},
                      Case{Activation::relu, Shape{2, 7, 9, 11}},
                      Case{Activation::logistic, Shape{2, 6, 8, 8}},
                      Case{Activation::linear, Shape{2, 4, 5, 5}}),
    [](const auto& info) {
      return std::string(activation_name(info.param.activation)) + "_" +
             std::to_string(info.index);
    });

TEST(FusedBatchNorm, RejectsActivationsItCannotFuse) {
  EXPECT_FALSE(ops::batchnorm_activation_fusable(Activation::gelu));
  EXPECT_TRUE(ops::batchnorm_activation_fusable(Activation::mish));
}

}  // namespace
}  // namespace mishnet
