// [upsample]: nearest-neighbour repeat times scale; a negative stride sums blocks (Darknet's
// downsampling); backward of both.
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

TEST(Upsample, RepeatsEachCellStrideTimesScale) {
  Network net = network_from_text(net_text(2, 1, 2) + "[upsample]\nscale=0.5\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 2, 2, 4}));  // default stride 2
  EXPECT_EQ(forward_output(net, {2, 4, -6, 8}, 1),
            (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2,  //
                                -3, -3, 4, 4, -3, -3, 4, 4}));
  EXPECT_EQ(net.layer(1).summary_geometry(), "2x");
  EXPECT_EQ(net.layer(1).bflops(), 0.0);

  Network three = network_from_text(net_text(1, 1, 1) + "[upsample]\nstride=3\n");
  EXPECT_EQ(forward_output(three, {7}, 1), std::vector<float>(9, 7.0f));
}

TEST(Upsample, NegativeStrideSumsBlocks) {
  Network net = network_from_text(net_text(4, 2, 1) + "[upsample]\nstride=-2\nscale=0.5\n", 2);
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 1, 1, 2}));
  EXPECT_STREQ(net.layer(1).type(), "downsample");
  const std::vector<float> in = {0, 1, 2, 3, 4, 5, 6, 7,  // image 0
                                 1, 1, 1, 1, 1, 1, 1, 1};
  // (0+1+4+5)/2, (2+3+6+7)/2: the sum of the block times scale, not the mean.
  EXPECT_EQ(forward_output(net, in, 1), (std::vector<float>{5, 9, 2, 2}));
}

TEST(Upsample, BackwardSumsTheCopies) {
  Network up =
      network_from_text(net_text(2, 1, 1) + "[upsample]\nstride=2\nscale=3\n" + kGradcheckLoss);
  up.set_training(true);
  std::vector<float> in = {1, 2}, r = {1, 2, 0, 0, 0, 0, 0, 1};
  std::mt19937_64 rng(1);
  up.forward_backward(in.data(), r.data(), rng);
  EXPECT_EQ(to_vector(up.delta(0)), (std::vector<float>{9, 3}));

  Network down =
      network_from_text(net_text(2, 2, 1) + "[upsample]\nstride=-2\nscale=3\n" + kGradcheckLoss);
  down.set_training(true);
  in = {1, 2, 3, 4};
  r = {2};
  down.forward_backward(in.data(), r.data(), rng);
  EXPECT_EQ(to_vector(down.delta(0)), (std::vector<float>{6, 6, 6, 6}));
}

TEST(Upsample, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test_seed());
  for (const char* layer : {"[upsample]\nstride=2\n", "[upsample]\nstride=3\nscale=0.7\n",
                            "[upsample]\nstride=-2\nscale=0.25\n"}) {
    SCOPED_TRACE(layer);
    Network net = network_from_text(net_text(4, 2, 2) + layer + kGradcheckLoss, 2);
    expect_gradients_match(net, random_values(net.input_shape().size(), rng),
                           random_values(net.layer(1).output_shape.per_image() * 2, rng));
  }
}

TEST(Upsample, RejectsBadStrides) {
  auto build = [](const std::string& layer) {
    return network_from_text(net_text(6, 4, 1) + layer);
  };
  EXPECT_ERROR_CONTAINS(build("[upsample]\nstride=0\n"), "test.cfg:7: [upsample] 'stride'");
  EXPECT_ERROR_CONTAINS(build("[upsample]\nstride=-4\n"),
                        "downsampling by 4 needs the input 6x4 to be a multiple of it");
  EXPECT_ERROR_CONTAINS(build("[upsample]\nstride=2\nscale=x\n"), "'scale'");
  EXPECT_ERROR_CONTAINS(build("[upsample]\nstride_x=2\n"), "key 'stride_x' is not known");
}

}  // namespace
}  // namespace mishnet::test
