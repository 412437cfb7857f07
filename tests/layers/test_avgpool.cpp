// [avgpool]: global average over height and width, and its backward.
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

TEST(Avgpool, AveragesEachChannel) {
  Network net = network_from_text(net_text(3, 2, 2) + "[avg]\n", 2);
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 2, 1, 1}));
  const std::vector<float> in = {1, 2, 3, 4, 5, 6,  -6, -6, -6, 0, 0, 0,   // image 0
                                 0, 0, 0, 0, 0, 12, 1,  1,  1,  1, 1, 1};  // image 1
  EXPECT_EQ(forward_output(net, in, 1), (std::vector<float>{3.5f, -3, 2, 1}));
  EXPECT_EQ(net.layer(1).bflops(), 0.0);
}

TEST(Avgpool, BackwardSpreadsTheGradientEvenly) {
  Network net = network_from_text(net_text(2, 2, 2) + "[avgpool]\n" + kGradcheckLoss);
  net.set_training(true);
  const std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8}, r = {4, -8};
  std::mt19937_64 rng(1);
  EXPECT_FLOAT_EQ(net.forward_backward(in.data(), r.data(), rng), 4 * 2.5f - 8 * 6.5f);
  EXPECT_EQ(to_vector(net.delta(0)), (std::vector<float>{1, 1, 1, 1, -2, -2, -2, -2}));
}

TEST(Avgpool, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test_seed());
  Network net = network_from_text(net_text(5, 3, 3) + "[avgpool]\n" + kGradcheckLoss, 2);
  expect_gradients_match(net, random_values(net.input_shape().size(), rng),
                         random_values(3 * 2, rng));
}

TEST(Avgpool, TakesNoOptions) {
  EXPECT_ERROR_CONTAINS(network_from_text(net_text(4, 4, 1) + "[avgpool]\nsize=2\n"),
                        "test.cfg:7: [avgpool] key 'size' is not known");
}

}  // namespace
}  // namespace mishnet::test
