// oneDNN eltwise against kernels::activate: which activations oneDNN may compute, and that the
// dispatching ops::activate matches the reference for every activation.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "backend/dnnl/dnnl_eltwise.h"
#include "kernels/activations.h"
#include "ops/activation_op.h"
#include "test_util.h"

namespace mishnet {
namespace {

std::vector<float> random_values(size_t n, std::mt19937_64& rng) {
  // Mostly where conv outputs live, plus a tail of large magnitudes.
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::uniform_real_distribution<float> wide(-200.0f, 200.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i % 16 == 0 ? wide(rng) : normal(rng);
  return v;
}

TEST(DnnlActivation, SweepErrorsOfTheActivationsOneDnnHas) {
  for (int i = 0; i < int(Activation::count); ++i) {
    auto a = Activation(i);
    if (!dnnl_backend::eltwise_chain(a)) continue;
    double e = dnnl_backend::eltwise_sweep_error(a);
    std::printf("  %-20s max error %.3g  %s\n", activation_name(a), e,
                dnnl_backend::eltwise_usable(a) ? "oneDNN" : "reference");
  }
  // Exact in oneDNN: a comparison and one multiplication.
  for (Activation a : {Activation::linear, Activation::leaky, Activation::relie})
    EXPECT_TRUE(dnnl_backend::eltwise_usable(a)) << activation_name(a);
  EXPECT_FALSE(dnnl_backend::eltwise_usable(Activation::hard_mish)) << "oneDNN has no hard_mish";
  // oneDNN's relu (alpha 0) and clip are max/min instructions, which turn NaN into the bound;
  // the reference lets NaN through so that a diverging network shows it.
  for (Activation a : {Activation::relu, Activation::relu6, Activation::hardtan})
    EXPECT_TRUE(std::isinf(dnnl_backend::eltwise_sweep_error(a))) << activation_name(a);
}

TEST(DnnlActivation, EltwiseForwardMatchesReferenceWhereUsable) {
  std::mt19937_64 rng(test::test_seed());
  const std::vector<float> x = random_values(4099, rng);  // odd size: the vector tail
  for (int i = 0; i < int(Activation::count); ++i) {
    auto a = Activation(i);
    if (!activation_is_elementwise(a)) continue;
    std::vector<float> y = x;
    if (!dnnl_backend::eltwise_forward(a, y.data(), y.size())) {
      EXPECT_EQ(y, x) << activation_name(a) << ": refused, so it must not touch the data";
      continue;
    }
    // Tolerance: the one the sweep check uses, |dnnl − ref| <= 1e-6·max(1, |ref|).
    for (size_t k = 0; k < x.size(); ++k) {
      float ref = kernels::activate(a, x[k]);
      ASSERT_LE(std::fabs(double(y[k]) - ref),
                dnnl_backend::kEltwiseTolerance * std::max(1.0, std::fabs(double(ref))))
          << activation_name(a) << " at x = " << x[k];
    }
  }
}

TEST(DnnlActivation, OpsActivateMatchesReferenceForEveryActivation) {
  std::mt19937_64 rng(test::test_seed() + 1);
  const std::vector<float> x = random_values(2 * 3 * 5 * 7, rng);
  for (int i = 0; i < int(Activation::count); ++i) {
    auto a = Activation(i);
    std::vector<float> fast = x, ref = x;
    ops::activate(a, Tensor{fast.data(), Shape{2, 3, 5, 7}});
    ops::activate_reference(a, Tensor{ref.data(), Shape{2, 3, 5, 7}});
    for (size_t k = 0; k < x.size(); ++k) {
      if (std::isnan(ref[k])) {
        EXPECT_TRUE(std::isnan(fast[k])) << activation_name(a) << " at x = " << x[k];
        continue;
      }
      ASSERT_LE(std::fabs(double(fast[k]) - ref[k]),
                dnnl_backend::kEltwiseTolerance * std::max(1.0, std::fabs(double(ref[k]))))
          << activation_name(a) << " at x = " << x[k];
    }
  }
}

}  // namespace
}  // namespace mishnet
