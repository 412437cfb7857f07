// [sam]: the element-wise product of the input and the output of `from`, its activation, the
// gradient to both (added, where Darknet overwrites the one of `from`), and shape errors.
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

Network build(const std::string& text) { return Network::from_cfg(parse_cfg_text(text, "m.cfg")); }

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
double mish(double x) { return x * std::tanh(std::log1p(std::exp(x))); }

// As in the cfgs: a feature map, its logistic "attention", and [sam] from=-2 multiplying them.
std::string attention_net(const std::string& sam_keys, int batch = 1) {
  return net_header(3, 2, 2, batch) + test::kGradcheckInput +
         "[activation]\nactivation=logistic\n" + "[sam]\nfrom=-2\n" + sam_keys;
}

TEST(SamLayer, MultipliesElementWise) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(attention_net("", 2));
  const Layer& l = net.layer(2);
  EXPECT_STREQ(l.type(), "sam");
  EXPECT_EQ(l.output_shape, (Shape{1, 2, 2, 3}));
  EXPECT_EQ(l.inputs, (std::vector<int>{1, 0}));
  EXPECT_EQ(l.bflops(), 0.0);
  std::vector<float> x = random_input(net, rng);
  Tensor y = net.forward(x.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y.data[i], x[i] * sigmoid(x[i]), 1e-6);

  Network act = build(attention_net("activation=mish\n"));
  x = random_input(act, rng);
  y = act.forward(x.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y.data[i], mish(x[i] * sigmoid(x[i])), 1e-5);
}

// Layer 0 feeds [sam] twice (as `from` and through layer 1): its gradient is the sum of both.
TEST(SamLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  for (const char* keys : {"", "activation=logistic\n", "activation=swish\n"}) {
    SCOPED_TRACE(keys);
    Network net = build(attention_net(keys, 2) + test::kGradcheckLoss);
    test::expect_gradients_match(net, random_input(net, rng), loss_weights(net, rng));
  }
  // from=-1: both factors are the same tensor, d(x*x)/dx = 2x.
  Network square =
      build(net_header(2, 2, 2, 2) + test::kGradcheckInput + "[sam]\nfrom=-1\n" + test::kGradcheckLoss);
  test::expect_gradients_match(square, random_input(square, rng), loss_weights(square, rng));
}

TEST(SamLayer, RejectsMismatchedShapes) {
  EXPECT_ERROR_CONTAINS(build(net_header(4, 4, 2) + "[activation]\n[crop]\ncrop_height=2\n"
                                                    "crop_width=2\n[sam]\nfrom=0\n"),
                        "m.cfg:11: [sam] 'from': layer 0 outputs 4x4x2 but the input is 2x2x2");
  EXPECT_ERROR_CONTAINS(build(net_header(4, 4, 2) + "[activation]\n[sam]\n"),
                        "[sam] missing required key 'from'");
  EXPECT_ERROR_CONTAINS(build(net_header(4, 4, 2) + "[activation]\n[sam]\nfrom=1\n"),
                        "layer reference 1 resolves to layer 1, outside the earlier layers 0..0");
}

}  // namespace
}  // namespace mishnet
