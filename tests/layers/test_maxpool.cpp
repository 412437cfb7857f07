// [maxpool]: Darknet's geometry (padding/2 before, default size-1), strides per axis, SPP,
// maxpool_depth, argmax backward with first-max ties, and the option checks.
#include <gtest/gtest.h>

#include "gradcheck_util.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet::test {
namespace {

std::string net_text(int w, int h, int c) {
  return "[net]\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
         "\nchannels=" + std::to_string(c) + "\n" + kGradcheckInput;
}

// 3x3, all negative, so a padded cell read as 0 would win.
const std::vector<float> kNegative3x3 = {-1, -9, -2,  //
                                         -4, -3, -8,  //
                                         -7, -5, -6};

TEST(Maxpool, TwoByTwoStrideTwo) {
  Network net = network_from_text(net_text(4, 4, 1) + "[maxpool]\nsize=2\nstride=2\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 1, 2, 2}));
  std::vector<float> in(16);
  for (int i = 0; i < 16; ++i) in[size_t(i)] = float(i);
  EXPECT_EQ(forward_output(net, in, 1), (std::vector<float>{5, 7, 13, 15}));
}

TEST(Maxpool, DefaultPaddingIsAfterAndNeverWins) {
  // padding = size-1 = 1: 0 before, 1 after; out = (3 + 1 - 2)/2 + 1 = 2.
  Network net = network_from_text(net_text(3, 3, 1) + "[max]\nsize=2\nstride=2\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(forward_output(net, kNegative3x3, 1), (std::vector<float>{-1, -2, -5, -6}));
}

TEST(Maxpool, StrideOneSppKeepsSize) {
  // size 3, padding 2: one cell before and after, the output as large as the input.
  Network net = network_from_text(net_text(3, 3, 1) + "[maxpool]\nsize=3\nstride=1\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(forward_output(net, kNegative3x3, 1),
            (std::vector<float>{-1, -1, -2, -1, -1, -2, -3, -3, -3}));
}

TEST(Maxpool, ExplicitPaddingAndPerAxisStrides) {
  // padding=0: (4 - 2)/2 + 1 = 2 columns; stride_y=1: (4 - 2)/1 + 1 = 3 rows.
  Network net = network_from_text(net_text(4, 4, 1) +
                                  "[maxpool]\nsize=2\nstride_x=2\nstride_y=1\npadding=0\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 1, 3, 2}));
  std::vector<float> in(16);
  for (int i = 0; i < 16; ++i) in[size_t(i)] = float(i);
  EXPECT_EQ(forward_output(net, in, 1), (std::vector<float>{5, 7, 9, 11, 13, 15}));
  EXPECT_EQ(net.layer(1).summary_geometry(), "2x2/2x1");
  // Default padding 1: one more row, whose window overhangs the bottom.
  Network padded =
      network_from_text(net_text(4, 4, 1) + "[maxpool]\nsize=2\nstride_x=2\nstride_y=1\n");
  EXPECT_EQ(forward_output(padded, in, 1), (std::vector<float>{5, 7, 9, 11, 13, 15, 13, 15}));
}

TEST(Maxpool, BatchAndChannelsAreIndependent) {
  Network net = network_from_text(net_text(2, 2, 2) + "[maxpool]\nsize=2\nstride=2\n", 2);
  const std::vector<float> in = {1,  2,  3,  4,  5, -6, -7, -8,  // image 0: channels 0, 1
                                 -1, -2, -3, -4, 9, 8,  7,  6};  // image 1
  EXPECT_EQ(forward_output(net, in, 1), (std::vector<float>{4, 5, -1, 9}));
}

TEST(Maxpool, DepthTakesTheMaxOverChannelGroups) {
  Network net =
      network_from_text(net_text(2, 1, 4) + "[maxpool]\nmaxpool_depth=1\nout_channels=2\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 2, 1, 2}));
  // Output channel g = max over input channels g and g + 2.
  const std::vector<float> in = {1, 8, 5, 2, 3, 4, 7, 0};
  EXPECT_EQ(forward_output(net, in, 1), (std::vector<float>{3, 8, 7, 2}));
}

TEST(Maxpool, BackwardRoutesToTheFirstMaximumOnTies) {
  Network net = network_from_text(net_text(3, 2, 1) + "[maxpool]\nsize=2\nstride=1\npadding=0\n" +
                                  kGradcheckLoss);
  net.set_training(true);
  // Two overlapping windows; the middle column is shared and every value ties.
  const std::vector<float> in(6, 1.0f), r = {2.0f, 3.0f};
  std::mt19937_64 rng(1);
  net.forward_backward(in.data(), r.data(), rng);
  EXPECT_EQ(to_vector(net.delta(0)), (std::vector<float>{2, 3, 0, 0, 0, 0}));
}

TEST(Maxpool, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test_seed());
  const int batch = 2;
  for (const char* layer :
       {"[maxpool]\nsize=2\nstride=2\n", "[maxpool]\nsize=3\nstride=1\n",
        "[maxpool]\nsize=3\nstride=2\n", "[maxpool]\nsize=2\nstride_x=1\nstride_y=2\npadding=2\n",
        "[maxpool]\nmaxpool_depth=1\nout_channels=2\n"}) {
    SCOPED_TRACE(layer);
    Network net = network_from_text(net_text(5, 4, 4) + layer + kGradcheckLoss, batch);
    const std::vector<float> in = separated_values(net.input_shape().size(), rng);
    const std::vector<float> r = random_values(net.layer(1).output_shape.per_image() * batch, rng);
    expect_gradients_match(net, in, r);
  }
}

TEST(Maxpool, LargeInputsTakeTheParallelPath) {
  // 2 x 16 x 32 x 36 = 36864 elements: above the ops' serial threshold (pooling, the
  // channel copies of [route] and the argmax scatter all run in parallel).
  std::mt19937_64 rng(test_seed());
  Network net = network_from_text(net_text(36, 32, 16) + "[maxpool]\nsize=3\nstride=1\n" +
                                      "[route]\nlayers=-1,0\n" + kGradcheckLoss,
                                  2);
  GradcheckOptions o;
  o.max_entries = 8;
  const std::vector<float> in = separated_values(net.input_shape().size(), rng, 0.03f);
  expect_gradients_match(net, in, random_values(in.size() * 2, rng), o);
}

TEST(Maxpool, BflopsAndSummaryAsDarknet) {
  Network net = network_from_text(net_text(8, 8, 3) + "[maxpool]\nsize=2\nstride=2\n");
  // size^2 * c * out_h * out_w
  EXPECT_DOUBLE_EQ(net.layer(1).bflops(), 4.0 * 3 * 4 * 4 / 1e9);
  EXPECT_EQ(net.layer(1).summary_geometry(), "2x2/2");
  EXPECT_EQ(net.layer(1).inputs, (std::vector<int>{0}));
}

TEST(Maxpool, RejectsBadOptions) {
  auto build = [](const std::string& layer) {
    return network_from_text(net_text(4, 4, 2) + layer);
  };
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=2\nantialiasing=1\n"),
                        "'antialiasing': is not supported");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=0\n"), "test.cfg:7: [maxpool] 'size'");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=2\nstride=0\n"), "'stride': must be at least 1");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=2\nstride_y=-1\n"), "'stride_y'");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=2\npadding=-1\n"), "'padding'");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=9\npadding=0\n"),
                        "larger than the padded input 4x4");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=2\npadding=6\n"), "entirely outside the input");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nmaxpool_depth=1\nout_channels=3\n"),
                        "'out_channels': must be in 1..2");
  EXPECT_ERROR_CONTAINS(build("[maxpool]\nsize=2\nsise=2\n"), "'sise' is not known");
}

}  // namespace
}  // namespace mishnet::test
