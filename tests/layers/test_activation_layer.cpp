// [activation]: a standalone activation function, forward against the formulas (double),
// backward against finite differences, including the channel-wise normalize_channels_softmax.
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

Network build(const std::string& text) { return Network::from_cfg(parse_cfg_text(text, "a.cfg")); }

// The loss weights r of test::expect_gradients_match: one per float of the output.
std::vector<float> loss_weights(const Network& net, std::mt19937_64& rng) {
  return test::random_values(net.truth_floats() * size_t(net.batch()), rng);
}

std::vector<float> random_input(const Network& net, std::mt19937_64& rng, float lo = -3,
                                float hi = 3) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(net.input_shape().size());
  for (auto& x : v) x = u(rng);
  return v;
}

double softplus(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }

TEST(ActivationLayer, DefaultsToLinearAndKeepsTheShape) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(net_header(3, 2, 4, 2) + "[activation]\n");
  EXPECT_STREQ(net.layer(0).type(), "activation");
  EXPECT_EQ(net.layer(0).output_shape, (Shape{1, 4, 2, 3}));
  EXPECT_EQ(net.layer(0).bflops(), 0.0);
  std::vector<float> x = random_input(net, rng);
  Tensor y = net.forward(x.data());
  EXPECT_EQ(std::vector<float>(y.data, y.data + y.size()), x);
}

// Element-wise functions against their definitions (tolerance 1e-5 relative, float math).
TEST(ActivationLayer, ForwardMatchesTheFormulas) {
  std::mt19937_64 rng(test::test_seed());
  struct Case {
    const char* name;
    double (*f)(double);
  };
  const Case cases[] = {
      {"leaky", [](double x) { return x > 0 ? x : 0.1 * x; }},
      {"logistic", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"tanh", [](double x) { return std::tanh(x); }},
      {"relu", [](double x) { return x > 0 ? x : 0.0; }},
      {"swish", [](double x) { return x / (1 + std::exp(-x)); }},
      {"mish", [](double x) { return x * std::tanh(softplus(x)); }},
  };
  for (const Case& c : cases) {
    Network net = build(net_header(4, 3, 2, 2) + "[activation]\nactivation=" + c.name + "\n");
    std::vector<float> x = random_input(net, rng);
    Tensor y = net.forward(x.data());
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(y.data[i], c.f(x[i]), 1e-5 * (1 + std::fabs(c.f(x[i]))))
          << c.name << " x=" << x[i];
  }
}

// normalize_channels_softmax acts across the channels of each pixel: they sum to ~1.
TEST(ActivationLayer, NormalizeChannelsSoftmaxActsAcrossChannels) {
  std::mt19937_64 rng(test::test_seed());
  const int c = 3, hw = 4;
  Network net =
      build(net_header(2, 2, c, 2) + "[activation]\nactivation=normalize_channels_softmax\n");
  std::vector<float> x = random_input(net, rng);
  Tensor y = net.forward(x.data());
  for (int b = 0; b < 2; ++b)
    for (int p = 0; p < hw; ++p) {
      double sum = 0;
      for (int k = 0; k < c; ++k) sum += std::exp(x[size_t((b * c + k) * hw + p)]);
      for (int k = 0; k < c; ++k) {
        size_t i = size_t((b * c + k) * hw + p);
        EXPECT_NEAR(y.data[i], std::exp(x[i]) / (sum + 1e-4), 1e-5);
      }
    }
}

TEST(ActivationLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  for (const char* a : {"logistic", "tanh", "swish", "mish", "normalize_channels_softmax"}) {
    SCOPED_TRACE(a);
    Network net = build(net_header(2, 2, 3, 2) + test::kGradcheckInput +
                        "[activation]\nactivation=" + a + "\n" + test::kGradcheckLoss);
    test::expect_gradients_match(net, random_input(net, rng), loss_weights(net, rng));
  }
}

TEST(ActivationLayer, RejectsUnknownActivations) {
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 3) + "[activation]\nactivation=mishy\n"),
                        "a.cfg:7: [activation] 'activation': unknown activation 'mishy'");
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 3) + "[activation]\nfilters=3\n"),
                        "key 'filters' is not known for [activation]");
}

}  // namespace
}  // namespace mishnet
