// The ops that read and write nChw16c tensors (src/core/layout_plan.h) against the NCHW
// reference: the input converted to nChw16c by the plain index formula of
// ops/blocked_layout.h, the output converted back and compared.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "mishnet/error.h"
#include "ops/activation_op.h"
#include "ops/blocked_layout.h"
#include "ops/channel_copy.h"
#include "ops/conv2d.h"
#include "ops/pool2d.h"
#include "ops/upsample.h"
#include "test_util.h"

namespace mishnet {
namespace {

int pick(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

std::vector<float> random_values(size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = unit(rng);
  return v;
}

std::vector<float> to_blocked(const Shape& s, const std::vector<float>& plain) {
  std::vector<float> b(plain.size());
  ops::blocked16_from_nchw(s, plain.data(), b.data());
  return b;
}

std::vector<float> to_plain(const Shape& s, const std::vector<float>& blocked) {
  std::vector<float> p(blocked.size());
  ops::nchw_from_blocked16(s, blocked.data(), p.data());
  return p;
}

TEST(BlockedLayout, IndexFormulaAndRoundTrip) {
  const Shape s{2, 32, 3, 5};
  std::vector<float> plain(s.size());
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = float(i);
  std::vector<float> b = to_blocked(s, plain);
  // Element (b=1, c=17, y=2, x=3): block 1 of image 1, lane 1.
  const size_t at = (((1 * 2 + 1) * 3 + 2) * 5 + 3) * 16 + 1;
  EXPECT_EQ(b[at], plain[((1 * 32 + 17) * 3 + 2) * 5 + 3]);
  EXPECT_EQ(to_plain(s, b), plain);
  EXPECT_ERROR_CONTAINS(ops::blocked16_from_nchw(Shape{1, 24, 2, 2}, plain.data(), b.data()),
                        "multiples of 16");
}

// Whole blocks of channels sit where NCHW keeps the same channels: the route's copy is the same.
TEST(BlockedLayout, CopyingWholeChannelBlocksIsTheSameCopy) {
  std::mt19937_64 rng(test::test_seed());
  const Shape src{2, 48, 5, 7}, dst{2, 64, 5, 7};
  std::vector<float> a = random_values(src.size(), rng), out(dst.size(), 0.0f);
  std::vector<float> out_blocked(dst.size(), 0.0f);
  ops::copy_channels(2, 35, a.data(), 48, 16, out.data(), 64, 32, 32);
  std::vector<float> a_blocked = to_blocked(src, a);
  ops::copy_channels(2, 35, a_blocked.data(), 48, 16, out_blocked.data(), 64, 32, 32);
  EXPECT_EQ(to_plain(dst, out_blocked), out);
}

TEST(BlockedLayout, UpsampleMatchesThePlainOp) {
  std::mt19937_64 rng(test::test_seed() + 1);
  for (int stride : {2, 3}) {
    const Shape in{pick(rng, 1, 2), 16 * pick(rng, 1, 3), pick(rng, 1, 9), pick(rng, 1, 9)};
    const Shape out{in.n, in.c, in.h * stride, in.w * stride};
    std::vector<float> x = random_values(in.size(), rng), want(out.size()), got(out.size());
    ops::upsample_nearest_forward(in.n * in.c, in.h, in.w, stride, 0.5f, x.data(), want.data());
    std::vector<float> xb = to_blocked(in, x);
    ops::upsample_nearest_forward_blocked16(in.n * in.c / 16, in.h, in.w, stride, 0.5f, xb.data(),
                                            got.data());
    EXPECT_EQ(to_plain(out, got), want) << "stride " << stride;
  }
}

TEST(BlockedLayout, MaxPoolMatchesTheReference) {
  std::mt19937_64 rng(test::test_seed() + 2);
  struct Window {
    int size, stride;
  };
  // yolov4-tiny's 2x2/2 and the SPP pools, plus odd sizes that leave partial windows.
  for (Window w : {Window{2, 2}, Window{5, 1}, Window{9, 1}, Window{13, 1}, Window{3, 2}}) {
    ops::Pool2dDesc d;
    d.batch = pick(rng, 1, 2);
    d.channels = 16 * pick(rng, 1, 3);
    d.in_h = pick(rng, 5, 17);
    d.in_w = pick(rng, 5, 17);
    d.size = w.size;
    d.stride_x = d.stride_y = w.stride;
    d.padding = w.size - 1;
    d.out_h = ops::pool2d_output_extent(d.in_h, d.size, d.stride_y, d.padding);
    d.out_w = ops::pool2d_output_extent(d.in_w, d.size, d.stride_x, d.padding);
    const Shape in{d.batch, d.channels, d.in_h, d.in_w}, out{d.batch, d.channels, d.out_h, d.out_w};
    std::vector<float> x = random_values(in.size(), rng), want(out.size()), got(out.size());
    ops::maxpool2d_forward_reference(d, x.data(), want.data(), nullptr);
    d.blocked = true;
    auto op = ops::make_pool2d_inference(d, ops::PoolKind::max, BackendKind::cpu);
    std::vector<float> xb = to_blocked(in, x);
    op->forward(xb.data(), got.data());
    EXPECT_EQ(to_plain(out, got), want) << "size " << w.size << " stride " << w.stride;
  }
}

TEST(BlockedLayout, ReferenceOpsRefuseIt) {
  ops::Pool2dDesc p;
  p.channels = 16;
  p.in_h = p.in_w = p.out_h = p.out_w = 2;
  p.blocked = true;
  EXPECT_ERROR_CONTAINS(ops::make_pool2d_inference_reference(p, ops::PoolKind::max), "NCHW only");
  ops::Conv2dDesc c;
  c.in_c = c.out_c = 16;
  c.in_h = c.in_w = c.out_h = c.out_w = 4;
  c.src_blocked = true;
  EXPECT_ERROR_CONTAINS(ops::make_conv2d_reference(c), "NCHW only");
}

// Tolerance as in test_conv2d.cpp: max |oneDNN - reference| <= 1e-4 (1 + max |reference|).
void expect_conv_matches(const ops::Conv2dDesc& d, std::mt19937_64& rng) {
  const Shape in{d.batch, d.in_c, d.in_h, d.in_w}, out{d.batch, d.out_c, d.out_h, d.out_w};
  std::vector<float> x = random_values(in.size(), rng);
  std::vector<float> w = random_values(d.weights_count(), rng), bias = random_values(size_t(d.out_c), rng);
  const float scale = 2.0f / std::sqrt(float(d.weights_count() / size_t(d.out_c)));
  for (float& v : w) v *= scale;
  std::vector<float> want(out.size());
  ops::conv2d_reference(d, x.data(), w.data(), bias.data(), want.data());
  ops::activate_reference(d.activation, Tensor{want.data(), out});
  for (int edges = 1; edges < 4; ++edges) {
    ops::Conv2dDesc e = d;
    e.src_blocked = edges & 1;
    e.dst_blocked = edges & 2;
    auto op = ops::make_conv2d(e, BackendKind::cpu);
    op->set_weights(w.data(), bias.data());
    std::vector<float> src = e.src_blocked ? to_blocked(in, x) : x;
    std::vector<float> got(out.size(), std::nanf(""));
    op->forward(src.data(), got.data());
    if (!op->fused_activation()) ops::activate(d.activation, Tensor{got.data(), out});
    if (e.dst_blocked) got = to_plain(out, got);
    double max_ref = 0, max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      max_ref = std::max(max_ref, std::fabs(double(want[i])));
      const double diff = std::fabs(double(got[i]) - want[i]);
      max_diff = std::isnan(diff) ? INFINITY : std::max(max_diff, diff);
    }
    EXPECT_LE(max_diff, 1e-4 * (1.0 + max_ref))
        << op->impl_name() << ": src " << (e.src_blocked ? "nChw16c" : "nchw") << ", dst "
        << (e.dst_blocked ? "nChw16c" : "nchw") << ", " << d.in_w << "x" << d.in_h << "x"
        << d.in_c << " -> " << d.out_c << ", kernel " << d.kernel_h << ", stride " << d.stride_h;
  }
}

TEST(BlockedLayout, ConvolutionMatchesTheReferenceWithBlockedEdges) {
  std::mt19937_64 rng(test::test_seed() + 3);
  struct Case {
    int kernel, stride;
    Activation a;
  };
  // 1x1 (sgemm in NCHW otherwise), 3x3 stride 1 (Winograd), 3x3 stride 2, with activations the
  // kernels fuse and one (leaky after Winograd) they do not.
  for (Case k : {Case{1, 1, Activation::mish}, Case{3, 1, Activation::leaky},
                 Case{3, 2, Activation::linear}, Case{3, 1, Activation::swish}}) {
    ops::Conv2dDesc d;
    d.batch = pick(rng, 1, 2);
    d.in_c = 16 * pick(rng, 1, 3);
    d.out_c = 16 * pick(rng, 1, 3);
    d.in_h = pick(rng, 6, 20);
    d.in_w = pick(rng, 6, 20);
    d.kernel_h = d.kernel_w = k.kernel;
    d.stride_h = d.stride_w = k.stride;
    d.pad_h = d.pad_w = k.kernel / 2;
    d.out_h = (d.in_h + 2 * d.pad_h - k.kernel) / k.stride + 1;
    d.out_w = (d.in_w + 2 * d.pad_w - k.kernel) / k.stride + 1;
    d.activation = k.a;
    expect_conv_matches(d, rng);
  }
}

}  // namespace
}  // namespace mishnet
