// maxpool2d_forward's 2x2 stride-2 loop against maxpool2d_forward_reference: the same outputs
// and argmax, bit for bit, on every geometry (the fast loop only takes the ones it covers).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "ops/pool2d.h"
#include "test_util.h"

namespace mishnet {
namespace {

void expect_same_as_reference(std::mt19937_64& rng, const ops::Pool2dDesc& d) {
  // Few distinct values so ties are common, and the values the strict '>' scan treats apart:
  // -inf and -FLT_MAX (never above the start), NaN (never above anything).
  const float specials[] = {-std::numeric_limits<float>::infinity(), -FLT_MAX,
                            std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f};
  std::uniform_int_distribution<int> pick(0, 11);
  std::vector<float> src(size_t(d.batch) * d.channels * d.in_h * d.in_w);
  for (float& v : src) {
    const int k = pick(rng);
    v = k < 5 ? specials[k] : float(k - 8) * 0.5f;
  }
  const size_t out = size_t(d.batch) * d.channels * d.out_h * d.out_w;
  std::vector<float> got(out, 1.0f), want(out, 2.0f);
  std::vector<int32_t> got_arg(out, 7), want_arg(out, 8);
  ops::maxpool2d_forward(d, src.data(), got.data(), got_arg.data());
  ops::maxpool2d_forward_reference(d, src.data(), want.data(), want_arg.data());
  ASSERT_EQ(std::memcmp(got.data(), want.data(), out * sizeof(float)), 0);
  ASSERT_EQ(got_arg, want_arg);
  std::vector<float> got_no_arg(out, 3.0f);
  ops::maxpool2d_forward(d, src.data(), got_no_arg.data(), nullptr);
  ASSERT_EQ(std::memcmp(got_no_arg.data(), want.data(), out * sizeof(float)), 0);
}

TEST(Pool2dFast, TwoByTwoStrideTwoMatchesTheReferenceBitForBit) {
  std::mt19937_64 rng(test::test_seed());
  for (int in_h : {2, 5, 8, 13, 104})
    for (int in_w : {2, 7, 10, 13, 104})
      for (int padding : {0, 1, 2, 3}) {
        ops::Pool2dDesc d;
        d.batch = 2;
        d.channels = in_h * in_w > 1000 ? 3 : 5;
        d.in_h = in_h;
        d.in_w = in_w;
        d.size = 2;
        d.stride_x = d.stride_y = 2;
        d.padding = padding;
        d.out_h = ops::pool2d_output_extent(in_h, 2, 2, padding);
        d.out_w = ops::pool2d_output_extent(in_w, 2, 2, padding);
        SCOPED_TRACE(testing::Message() << in_w << 'x' << in_h << " padding " << padding);
        expect_same_as_reference(rng, d);
      }
}

TEST(Pool2dFast, OtherGeometriesAreTheReference) {
  std::mt19937_64 rng(test::test_seed() + 1);
  for (auto [size, sx, sy] : {std::tuple{2, 1, 1}, {3, 2, 2}, {2, 1, 2}, {5, 1, 1}}) {
    ops::Pool2dDesc d;
    d.batch = 1;
    d.channels = 3;
    d.in_h = 9;
    d.in_w = 12;
    d.size = size;
    d.stride_x = sx;
    d.stride_y = sy;
    d.padding = size - 1;
    d.out_h = ops::pool2d_output_extent(d.in_h, size, sy, d.padding);
    d.out_w = ops::pool2d_output_extent(d.in_w, size, sx, d.padding);
    SCOPED_TRACE(testing::Message() << "size " << size << " stride " << sx << 'x' << sy);
    expect_same_as_reference(rng, d);
  }
}

}  // namespace
}  // namespace mishnet
