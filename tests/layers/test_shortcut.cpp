// [shortcut]: sums with the previous layer, several `from` layers, Darknet's rule for other
// shapes, learned weights (per_feature/per_layer/per_channel) with relu/softmax normalisation,
// the activation, gradients to every input and to the weights, and the option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "gradcheck_util.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet::test {
namespace {

std::string net_text(int w, int h, int c) {
  return "[net]\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
         "\nchannels=" + std::to_string(c) + "\n" + kGradcheckInput;
}

// Layer 1 = scale * layer 0.
std::string times(float scale) {
  return "[upsample]\nstride=1\nscale=" + std::to_string(scale) + "\n";
}

TEST(Shortcut, AddsTheFromLayerAndActivates) {
  Network net =
      network_from_text(net_text(2, 1, 2) + times(2) + "[shortcut]\nfrom=0\nactivation=leaky\n");
  EXPECT_EQ(net.layer(2).output_shape, (Shape{1, 2, 1, 2}));
  EXPECT_EQ(net.layer(2).inputs, (std::vector<int>{1, 0}));
  EXPECT_TRUE(net.layer(2).params.empty());
  const std::vector<float> out = forward_output(net, {1, -2, 3, -4}, 2);
  const std::vector<float> expected = {3, -0.6f, 9, -1.2f};
  for (size_t i = 0; i < out.size(); ++i) EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
}

TEST(Shortcut, AddsSeveralFromLayersAndThePreviousTwiceWhenNamed) {
  Network net = network_from_text(
      net_text(1, 1, 2) + times(2) + times(3) + "[shortcut]\nfrom=0,1\n" + "[shortcut]\nfrom=-1\n",
      2);
  EXPECT_EQ(net.layer(3).inputs, (std::vector<int>{2, 0, 1}));
  EXPECT_EQ(net.layer(3).summary_geometry(), "0 1");
  // 6x + x + 2x = 9x, then the previous layer added to itself.
  net.keep_outputs({3, 4});
  const std::vector<float> in = {1, 2, -1, 0.5f};
  net.forward(in.data());
  EXPECT_EQ(to_vector(net.output(3)), (std::vector<float>{9, 18, -9, 4.5f}));
  EXPECT_EQ(to_vector(net.output(4)), (std::vector<float>{18, 36, -18, 9}));
}

TEST(Shortcut, OtherShapesAddByFlatIndexAsDarknet) {
  // Input: 4 channels of 2 cells, a0 a1 b0 b1 c0 c1 d0 d1.
  const std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8};
  // Layer 1 = channels c, d; layer 2 = all four.
  const std::string base =
      net_text(2, 1, 4) + "[route]\nlayers=0\ngroups=2\ngroup_id=1\n" + "[route]\nlayers=0\n";
  // Fewer channels: they add into the first channels of the previous layer.
  Network fewer = network_from_text(base + "[shortcut]\nfrom=1\n");
  EXPECT_EQ(forward_output(fewer, in, 3), (std::vector<float>{6, 8, 10, 12, 5, 6, 7, 8}));
  // More channels: only the first ones count.
  Network more = network_from_text(base + "[route]\nlayers=1\n" + "[shortcut]\nfrom=0\n");
  EXPECT_EQ(more.layer(4).output_shape, (Shape{1, 2, 1, 2}));
  EXPECT_EQ(forward_output(more, in, 4), (std::vector<float>{6, 8, 10, 12}));
  // Another width/height: flat positions, whatever they mean (with a warning).
  Network other = network_from_text(net_text(2, 2, 2) + "[maxpool]\nsize=2\nstride=2\n" +
                                    "[shortcut]\nfrom=0\n");
  EXPECT_EQ(forward_output(other, in, 2), (std::vector<float>{4 + 1, 8 + 2}));
}

TEST(Shortcut, PerFeatureWeightsScaleEachInput) {
  for (const char* type : {"per_feature", "per_layer"}) {
    Network net = network_from_text(net_text(2, 1, 1) + times(2) + "[shortcut]\nfrom=0\n" +
                                    "weights_type=" + type + "\n");
    Param& p = net.layer(2).params.at(0);
    EXPECT_EQ(p.name, "weights");
    EXPECT_EQ(p.count, 2u);
    EXPECT_EQ(p.init_value, 1.0f);
    EXPECT_TRUE(p.trainable);
    p.data[0] = 0.5f;   // the previous layer
    p.data[1] = -2.0f;  // layer 0
    EXPECT_EQ(forward_output(net, {1, 4}, 2), (std::vector<float>{0.5f * 2 - 2, 0.5f * 8 - 8}));
    EXPECT_DOUBLE_EQ(net.layer(2).bflops(), 2 * 2.0 / 1e9);
  }
}

TEST(Shortcut, PerChannelReluNormalisation) {
  Network net = network_from_text(net_text(1, 1, 2) + times(2) +
                                  "[shortcut]\nfrom=0\nweights_type=per_channel\n" +
                                  "weights_normalization=relu\n");
  Param& p = net.layer(2).params.at(0);
  ASSERT_EQ(p.count, 4u);  // [input][channel]
  const float w[4] = {1, -1, 3, 2};
  std::copy(w, w + 4, p.data);
  const std::vector<float> out = forward_output(net, {10, 100}, 2);
  // Channel 0: relu weights 1 and 3 over eps + 4; channel 1: 0 and 2 over eps + 2.
  const double s0 = 1e-4 + 4, s1 = 1e-4 + 2;
  EXPECT_NEAR(out[0], (1 / s0) * 20 + (3 / s0) * 10, 1e-5);
  EXPECT_NEAR(out[1], 0 * 200 + (2 / s1) * 100, 1e-4);
}

