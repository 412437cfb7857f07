// [local_avgpool]: windowed average with [maxpool]'s geometry; border windows average only the
// cells inside the input, forward and backward.
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

const std::vector<float> kOneToNine = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 3x3

TEST(LocalAvgpool, BorderWindowsCountOnlyInsideCells) {
  // padding = size-1 = 1, all after: the right/bottom windows overhang.
  Network net = network_from_text(net_text(3, 3, 1) + "[local_avgpool]\nsize=2\nstride=2\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(forward_output(net, kOneToNine, 1), (std::vector<float>{3, 4.5f, 7.5f, 9}));
}

TEST(LocalAvgpool, StrideOneKeepsSize) {
  Network net = network_from_text(net_text(3, 3, 1) + "[local_avg]\nsize=3\nstride=1\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(forward_output(net, kOneToNine, 1),
            (std::vector<float>{3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7}));
  EXPECT_EQ(net.layer(1).summary_geometry(), "3x3/1");
  EXPECT_DOUBLE_EQ(net.layer(1).bflops(), 9.0 * 1 * 3 * 3 / 1e9);
}

TEST(LocalAvgpool, BackwardDividesByTheCellsInside) {
  Network net =
      network_from_text(net_text(3, 3, 1) + "[local_avgpool]\nsize=2\nstride=2\n" + kGradcheckLoss);
  net.set_training(true);
  const std::vector<float> r = {1, 1, 1, 1};
  std::mt19937_64 rng(1);
  net.forward_backward(kOneToNine.data(), r.data(), rng);
  // Darknet's CPU backward would give 1/4 everywhere; these are the true derivatives.
  EXPECT_EQ(to_vector(net.delta(0)),
            (std::vector<float>{0.25f, 0.25f, 0.5f, 0.25f, 0.25f, 0.5f, 0.5f, 0.5f, 1}));
}

TEST(LocalAvgpool, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test_seed());
  for (const char* layer :
       {"[local_avgpool]\nsize=2\nstride=2\n", "[local_avgpool]\nsize=3\nstride=1\n",
        "[local_avgpool]\nsize=3\nstride_x=2\nstride_y=1\npadding=1\n"}) {
    SCOPED_TRACE(layer);
    Network net = network_from_text(net_text(5, 4, 2) + layer + kGradcheckLoss, 2);
    expect_gradients_match(net, random_values(net.input_shape().size(), rng),
                           random_values(net.layer(1).output_shape.per_image() * 2, rng));
  }
}

TEST(LocalAvgpool, RejectsBadOptions) {
  auto build = [](const std::string& layer) {
    return network_from_text(net_text(4, 4, 1) + layer);
  };
  EXPECT_ERROR_CONTAINS(build("[local_avgpool]\nsize=0\n"), "test.cfg:7: [local_avgpool] 'size'");
  EXPECT_ERROR_CONTAINS(build("[local_avgpool]\nsize=2\nstride=0\n"), "'stride'");
  EXPECT_ERROR_CONTAINS(build("[local_avgpool]\nsize=2\npadding=5\n"), "entirely outside");
  // parse_local_avgpool reads no maxpool_depth.
  EXPECT_ERROR_CONTAINS(build("[local_avgpool]\nsize=2\nmaxpool_depth=1\n"),
                        "key 'maxpool_depth' is not known");
}

}  // namespace
}  // namespace mishnet::test
