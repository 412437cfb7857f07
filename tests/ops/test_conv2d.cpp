// oneDNN convolution against the reference op, on random shapes and values drawn fresh each run,
// in every layout the oneDNN op can use and with every activation it can fuse.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/dnnl/dnnl_conv1x1_sgemm.h"
#include "backend/dnnl/dnnl_eltwise.h"
#include "backend/dnnl/dnnl_ops.h"
#include "ops/activation_op.h"
#include "ops/conv2d.h"
#include "test_util.h"

namespace mishnet {
namespace {

using dnnl_backend::ConvLayout;

// Tolerance: max |oneDNN − reference| <= 1e-4·(1 + max |reference|). The reference accumulates
// in double, oneDNN in float in another order (and its activations may differ from the
// reference by 1e-6·max(1, |y|)); a wrong index or padding shows up as an O(1) error.
constexpr double kTolerance = 1e-4;

constexpr ConvLayout kLayouts[] = {
    ConvLayout::automatic, ConvLayout::blocked, ConvLayout::nhwc_src,  ConvLayout::nchw_src,
    ConvLayout::blocked16, ConvLayout::plain,   ConvLayout::sgemm_1x1, ConvLayout::winograd};

struct Geometry {
  int batch = 1, in_c = 1, in_h = 1, in_w = 1, out_c = 1;
  int kernel = 1, stride_h = 1, stride_w = 1, pad = 0, dilation = 1, groups = 1;
};

// The output size Darknet gives (layers/convolutional.cpp): floor((in + 2p − span)/s) + 1.
ops::Conv2dDesc describe(const Geometry& g, Activation activation) {
  ops::Conv2dDesc d;
  d.batch = g.batch;
  d.in_c = g.in_c;
  d.in_h = g.in_h;
  d.in_w = g.in_w;
  d.out_c = g.out_c;
  d.kernel_h = d.kernel_w = g.kernel;
  d.stride_h = g.stride_h;
  d.stride_w = g.stride_w;
  d.pad_h = d.pad_w = g.pad;
  d.dilation = g.dilation;
  d.groups = g.groups;
  int span = g.dilation * (g.kernel - 1) + 1;
  d.out_h = (g.in_h + 2 * g.pad - span) / g.stride_h + 1;
  d.out_w = (g.in_w + 2 * g.pad - span) / g.stride_w + 1;
  d.activation = activation;
  return d;
}

std::string to_string(const ops::Conv2dDesc& d) {
  return "batch " + std::to_string(d.batch) + ", " + std::to_string(d.in_w) + "x" +
         std::to_string(d.in_h) + "x" + std::to_string(d.in_c) + " -> " + std::to_string(d.out_w) +
         "x" + std::to_string(d.out_h) + "x" + std::to_string(d.out_c) + ", kernel " +
         std::to_string(d.kernel_h) + ", stride " + std::to_string(d.stride_w) + "x" +
         std::to_string(d.stride_h) + ", pad " + std::to_string(d.pad_h) + ", dilation " +
         std::to_string(d.dilation) + ", groups " + std::to_string(d.groups) + ", " +
         activation_name(d.activation);
}

class Conv2dCase {
 public:
  Conv2dCase(const ops::Conv2dDesc& d, std::mt19937_64& rng) : d_(d) {
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    // Weights scaled by fan-in so outputs stay O(1) and the activations see their whole range.
    float scale = 2.0f / std::sqrt(float(d.weights_count() / size_t(d.out_c)));
    src_.resize(size_t(d.batch) * d.in_c * d.in_h * d.in_w);
    weights_.resize(d.weights_count());
    bias_.resize(size_t(d.out_c));
    for (float& v : src_) v = 2.0f * unit(rng);
    for (float& v : weights_) v = scale * unit(rng);
    for (float& v : bias_) v = unit(rng);
    expected_.resize(dst_size());
    ops::conv2d_reference(d, src_.data(), weights_.data(), bias_.data(), expected_.data());
    ops::activate_reference(d.activation, Tensor{expected_.data(), out_shape()});
  }

  size_t dst_size() const { return size_t(d_.batch) * d_.out_c * d_.out_h * d_.out_w; }
  Shape out_shape() const { return Shape{d_.batch, d_.out_c, d_.out_h, d_.out_w}; }

