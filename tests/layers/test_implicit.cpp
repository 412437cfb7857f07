// [implicit]: keys and parameter, the output (its weights for every image, whatever the input),
// the parameter gradient, and errors. Only Darknet's section name is accepted.
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

Network build(const std::string& text) { return Network::from_cfg(parse_cfg_text(text, "i.cfg")); }

// The loss weights r of test::expect_gradients_match: one per float of the output.
std::vector<float> loss_weights(const Network& net, std::mt19937_64& rng) {
  return test::random_values(net.truth_floats() * size_t(net.batch()), rng);
}

TEST(ImplicitLayer, ReadsEveryDarknetKey) {
  Network net = build(net_header(4, 4, 3) + "[implicit]\nfilters=5\natoms=2\nmean=1\nstd=.02\n");
  const Layer& l = net.layer(0);
  EXPECT_STREQ(l.type(), "implicit");
  EXPECT_EQ(l.output_shape, (Shape{1, 5, 2, 1}));
  ASSERT_EQ(l.params.size(), 1u);
  EXPECT_EQ(l.params[0].name, "weights");
  EXPECT_EQ(l.params[0].count, 10u);
  EXPECT_TRUE(l.params[0].trainable);
  EXPECT_EQ(l.params[0].fan_in, 0u);
  EXPECT_EQ(l.params[0].init_value, 1.0f);  // `mishnet init` sets the weights to `mean`
  EXPECT_EQ(l.bflops(), 0.0);
  // Darknet's defaults: filters=128, atoms=1, mean=0.
  Network defaults = build(net_header(4, 4, 3) + "[implicit]\n");
  EXPECT_EQ(defaults.layer(0).output_shape, (Shape{1, 128, 1, 1}));
  EXPECT_EQ(defaults.layer(0).params[0].init_value, 0.0f);
}

TEST(ImplicitLayer, OutputsItsWeightsForEveryImage) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(net_header(2, 2, 1, 3) + "[implicit]\nfilters=2\natoms=3\n");
  std::uniform_real_distribution<float> u(-1, 1);
  float* w = net.layer(0).param("weights");
  for (int i = 0; i < 6; ++i) w[i] = u(rng);
  std::vector<float> x(12);
  for (auto& v : x) v = u(rng);
  Tensor y = net.forward(x.data());
  ASSERT_EQ(y.size(), 18u);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y.data[i], w[i % 6]);
}

// The gradient of the weights sums over the batch; nothing flows to the layer before.
TEST(ImplicitLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(net_header(1, 1, 1, 3) + test::kGradcheckInput + "[implicit]\nfilters=3\natoms=2\n" +
                      "[activation]\nactivation=tanh\n" + test::kGradcheckLoss);
  std::uniform_real_distribution<float> u(-1, 1);
  for (Param& p : net.layer(1).params)
    for (size_t i = 0; i < p.count; ++i) p.data[i] = u(rng);
  std::vector<float> x = {0.5f, -0.25f, 1.0f};
  test::expect_gradients_match(net, x, loss_weights(net, rng));
  Tensor d0 = net.delta(0);
  for (size_t i = 0; i < d0.size(); ++i) EXPECT_EQ(d0.data[i], 0.0f);
}

TEST(ImplicitLayer, RejectsBadKeysAndYolorSectionNames) {
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 1) + "[implicit]\nfilters=0\n"),
                        "i.cfg:7: [implicit] 'filters': must be at least 1, got 0");
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 1) + "[implicit]\natoms=0\n"),
                        "[implicit] 'atoms': must be at least 1");
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 1) + "[implicit]\nstd=-1\n"),
                        "[implicit] 'std': must not be negative");
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 1) + "[implicit_add]\nfilters=4\n"),
                        "unknown section [implicit_add]");
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 1) + "[implicit_mul]\nfilters=4\n"),
                        "unknown section [implicit_mul]");
}

}  // namespace
}  // namespace mishnet
