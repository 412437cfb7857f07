// The oneDNN inner product against the double-accumulating reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/inner_product.h"
#include "test_util.h"

namespace mishnet {
namespace {

// float accumulation in a different order: |error| <= 1e-5 * (sum |x*w| + |bias|) + 1e-6.
void expect_matches_reference(std::mt19937_64& rng, const ops::InnerProductDesc& d, bool bias) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> src(size_t(d.batch) * d.inputs), w(d.weights_count()), b(d.outputs);
  for (float& v : src) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : b) v = u(rng);
  auto op = ops::make_inner_product(d, BackendKind::cpu);
  ASSERT_STREQ(op->impl_name(), "onednn");
  // Weights set twice: the second set_weights must replace the first.
  std::vector<float> stale(w.size(), 7.0f);
  op->set_weights(stale.data(), b.data());
  op->set_weights(w.data(), bias ? b.data() : nullptr);
  std::vector<float> got(size_t(d.batch) * d.outputs, NAN), want(got.size());
  op->forward(src.data(), got.data());
  ops::inner_product_reference(d, src.data(), w.data(), bias ? b.data() : nullptr, want.data());
  for (int n = 0; n < d.batch; ++n)
    for (int o = 0; o < d.outputs; ++o) {
      double mag = bias ? std::fabs(b[o]) : 0.0;
      for (int i = 0; i < d.inputs; ++i)
        mag += std::fabs(double(src[size_t(n) * d.inputs + i]) * w[size_t(o) * d.inputs + i]);
      const size_t k = size_t(n) * d.outputs + o;
      ASSERT_NEAR(got[k], want[k], 1e-5 * mag + 1e-6)
          << "batch " << d.batch << " inputs " << d.inputs << " outputs " << d.outputs
          << " at image " << n << " output " << o;
    }
}

TEST(InnerProductDnnl, MatchesReferenceOnRandomShapes) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_int_distribution<int> batch(1, 5), inputs(1, 700), outputs(1, 300);
  for (int trial = 0; trial < 12; ++trial) {
    ops::InnerProductDesc d{batch(rng), inputs(rng), outputs(rng)};
    expect_matches_reference(rng, d, trial % 3 != 0);
  }
}

TEST(InnerProductDnnl, MatchesReferenceOnDegenerateShapes) {
  std::mt19937_64 rng(test::test_seed() + 1);
  expect_matches_reference(rng, {1, 1, 1}, true);
  expect_matches_reference(rng, {3, 1, 17}, false);
  expect_matches_reference(rng, {2, 4096, 1}, true);
}

TEST(InnerProductDnnl, ReferenceBackendStaysReference) {
  auto op = ops::make_inner_product({1, 8, 4}, BackendKind::reference);
  EXPECT_STREQ(op->impl_name(), "reference");
}

}  // namespace
}  // namespace mishnet