  // Runs `op` as the conv layer does (activation after it unless fused) and compares.
  void set_weights(ops::Conv2dOp& op) const { op.set_weights(weights_.data(), bias_.data()); }
  void check(ops::Conv2dOp& op, const std::string& what) {
    set_weights(op);
    check_forward(op, what);
  }
  // Forward only: the weights were set earlier.
  void check_forward(ops::Conv2dOp& op, const std::string& what) {
    std::vector<float> got(dst_size(), std::nanf(""));
    op.forward(src_.data(), got.data());
    if (!op.fused_activation()) ops::activate(d_.activation, Tensor{got.data(), out_shape()});
    double max_ref = 0.0, max_diff = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      max_ref = std::max(max_ref, std::fabs(double(expected_[i])));
      double diff = std::fabs(double(got[i]) - expected_[i]);
      if (!(diff <= max_diff)) {  // NaN counts as the worst
        max_diff = std::isnan(diff) ? INFINITY : diff;
        worst = i;
      }
    }
    EXPECT_LE(max_diff, kTolerance * (1.0 + max_ref))
        << what << " [" << op.impl_name() << "] " << to_string(d_) << ": element " << worst
        << " is " << got[worst] << ", reference " << expected_[worst];
  }

 private:
  ops::Conv2dDesc d_;
  std::vector<float> src_, weights_, bias_, expected_;
};

// Runs one geometry in every layout; each must build (oneDNN has a kernel for all of these).
void check_all_layouts(const Geometry& g, Activation activation, std::mt19937_64& rng) {
  ops::Conv2dDesc d = describe(g, activation);
  Conv2dCase c(d, rng);
  for (ConvLayout layout : kLayouts) {
    auto op = dnnl_backend::make_conv2d(d, layout);
    if (layout == ConvLayout::sgemm_1x1 && !dnnl_backend::sgemm_conv1x1_applies(d)) {
      EXPECT_FALSE(op) << "the sgemm path is for 1x1 stride 1 only: " << to_string(d);
      continue;
    }
    if (layout == ConvLayout::winograd && !op) continue;  // oneDNN has it for 3x3 stride 1 only
    ASSERT_TRUE(op) << "oneDNN refused " << to_string(d) << " in layout " << int(layout);
    c.check(*op, "layout " + std::to_string(int(layout)));
  }
}

int pick(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

Geometry random_geometry(std::mt19937_64& rng, int kernel, int stride_h, int stride_w) {
  Geometry g;
  g.batch = pick(rng, 0, 1) ? 3 : 1;
  g.in_c = pick(rng, 1, 24);
  g.out_c = pick(rng, 1, 24);
  g.in_h = pick(rng, 5, 17);
  g.in_w = pick(rng, 5, 17);
  g.kernel = kernel;
  g.stride_h = stride_h;
  g.stride_w = stride_w;
  g.pad = kernel / 2;
  return g;
}

TEST(DnnlConv2d, OneByOne) {
  std::mt19937_64 rng(test::test_seed());
  for (int i = 0; i < 4; ++i)
    check_all_layouts(random_geometry(rng, 1, 1, 1), Activation::linear, rng);
  // Large enough that the sgemm path tiles both pixels and channels, with partial tiles.
  Geometry g = random_geometry(rng, 1, 1, 1);
  g.in_h = pick(rng, 40, 60);
  g.in_w = pick(rng, 40, 60);
  g.in_c = pick(rng, 20, 40);
  g.out_c = pick(rng, 70, 150);
  check_all_layouts(g, Activation::mish, rng);
  g.groups = 2;
  g.in_c = 2 * pick(rng, 5, 20);
  g.out_c = 2 * pick(rng, 30, 70);
  g.batch = 2;
  check_all_layouts(g, Activation::leaky, rng);
}

TEST(DnnlConv2d, ThreeByThreeStride1And2) {
  std::mt19937_64 rng(test::test_seed() + 1);
  for (int stride : {1, 2})
    for (int i = 0; i < 3; ++i)
      check_all_layouts(random_geometry(rng, 3, stride, stride), Activation::leaky, rng);
}

// The automatic choice for 3x3 stride 1 with 16+ channels: Winograd (where the CPU has it),
// whose transforms round differently from a direct convolution.
TEST(DnnlConv2d, WinogradThreeByThree) {
  std::mt19937_64 rng(test::test_seed() + 11);
  for (int batch : {1, 3}) {
    Geometry g = random_geometry(rng, 3, 1, 1);
    g.batch = batch;
    g.in_c = pick(rng, 16, 48);
    g.out_c = pick(rng, 16, 48);
    g.in_h = pick(rng, 9, 30);
    g.in_w = pick(rng, 9, 30);
    ops::Conv2dDesc d = describe(g, Activation::mish);
    Conv2dCase c(d, rng);
    auto op = dnnl_backend::make_conv2d(d, ConvLayout::winograd);
    if (!op) GTEST_SKIP() << "oneDNN has no Winograd kernel on this CPU";
    EXPECT_NE(std::string(op->impl_name()).find("wino"), std::string::npos) << op->impl_name();
    c.check(*op, "winograd");
    auto automatic = dnnl_backend::make_conv2d(d);
    EXPECT_STREQ(automatic->impl_name(), op->impl_name());
  }
}

TEST(DnnlConv2d, StrideXDiffersFromStrideY) {
  std::mt19937_64 rng(test::test_seed() + 2);
  check_all_layouts(random_geometry(rng, 3, 1, 2), Activation::mish, rng);
  check_all_layouts(random_geometry(rng, 3, 2, 1), Activation::mish, rng);
  check_all_layouts(random_geometry(rng, 1, 3, 2), Activation::linear, rng);
}

TEST(DnnlConv2d, Groups) {
  std::mt19937_64 rng(test::test_seed() + 3);
  for (int groups : {2, 4}) {
    Geometry g = random_geometry(rng, 3, 1, 1);
    g.in_c = groups * pick(rng, 1, 6);
    g.out_c = groups * pick(rng, 1, 6);
    g.groups = groups;
    check_all_layouts(g, Activation::mish, rng);
  }
}

TEST(DnnlConv2d, Depthwise) {
  std::mt19937_64 rng(test::test_seed() + 4);
  for (int multiplier : {1, 2}) {
    for (int stride : {1, 2}) {
      Geometry g = random_geometry(rng, 3, stride, stride);
      g.in_c = g.groups = pick(rng, 1, 40);  // past 16 and 32: the channel blocks' tails
      g.out_c = multiplier * g.in_c;
      check_all_layouts(g, Activation::relu, rng);
    }
  }
}

TEST(DnnlConv2d, Dilation2) {
  std::mt19937_64 rng(test::test_seed() + 5);
  Geometry g = random_geometry(rng, 3, 1, 1);
  g.dilation = 2;
  g.pad = 2;
  check_all_layouts(g, Activation::swish, rng);
  g = random_geometry(rng, 3, 2, 2);
  g.dilation = 2;
  g.pad = 1;
  check_all_layouts(g, Activation::linear, rng);
}

// Padding 0 and explicit paddings give a right/bottom padding unlike the left one, down to
// negative (the last input rows never reached), which oneDNN must be told exactly.
TEST(DnnlConv2d, PaddingZeroExplicitAndAsymmetric) {
  std::mt19937_64 rng(test::test_seed() + 6);
  const struct {
    int kernel, stride, pad, in;
  } cases[] = {
      {3, 1, 0, 9},   // valid convolution
      {3, 2, 0, 8},   // right padding -1
      {1, 2, 0, 6},   // right padding -1 on a 1x1
      {3, 2, 1, 8},   // right padding 0, left 1 (every stride-2 layer of YOLO on even inputs)
      {5, 1, 1, 9},   // explicit padding smaller than size/2
      {3, 1, 2, 7},   // explicit padding larger than size/2
      {7, 3, 3, 13},  // large kernel, stride 3
  };
  for (const auto& c : cases) {
    Geometry g = random_geometry(rng, c.kernel, c.stride, c.stride);
    g.pad = c.pad;
    g.in_h = c.in;
    g.in_w = c.in + pick(rng, 0, 3);
    check_all_layouts(g, Activation::leaky, rng);
  }
}

TEST(DnnlConv2d, BatchOneAndThreeOddSizes) {
  std::mt19937_64 rng(test::test_seed() + 7);
  for (int batch : {1, 3}) {
    Geometry g = random_geometry(rng, 3, 1, 1);
    g.batch = batch;
    g.in_h = 2 * pick(rng, 2, 8) + 1;
    g.in_w = 2 * pick(rng, 2, 8) + 1;
    g.in_c = 2 * pick(rng, 1, 12) + 1;
    g.out_c = 2 * pick(rng, 1, 12) + 1;
    check_all_layouts(g, Activation::logistic, rng);
  }
  Geometry first = random_geometry(rng, 3, 1, 1);  // a network's first layer: 3 channels
  first.in_c = 3;
  first.out_c = 32;
  check_all_layouts(first, Activation::mish, rng);
}

// Every activation oneDNN may fuse is fused, and matches; the others are left to the layer.
TEST(DnnlConv2d, EveryActivation) {
  std::mt19937_64 rng(test::test_seed() + 8);
  // Darknet's and the Mish paper's main ones fuse (one post-op each, accurate to 1e-6).
  for (Activation a : {Activation::linear, Activation::leaky, Activation::logistic,
                       Activation::tanh, Activation::swish, Activation::mish, Activation::elu,
                       Activation::gelu, Activation::gelu_erf})
    EXPECT_TRUE(dnnl_backend::eltwise_fusable(a)) << activation_name(a);
  for (int i = 0; i < int(Activation::count); ++i) {
    auto a = Activation(i);
    if (!activation_is_elementwise(a)) continue;
    Geometry g = random_geometry(rng, 3, 1, 1);
    g.batch = 1;
    g.in_c = pick(rng, 8, 24);
    g.out_c = pick(rng, 8, 24);
    ops::Conv2dDesc d = describe(g, a);
    Conv2dCase c(d, rng);
    for (ConvLayout layout : {ConvLayout::blocked, ConvLayout::plain}) {
      auto op = dnnl_backend::make_conv2d(d, layout);
      ASSERT_TRUE(op) << to_string(d);
      EXPECT_EQ(op->fused_activation(), dnnl_backend::eltwise_fusable(a)) << activation_name(a);
      c.check(*op, std::string("activation ") + activation_name(a));
    }
    // The 1x1 sgemm path runs the activation as separate eltwise steps on each tile.
    g.kernel = 1;
    g.pad = 0;
    ops::Conv2dDesc d1 = describe(g, a);
    Conv2dCase c1(d1, rng);
    auto op = dnnl_backend::make_conv2d(d1, ConvLayout::sgemm_1x1);
    ASSERT_TRUE(op) << to_string(d1);
    EXPECT_EQ(op->fused_activation(), dnnl_backend::eltwise_usable(a)) << activation_name(a);
    c1.check(*op, std::string("1x1 activation ") + activation_name(a));
  }
}

TEST(DnnlConv2d, NewWeightsReplaceOld) {
  std::mt19937_64 rng(test::test_seed() + 9);
  ops::Conv2dDesc d = describe(random_geometry(rng, 3, 1, 1), Activation::leaky);
  Conv2dCase first(d, rng), second(d, rng);
  auto op = dnnl_backend::make_conv2d(d);
  ASSERT_TRUE(op);
  first.check(*op, "first weights");
  second.check(*op, "second weights");
}

// Training ops (weights_change_every_step) reorder their weights at each forward into one
// scratch buffer that every layer shares: interleaved layers still see their own weights.
TEST(DnnlConv2d, TrainingOpsShareTheWeightScratch) {
  std::mt19937_64 rng(test::test_seed() + 11);
  for (ConvLayout layout : kLayouts) {
    ops::Conv2dDesc a = describe(random_geometry(rng, 3, 1, 1), Activation::leaky);
    ops::Conv2dDesc b = describe(random_geometry(rng, 3, 2, 2), Activation::mish);
    a.weights_change_every_step = b.weights_change_every_step = true;
    auto op_a = dnnl_backend::make_conv2d(a, layout);
    auto op_b = dnnl_backend::make_conv2d(b, layout);
    if (!op_a || !op_b) continue;  // sgemm 1x1 and Winograd apply to other shapes
    Conv2dCase case_a(a, rng), case_b(b, rng), case_a2(a, rng);
    case_a.set_weights(*op_a);
    case_b.set_weights(*op_b);
    const std::string where = "layout " + std::to_string(int(layout));
    case_a.check_forward(*op_a, where + ", layer a");
    case_b.check_forward(*op_b, where + ", layer b after a");
    case_a.check_forward(*op_a, where + ", layer a after b");
    case_a2.check(*op_a, where + ", layer a with new weights");
  }
}

TEST(DnnlConv2d, CpuBackendPicksOneDnn) {
  std::mt19937_64 rng(test::test_seed() + 10);
  Geometry g = random_geometry(rng, 3, 2, 1);
  g.groups = g.in_c = g.out_c = 8;
  g.dilation = 2;
  auto op = ops::make_conv2d(describe(g, Activation::mish), BackendKind::cpu);
  EXPECT_EQ(std::string(op->impl_name()).rfind("onednn:", 0), 0u) << op->impl_name();
  auto ref = ops::make_conv2d(describe(g, Activation::mish), BackendKind::reference);
  EXPECT_STREQ(ref->impl_name(), "reference");
}

}  // namespace
}  // namespace mishnet
