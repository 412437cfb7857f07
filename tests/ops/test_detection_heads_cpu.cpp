// The CPU's vectorised [yolo] activation against the reference loop (ops/detection_heads.h).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/detection_heads.h"
#include "test_util.h"

namespace mishnet {
namespace {

// Both compute x*scale + shift of a logistic in [0, 1] (or the logistic alone): vec::exp is
// within 2 ulp of expf, so the logistic is within a few ulp of 1 (6e-8 each) and the result
// within 1e-6 absolute for scale_x_y up to 2. A wrong entry, shift or scale is off by 0.01+.
constexpr double kTolerance = 1e-6;

void expect_matches(const ops::HeadDesc& d, float scale_x_y, bool new_coords, std::mt19937_64& rng) {
  const size_t n = size_t(d.batch) * size_t(d.anchors) * size_t(d.entries) * size_t(d.spatial);
  std::uniform_real_distribution<float> wide(-30.0f, 30.0f);
  std::vector<float> src(n);
  for (float& v : src) v = wide(rng);
  // Saturated inputs and zero, where the reference's two branches meet.
  for (float v : {-120.0f, -90.0f, 0.0f, 90.0f, 120.0f}) src[size_t(rng() % n)] = v;
  std::vector<float> want(n), got(n), in_place(src);
  ops::yolo_activate_reference(d, src.data(), want.data(), scale_x_y, new_coords);
  ops::yolo_activate(d, src.data(), got.data(), scale_x_y, new_coords);
  ops::yolo_activate(d, in_place.data(), in_place.data(), scale_x_y, new_coords);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_NEAR(got[i], want[i], kTolerance) << "element " << i << " input " << src[i];
    ASSERT_EQ(in_place[i], got[i]) << "element " << i;
  }
}

TEST(YoloActivateCpu, MatchesTheReference) {
  std::mt19937_64 rng(test::test_seed());
  for (int batch : {1, 2})
    for (float scale : {1.0f, 1.05f, 2.0f})
      expect_matches(ops::HeadDesc{batch, 3, 85, 13 * 13}, scale, false, rng);
  expect_matches(ops::HeadDesc{1, 2, 7, 5 * 3}, 1.2f, false, rng);
}

TEST(YoloActivateCpu, NewCoordsMatchTheReference) {
  std::mt19937_64 rng(test::test_seed() + 1);
  expect_matches(ops::HeadDesc{2, 3, 9, 6 * 4}, 2.0f, true, rng);
}

}  // namespace
}  // namespace mishnet
