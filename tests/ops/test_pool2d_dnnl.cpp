// The inference pooling op (oneDNN where it is used) against the reference pooling.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "ops/pool2d.h"
#include "test_util.h"

namespace mishnet {
namespace {

// Whether every window sees at least one input cell (describe_pool rejects the others).
bool windows_see_input(const ops::Pool2dDesc& d) {
  const int before = d.padding / 2;
  return before < d.size && (d.out_h - 1) * d.stride_y - before < d.in_h &&
         (d.out_w - 1) * d.stride_x - before < d.in_w;
}

ops::Pool2dDesc random_desc(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (;;) {
    ops::Pool2dDesc d;
    d.batch = pick(1, 3);
    d.channels = pick(1, 40);
    d.in_h = pick(1, 30);
    d.in_w = pick(1, 30);
    d.size = pick(1, 7);
    d.stride_x = pick(1, 3);
    d.stride_y = pick(0, 1) ? d.stride_x : pick(1, 3);
    d.padding = pick(0, 1) ? d.size - 1 : pick(0, d.size + 1);  // Darknet's default or any
    if (d.in_w + d.padding < d.size || d.in_h + d.padding < d.size) continue;
    d.out_h = ops::pool2d_output_extent(d.in_h, d.size, d.stride_y, d.padding);
    d.out_w = ops::pool2d_output_extent(d.in_w, d.size, d.stride_x, d.padding);
    if (windows_see_input(d)) return d;
  }
}

std::string describe(const ops::Pool2dDesc& d) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "n%d c%d %dx%d size %d stride %dx%d padding %d -> %dx%d",
                d.batch, d.channels, d.in_w, d.in_h, d.size, d.stride_x, d.stride_y, d.padding,
                d.out_w, d.out_h);
  return buf;
}

// Max: exact (a max involves no rounding). Average: |error| <= 1e-6 + 1e-5 * |reference|
// (a sum of at most 49 values of magnitude <= 1 in another order, then one division).
void expect_matches_reference(std::mt19937_64& rng, const ops::Pool2dDesc& d, ops::PoolKind kind) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> src(size_t(d.batch) * d.channels * d.in_h * d.in_w);
  for (float& v : src) v = u(rng);
  const size_t out = size_t(d.batch) * d.channels * d.out_h * d.out_w;
  std::vector<float> got(out, NAN), want(out);
  auto op = ops::make_pool2d_inference(d, kind, BackendKind::cpu);
  op->forward(src.data(), got.data());
  if (kind == ops::PoolKind::max)
    ops::maxpool2d_forward(d, src.data(), want.data(), nullptr);
  else
    ops::avgpool2d_forward(d, src.data(), want.data());
  for (size_t i = 0; i < out; ++i) {
    if (kind == ops::PoolKind::max)
      ASSERT_EQ(got[i], want[i]) << describe(d) << " (" << op->impl_name() << ") at " << i;
    else
      ASSERT_NEAR(got[i], want[i], 1e-6 + 1e-5 * std::fabs(want[i]))
          << describe(d) << " (" << op->impl_name() << ") at " << i;
  }
}

TEST(Pool2dDnnl, MaxMatchesReferenceOnRandomGeometry) {
  std::mt19937_64 rng(test::test_seed());
  for (int trial = 0; trial < 40; ++trial)
    expect_matches_reference(rng, random_desc(rng), ops::PoolKind::max);
}

TEST(Pool2dDnnl, AverageMatchesReferenceOnRandomGeometry) {
  std::mt19937_64 rng(test::test_seed() + 1);
  for (int trial = 0; trial < 40; ++trial)
    expect_matches_reference(rng, random_desc(rng), ops::PoolKind::average);
}

// yolov4's shapes: SPP (stride 1, size 5/9/13 on 13x13x512) and the 2x2/2 downsampler.
TEST(Pool2dDnnl, MatchesReferenceOnYoloShapes) {
  std::mt19937_64 rng(test::test_seed() + 2);
  for (int size : {2, 5, 9, 13}) {
    ops::Pool2dDesc d;
    d.channels = size == 2 ? 64 : 512;
    d.in_h = d.in_w = size == 2 ? 52 : 13;
    d.size = size;
    d.stride_x = d.stride_y = size == 2 ? 2 : 1;
    d.padding = size - 1;
    d.out_h = ops::pool2d_output_extent(d.in_h, d.size, d.stride_y, d.padding);
    d.out_w = ops::pool2d_output_extent(d.in_w, d.size, d.stride_x, d.padding);
    for (auto kind : {ops::PoolKind::max, ops::PoolKind::average}) {
      EXPECT_STREQ(ops::make_pool2d_inference(d, kind, BackendKind::cpu)->impl_name(), "onednn");
      expect_matches_reference(rng, d, kind);
    }
  }
}

// Timing only, never asserted: run with --gtest_also_run_disabled_tests.
TEST(Pool2dDnnl, DISABLED_Benchmark) {
  struct Case { int c, hw, size, stride; };
  for (Case k : {Case{512, 13, 5, 1}, Case{512, 13, 9, 1}, Case{512, 13, 13, 1},
                 Case{64, 208, 2, 2}, Case{128, 104, 2, 2}, Case{256, 52, 2, 2},
                 Case{512, 26, 2, 2}, Case{1024, 13, 2, 1}}) {
    ops::Pool2dDesc d;
    d.channels = k.c;
    d.in_h = d.in_w = k.hw;
    d.size = k.size;
    d.stride_x = d.stride_y = k.stride;
    d.padding = k.size - 1;
    d.out_h = ops::pool2d_output_extent(d.in_h, d.size, d.stride_y, d.padding);
    d.out_w = ops::pool2d_output_extent(d.in_w, d.size, d.stride_x, d.padding);
    std::vector<float> src(size_t(d.channels) * d.in_h * d.in_w, 0.5f);
    std::vector<float> dst(size_t(d.channels) * d.out_h * d.out_w);
    for (auto kind : {ops::PoolKind::max, ops::PoolKind::average}) {
      auto ref = ops::make_pool2d_inference_reference(d, kind);
      auto opt = ops::make_pool2d_inference(d, kind, BackendKind::cpu);
      auto time = [&](ops::Pool2dInferenceOp& op) {
        op.forward(src.data(), dst.data());
        // The fastest of many runs: the shared machine's other load only adds time.
        double best = 1e30;
        for (int r = 0; r < 40; ++r) {
          auto t0 = std::chrono::steady_clock::now();
          op.forward(src.data(), dst.data());
          best = std::min(best, std::chrono::duration<double, std::milli>(
                                    std::chrono::steady_clock::now() - t0).count());
        }
        return best;
      };
      const double tr = time(*ref), to = time(*opt);
      std::printf("%-4s c%-4d %3dx%-3d size %2d stride %d: reference %.3f ms, %s %.3f ms\n",
                  kind == ops::PoolKind::max ? "max" : "avg", k.c, k.hw, k.hw, k.size, k.stride,
                  tr, opt->impl_name(), to);
    }
  }
}

}  // namespace
}  // namespace mishnet
