// [batchnorm]: parameter order (Darknet's load_batchnorm_weights), inference with rolling
// statistics, training with batch statistics and the rolling update, the gradient.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gradcheck_util.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

std::string net_header(int w, int h, int c, int batch = 1) {
  return "[net]\nbatch=" + std::to_string(batch) + "\nwidth=" + std::to_string(w) +
         "\nheight=" + std::to_string(h) + "\nchannels=" + std::to_string(c) + "\n";
}

Network build(const std::string& text) { return Network::from_cfg(parse_cfg_text(text, "b.cfg")); }

// The loss weights r of test::expect_gradients_match: one per float of the output.
std::vector<float> loss_weights(const Network& net, std::mt19937_64& rng) {
  return test::random_values(net.truth_floats() * size_t(net.batch()), rng);
}

void fill(std::mt19937_64& rng, float* p, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  for (size_t i = 0; i < n; ++i) p[i] = u(rng);
}

constexpr double kEpsilon = 1e-6;  // kernels/batchnorm.h

TEST(BatchnormLayer, DeclaresParamsInDarknetOrder) {
  Network net = build(net_header(3, 2, 4) + "[batchnorm]\n");
  const Layer& l = net.layer(0);
  EXPECT_STREQ(l.type(), "batchnorm");
  EXPECT_EQ(l.output_shape, (Shape{1, 4, 2, 3}));
  EXPECT_EQ(l.bflops(), 0.0);
  ASSERT_EQ(l.params.size(), 4u);
  const char* names[] = {"biases", "scales", "rolling_mean", "rolling_variance"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(l.params[i].name, names[i]);
    EXPECT_EQ(l.params[i].count, 4u);
  }
  EXPECT_TRUE(l.params[0].trainable && l.params[1].trainable);
  EXPECT_FALSE(l.params[2].trainable || l.params[3].trainable);
  EXPECT_EQ(l.params[1].init_value, 1.0f);
  EXPECT_EQ(l.params[3].init_value, 1.0f);
}

// Darknet reads all four blocks of a [batchnorm] even with dontloadscales=1.
TEST(BatchnormLayer, LoadsEveryBlockEvenWithDontloadscales) {
  Network net = build(net_header(1, 1, 2) + "[batchnorm]\ndontloadscales=1\n");
  const std::string path = test::scratch_dir("batchnorm-load") + "/bn.weights";
  {
    std::ofstream f(path, std::ios::binary);
    int32_t header[3] = {0, 2, 5};
    uint64_t seen = 0;
    f.write(reinterpret_cast<const char*>(header), sizeof(header));
    f.write(reinterpret_cast<const char*>(&seen), sizeof(seen));
    const float values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    f.write(reinterpret_cast<const char*>(values), sizeof(values));
  }
  EXPECT_EQ(load_weights(net, path), 1);
  const float* p = net.param_data();
  EXPECT_EQ(std::vector<float>(p, p + 8), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(BatchnormLayer, InferenceUsesRollingStatistics) {
  std::mt19937_64 rng(test::test_seed());
  const int c = 3, hw = 4, batch = 2;
  Network net = build(net_header(2, 2, c, batch) + "[batchnorm]\n");
  Layer& l = net.layer(0);
  fill(rng, l.param("biases"), c, -1, 1);
  fill(rng, l.param("scales"), c, 0.5f, 2);
  fill(rng, l.param("rolling_mean"), c, -1, 1);
  fill(rng, l.param("rolling_variance"), c, 0.1f, 2);
  std::vector<float> x(size_t(batch * c * hw));
  fill(rng, x.data(), x.size(), -2, 2);
  Tensor y = net.forward(x.data());
  for (int b = 0; b < batch; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int i = 0; i < hw; ++i) {
        size_t k = size_t((b * c + ch) * hw + i);
        double expected = l.param("scales")[ch] * (x[k] - l.param("rolling_mean")[ch]) /
                              std::sqrt(l.param("rolling_variance")[ch] + kEpsilon) +
                          l.param("biases")[ch];
        EXPECT_NEAR(y.data[k], expected, 1e-5 * (1 + std::fabs(expected)));
      }
}

// Training normalises with the batch's mean and biased variance over (batch, h, w) and moves
// the rolling statistics by 0.01 towards the batch mean and the unbiased variance.
TEST(BatchnormLayer, TrainingUsesBatchStatistics) {
  std::mt19937_64 rng(test::test_seed());
  const int c = 2, hw = 6, batch = 3, count = batch * hw;
  Network net = build(net_header(3, 2, c, batch) + "[batchnorm]\n" + test::kGradcheckLoss);
  Layer& l = net.layer(0);
  fill(rng, l.param("biases"), c, -1, 1);
  fill(rng, l.param("scales"), c, 0.5f, 2);
  fill(rng, l.param("rolling_mean"), c, -1, 1);
  fill(rng, l.param("rolling_variance"), c, 0.1f, 2);
  const std::vector<float> old_mean(l.param("rolling_mean"), l.param("rolling_mean") + c);
  const std::vector<float> old_var(l.param("rolling_variance"), l.param("rolling_variance") + c);
  std::vector<float> x(size_t(batch * c * hw));
  fill(rng, x.data(), x.size(), -3, 5);
  net.set_training(true);
  net.forward_backward(x.data(), nullptr, rng);
  Tensor y = net.output(0);
  for (int ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < hw; ++i) sum += x[size_t((b * c + ch) * hw + i)];
    const double mean = sum / count;
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < hw; ++i) sq += std::pow(x[size_t((b * c + ch) * hw + i)] - mean, 2);
    const double var = sq / count;
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < hw; ++i) {
        size_t k = size_t((b * c + ch) * hw + i);
        double expected = l.param("scales")[ch] * (x[k] - mean) / std::sqrt(var + kEpsilon) +
                          l.param("biases")[ch];
        EXPECT_NEAR(y.data[k], expected, 1e-5 * (1 + std::fabs(expected)));
      }
    EXPECT_NEAR(l.param("rolling_mean")[ch], 0.99 * old_mean[size_t(ch)] + 0.01 * mean, 1e-6);
    EXPECT_NEAR(l.param("rolling_variance")[ch],
                0.99 * old_var[size_t(ch)] + 0.01 * sq / (count - 1), 1e-5);
  }
}

TEST(BatchnormLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  Network net = build(net_header(2, 2, 3, 2) + test::kGradcheckInput + "[batchnorm]\n" +
                      "[activation]\nactivation=tanh\n" + test::kGradcheckLoss);
  Layer& l = net.layer(1);
  fill(rng, l.param("biases"), 3, -0.5f, 0.5f);
  fill(rng, l.param("scales"), 3, 0.5f, 1.5f);
  std::vector<float> x(net.input_shape().size());
  fill(rng, x.data(), x.size(), -2, 2);
  // Normalisation divides by a batch standard deviation of ~1: a smaller step keeps the
  // second-order error of the differences small.
  test::GradcheckOptions o;
  o.step = 3e-3;
  test::expect_gradients_match(net, x, loss_weights(net, rng), o);
}

TEST(BatchnormLayer, RejectsUnknownKeys) {
  EXPECT_ERROR_CONTAINS(build(net_header(2, 2, 3) + "[batchnorm]\nfilters=3\n"),
                        "b.cfg:7: [batchnorm] key 'filters' is not known for [batchnorm]");
}

}  // namespace
}  // namespace mishnet