TEST(Shortcut, SoftmaxNormalisation) {
  Network net = network_from_text(net_text(1, 1, 1) + times(2) +
                                  "[shortcut]\nfrom=0\nweights_type=per_feature\n" +
                                  "weights_normalization=softmax\n");
  Param& p = net.layer(2).params.at(0);
  p.data[0] = 0.0f;
  p.data[1] = std::log(3.0f);
  // e^(w - max) = 1/3 and 1 over eps + 4/3: about 1/4 and 3/4.
  const double s = 1e-4 + 4.0 / 3.0;
  const std::vector<float> out = forward_output(net, {8}, 2);
  EXPECT_NEAR(out[0], (1.0 / 3.0) / s * 16 + 1.0 / s * 8, 1e-5);
}

// Random weights away from 0, so relu normalisation has no kink within a difference step.
void randomise_weights(Network& net, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> magnitude(0.2f, 1.5f);
  std::bernoulli_distribution negative(0.3);
  for (int i = 0; i < net.num_layers(); ++i)
    for (Param& p : net.layer(i).params)
      for (size_t k = 0; k < p.count; ++k)
        p.data[k] = magnitude(rng) * (negative(rng) ? -1.0f : 1.0f);
}

TEST(Shortcut, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test_seed());
  const int batch = 2;
  const std::pair<const char*, std::string> bases[] = {
      // Previous layer 4 channels; from layer 0 (4 channels) and layer 2 (2 channels).
      {"wide", net_text(3, 2, 4) + times(-0.5f) + "[route]\nlayers=0\ngroups=2\ngroup_id=1\n" +
                   "[route]\nlayers=1\n" + "[shortcut]\nfrom=0,2\n"},
      // Previous layer 2 channels; from layer 0 with 4.
      {"narrow",
       net_text(3, 2, 4) + "[route]\nlayers=0\ngroups=2\ngroup_id=1\n" + "[shortcut]\nfrom=0\n"},
      // The previous layer named as `from` too: its gradient arrives twice.
      {"self", net_text(3, 2, 4) + times(-0.5f) + "[shortcut]\nfrom=-1\n"}};
  for (const char* options :
       {"activation=linear\n", "activation=mish\n",
        "weights_type=per_feature\nactivation=logistic\n", "weights_type=per_channel\n",
        "weights_type=per_feature\nweights_normalization=relu\n",
        "weights_type=per_channel\nweights_normalization=relu\nactivation=mish\n",
        "weights_type=per_feature\nweights_normalization=softmax\n",
        "weights_type=per_channel\nweights_normalization=softmax\nactivation=swish\n"}) {
    for (const auto& [name, base] : bases) {
      SCOPED_TRACE(std::string(options) + name);
      Network net = network_from_text(base + options + kGradcheckLoss, batch);
      randomise_weights(net, rng);
      const int shortcut = net.num_layers() - 2;
      expect_gradients_match(
          net, random_values(net.input_shape().size(), rng),
          random_values(net.layer(shortcut).output_shape.per_image() * batch, rng));
    }
  }
}

TEST(Shortcut, LargeInputsTakeTheParallelPath) {
  // 2 x 16 x 32 x 36 = 36864 elements: above the ops' serial threshold.
  Network net = network_from_text(net_text(36, 32, 16) + times(2) +
                                      "[shortcut]\nfrom=0\nweights_type=per_channel\n" +
                                      "weights_normalization=softmax\n" + kGradcheckLoss,
                                  2);
  std::mt19937_64 rng(test_seed());
  randomise_weights(net, rng);
  GradcheckOptions o;
  o.max_entries = 6;
  expect_gradients_match(net, random_values(net.input_shape().size(), rng),
                         random_values(net.input_shape().size(), rng), o);
}

TEST(Shortcut, RejectsBadOptions) {
  auto build = [](const std::string& layer) {
    return network_from_text(net_text(2, 2, 2) + times(2) + layer);
  };
  EXPECT_ERROR_CONTAINS(build("[shortcut]\nactivation=linear\n"), "'from': is required");
  EXPECT_ERROR_CONTAINS(build("[shortcut]\nfrom=-3\n"), "test.cfg:10: [shortcut] 'from'");
  EXPECT_ERROR_CONTAINS(build("[shortcut]\nfrom=2\n"), "outside the earlier layers 0..1");
  EXPECT_ERROR_CONTAINS(build("[shortcut]\nfrom=0\nweights_type=per_pixel\n"),
                        "unknown value 'per_pixel', expected one of: none, per_feature");
  EXPECT_ERROR_CONTAINS(build("[shortcut]\nfrom=0\nweights_type=per_feature\n"
                              "weights_normalization=sigmoid\n"),
                        "'weights_normalization': unknown value 'sigmoid'");
  EXPECT_ERROR_CONTAINS(build("[shortcut]\nfrom=0\nactivation=lieaky\n"), "'activation'");
  EXPECT_ERROR_CONTAINS(build("[shortcut]\nfrom=0\nalpha=0.5\n"), "key 'alpha' is not known");
  EXPECT_NO_THROW(
      build("[shortcut]\nfrom=0\nweights_type=per_feature\n"
            "weights_normalization=avg_relu\n"));
}

TEST(Shortcut, BflopsAsDarknet) {
  Network net =
      network_from_text(net_text(4, 4, 3) + times(2) + times(2) + "[shortcut]\nfrom=0,1\n");
  EXPECT_DOUBLE_EQ(net.layer(3).bflops(), 4.0 * 4 * 3 * 2 / 1e9);
}

}  // namespace
}  // namespace mishnet::test
