// [route]: channel concatenation of earlier layers, the CSP group split, gradients added into
// every input, and the reference/shape checks.
#include <gtest/gtest.h>

#include <numeric>

#include "gradcheck_util.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet::test {
namespace {

std::string net_text(int w, int h, int c) {
  return "[net]\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
         "\nchannels=" + std::to_string(c) + "\n" + kGradcheckInput;
}

std::vector<float> iota_values(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(Route, ConcatenatesChannelsInListedOrder) {
  // Layer 1 is 10 x layer 0 ([upsample] stride=1 scale=10); route -1,-2 puts layer 1's
  // channels first, then layer 0's, image by image.
  Network net = network_from_text(
      net_text(2, 1, 2) + "[upsample]\nstride=1\nscale=10\n" + "[route]\nlayers=-1,-2\n", 2);
  EXPECT_EQ(net.layer(2).output_shape, (Shape{1, 4, 1, 2}));
  EXPECT_EQ(net.layer(2).inputs, (std::vector<int>{1, 0}));
  const std::vector<float> in = iota_values(8);  // image 0: 0..3, image 1: 4..7
  EXPECT_EQ(forward_output(net, in, 2),
            (std::vector<float>{0, 10, 20, 30, 0, 1, 2, 3, 40, 50, 60, 70, 4, 5, 6, 7}));
}

TEST(Route, GroupsTakeChannelGroupOfEachInput) {
  // 4 channels in two groups: group_id=1 takes channels 2 and 3 of each input.
  Network net = network_from_text(net_text(1, 1, 4) + "[upsample]\nstride=1\nscale=-1\n" +
                                      "[route]\nlayers=0,1\ngroups=2\ngroup_id=1\n",
                                  2);
  EXPECT_EQ(net.layer(2).output_shape, (Shape{1, 4, 1, 1}));
  EXPECT_EQ(net.layer(2).summary_filters(), "1/2");
  EXPECT_EQ(net.layer(2).summary_geometry(), "0 1");
  const std::vector<float> in = iota_values(8);
  EXPECT_EQ(forward_output(net, in, 2), (std::vector<float>{2, 3, -2, -3, 6, 7, -6, -7}));

  Network first = network_from_text(net_text(1, 1, 4) + "[route]\nlayers=-1\ngroups=2\n");
  EXPECT_EQ(forward_output(first, {1, 2, 3, 4}, 1), (std::vector<float>{1, 2}));
}

TEST(Route, BackwardAddsIntoEveryInput) {
  // Layer 0 is routed twice (once whole, once its second half): its gradient is the sum.
  Network net = network_from_text(net_text(1, 1, 2) + "[route]\nlayers=0,0\n" +
                                  "[route]\nlayers=0,-1\ngroups=2\ngroup_id=1\n" + kGradcheckLoss);
  net.set_training(true);
  // Layer 2 = [layer 0 channel 1, layer 1 channels 2, 3] = [x1, x0, x1].
  const std::vector<float> in = {5, 7}, r = {1, 10, 100};
  std::mt19937_64 rng(1);
  EXPECT_FLOAT_EQ(net.forward_backward(in.data(), r.data(), rng), 7 + 50 + 700);
  EXPECT_EQ(to_vector(net.delta(1)), (std::vector<float>{0, 0, 10, 100}));
  EXPECT_EQ(to_vector(net.delta(0)), (std::vector<float>{10, 101}));
}

TEST(Route, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test_seed());
  Network net = network_from_text(
      net_text(3, 2, 4) + "[local_avgpool]\nsize=3\nstride=1\n" + "[route]\nlayers=-1,-2,-1\n" +
          "[route]\nlayers=-1,1\ngroups=2\ngroup_id=0\n" + kGradcheckLoss,
      2);
  EXPECT_EQ(net.layer(3).output_shape, (Shape{1, 8, 2, 3}));
  expect_gradients_match(net, random_values(net.input_shape().size(), rng),
                         random_values(8 * 6 * 2, rng));
}

TEST(Route, RejectsBadReferencesAndShapes) {
  auto build = [](const std::string& layers) {
    return network_from_text(net_text(4, 4, 4) + "[maxpool]\nsize=2\nstride=2\n" + layers);
  };
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=-1,-2\n"),
                        "layer 1 (2x2x4) and layer 0 (4x4x4) differ in width/height");
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=-1,-2\n"), "test.cfg:10: [route] 'layers'");
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=-3\n"), "resolves to layer -1");
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=2\n"), "outside the earlier layers 0..1");
  EXPECT_ERROR_CONTAINS(build("[route]\ngroups=2\n"), "'layers': is required");
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=-1\ngroups=3\n"),
                        "layer 1 has 4 channels, not divisible by groups=3");
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=-1\ngroups=2\ngroup_id=2\n"),
                        "'group_id': must be in 0..1");
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=-1\ngroups=0\n"), "'groups': must be at least 1");
  EXPECT_ERROR_CONTAINS(build("[route]\nlayers=-1\nlayer=-2\n"), "key 'layer' is not known");
}

}  // namespace
}  // namespace mishnet::test
