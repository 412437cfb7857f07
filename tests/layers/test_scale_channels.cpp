// [scale_channels]: per-channel and (scale_wh=1) per-pixel products with the output of `from`,
// the activation after them, gradients to both inputs, and shape errors.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gradcheck_util.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet {
namespace {

std::string net_header(int w, int h, int c, int batch = 1) {
  return "[net]\nbatch=" + std::to_string(batch) + "\nwidth=" + std::to_string(w) +
         "\nheight=" + std::to_string(h) + "\nchannels=" + std::to_string(c) + "\n";
}

Network build(const std::string& text) { return Network::from_cfg(parse_cfg_text(text, "s.cfg")); }

// The loss weights r of test::expect_gradients_match: one per float of the output.
std::vector<float> loss_weights(const Network& net, std::mt19937_64& rng) {
  return test::random_values(net.truth_floats() * size_t(net.batch()), rng);
}

std::vector<float> random_input(const Network& net, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-2, 2);
  std::vector<float> v(net.input_shape().size());
  for (auto& x : v) x = u(rng);
  return v;
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// Squeeze-excitation in miniature: the factors are the logistic of each channel's centre pixel
// (a 1x1 [crop] of layer 0), multiplied into every pixel of layer 0.
std::string per_channel_net(const std::string& scale_keys, int batch = 1) {
  return net_header(3, 3, 2, batch) + test::kGradcheckInput +
         "[crop]\ncrop_height=1\ncrop_width=1\nnoadjust=1\n" +
         "[activation]\nactivation=logistic\n" + "[scale_channels]\nfrom=0\n" + scale_keys;
}

TEST(ScaleChannelsLayer, ScalesEachChannel) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(per_channel_net("", 2));
  const Layer& l = net.layer(3);
  EXPECT_STREQ(l.type(), "scale_channels");
  EXPECT_EQ(l.output_shape, (Shape{1, 2, 3, 3}));
  EXPECT_EQ(l.inputs, (std::vector<int>{2, 0}));
  EXPECT_EQ(l.bflops(), 0.0);
  std::vector<float> x = random_input(net, rng);
  Tensor y = net.forward(x.data());
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c) {
      const size_t plane = size_t(b * 2 + c) * 9;
      const double factor = sigmoid(x[plane + 4]);  // centre pixel of the 3x3 plane
      for (size_t p = 0; p < 9; ++p) EXPECT_NEAR(y.data[plane + p], x[plane + p] * factor, 1e-6);
    }
}

TEST(ScaleChannelsLayer, ActivationFollowsTheProduct) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(per_channel_net("activation=logistic\n"));
  std::vector<float> x = random_input(net, rng);
  Tensor y = net.forward(x.data());
  for (int c = 0; c < 2; ++c)
    for (int p = 0; p < 9; ++p) {
      const size_t i = size_t(c * 9 + p);
      EXPECT_NEAR(y.data[i], sigmoid(x[i] * sigmoid(x[size_t(c * 9 + 4)])), 1e-6);
    }
}

// scale_wh=1: one factor per pixel (here an [implicit] of height 4, width 1), every channel.
TEST(ScaleChannelsLayer, ScaleWhScalesEachPixel) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(net_header(1, 4, 3, 2) + "[activation]\n[implicit]\nfilters=1\natoms=4\n" +
                      "[scale_channels]\nfrom=0\nscale_wh=1\n");
  EXPECT_EQ(net.layer(2).output_shape, (Shape{1, 3, 4, 1}));
  float* w = net.layer(1).param("weights");
  for (int i = 0; i < 4; ++i) w[i] = float(i + 1);
  std::vector<float> x = random_input(net, rng);
  Tensor y = net.forward(x.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(y.data[i], x[i] * float(i % 4 + 1));
}

TEST(ScaleChannelsLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  // linear; logistic (gradient from the output); mish (from the recomputed product).
  for (const char* keys : {"", "activation=logistic\n", "activation=mish\n"}) {
    SCOPED_TRACE(keys);
    Network net = build(per_channel_net(keys, 2) + test::kGradcheckLoss);
    test::GradcheckOptions o;
    o.seed = rng();  // training crops a random pixel: the same one in every evaluation
    test::expect_gradients_match(net, random_input(net, rng), loss_weights(net, rng), o);
  }
  // Factors from [implicit]: the parameter gradient goes through the factor side.
  for (const char* keys : {"[implicit]\nfilters=1\natoms=4\n[scale_channels]\nfrom=0\nscale_wh=1\n",
                           "[implicit]\nfilters=3\n[scale_channels]\nfrom=0\nactivation=tanh\n"}) {
    SCOPED_TRACE(keys);
    Network net = build(net_header(1, 4, 3, 2) + test::kGradcheckInput + keys + test::kGradcheckLoss);
    std::uniform_real_distribution<float> u(-1, 1);
    for (Param& p : net.layer(1).params)
      for (size_t i = 0; i < p.count; ++i) p.data[i] = u(rng);
    test::expect_gradients_match(net, random_input(net, rng), loss_weights(net, rng));
  }
}

TEST(ScaleChannelsLayer, RejectsMismatchedShapes) {
  const std::string two = net_header(3, 3, 2) + "[activation]\n[activation]\n";
  EXPECT_ERROR_CONTAINS(build(two + "[scale_channels]\nfrom=0\n"),
                        "s.cfg:9: [scale_channels] 'from': the input (3x3x2) must be 1x1x2 to "
                        "scale the channels of layer 0 (3x3x2)");
  EXPECT_ERROR_CONTAINS(build(two + "[scale_channels]\nfrom=0\nscale_wh=1\n"),
                        "with scale_wh=1 the input (3x3x2) must be 3x3x1");
  EXPECT_ERROR_CONTAINS(build(net_header(3, 3, 2) + "[activation]\n[implicit]\nfilters=3\n"
                                                    "[scale_channels]\nfrom=0\n"),
                        "the input (1x1x3) must be 1x1x2");
  EXPECT_ERROR_CONTAINS(build(two + "[scale_channels]\n"),
                        "s.cfg:8: [scale_channels] missing required key 'from'");
  EXPECT_ERROR_CONTAINS(build(two + "[scale_channels]\nfrom=-3\n"),
                        "'from': layer reference -3 resolves to layer -1");
}

}  // namespace
}  // namespace mishnet
