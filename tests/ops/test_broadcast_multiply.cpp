// ops/broadcast_multiply.h: the three broadcasts against direct indexing, and the backward
// (which ADDS) against the exact adjoint on random shapes.
#include <random>
#include <vector>

#include "ops/broadcast_multiply.h"
#include "test_util.h"

namespace mishnet {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

size_t factor_count(const Shape& s, ops::Broadcast mode) {
  switch (mode) {
    case ops::Broadcast::per_channel:
      return size_t(s.n) * size_t(s.c);
    case ops::Broadcast::per_position:
      return size_t(s.n) * size_t(s.h) * size_t(s.w);
    case ops::Broadcast::elementwise:
      break;
  }
  return s.size();
}

size_t factor_of(const Shape& s, ops::Broadcast mode, int b, int c, int p) {
  const size_t hw = size_t(s.h) * size_t(s.w);
  switch (mode) {
    case ops::Broadcast::per_channel:
      return size_t(b) * size_t(s.c) + size_t(c);
    case ops::Broadcast::per_position:
      return size_t(b) * hw + size_t(p);
    case ops::Broadcast::elementwise:
      break;
  }
  return (size_t(b) * size_t(s.c) + size_t(c)) * hw + size_t(p);
}

// The product is bilinear, so its gradients are exact: dx = dy*s, ds = sum dy*x (tolerance
// 1e-5 for float sums of a few dozen terms).
TEST(BroadcastMultiplyOp, ForwardAndBackwardMatchDirectIndexing) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_int_distribution<int> dim(1, 5);
  for (int trial = 0; trial < 20; ++trial) {
    const Shape s{dim(rng), dim(rng), dim(rng), dim(rng)};
    for (ops::Broadcast mode :
         {ops::Broadcast::elementwise, ops::Broadcast::per_channel, ops::Broadcast::per_position}) {
      std::vector<float> x = random_vector(s.size(), rng);
      std::vector<float> f = random_vector(factor_count(s, mode), rng);
      std::vector<float> dy = random_vector(s.size(), rng);
      std::vector<float> y(s.size());
      ops::broadcast_multiply_reference(Tensor{x.data(), s}, f.data(), mode, y.data());
      // Backward adds: start from non-zero gradients.
      std::vector<float> dx(s.size(), 0.5f), df(f.size(), -0.25f);
      ops::broadcast_multiply_backward_reference(s, mode, dy.data(), x.data(), f.data(), dx.data(),
                                                 df.data());
      std::vector<double> df_expected(f.size(), -0.25);
      const int hw = s.h * s.w;
      for (int b = 0; b < s.n; ++b)
        for (int c = 0; c < s.c; ++c)
          for (int p = 0; p < hw; ++p) {
            const size_t i = (size_t(b) * size_t(s.c) + size_t(c)) * size_t(hw) + size_t(p);
            const size_t k = factor_of(s, mode, b, c, p);
            EXPECT_FLOAT_EQ(y[i], x[i] * f[k]);
            EXPECT_NEAR(dx[i], 0.5 + double(dy[i]) * f[k], 1e-6);
            df_expected[k] += double(dy[i]) * x[i];
          }
      for (size_t k = 0; k < f.size(); ++k) EXPECT_NEAR(df[k], df_expected[k], 1e-5);
      // Null gradients are skipped.
      ops::broadcast_multiply_backward_reference(s, mode, dy.data(), x.data(), f.data(), nullptr,
                                                 nullptr);
    }
  }
}

}  // namespace
}  // namespace mishnet
