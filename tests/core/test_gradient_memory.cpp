// Training memory (Network::plan_backward_memory): layer gradients share memory once dead, and
// outputs the backward pass reads are rebuilt then instead of kept (Layer::recompute_output).
// Both give the same gradients, bit for bit (the finite-difference and PyTorch tests cover the
// values), and a gradient whose memory was handed on is reported as gone rather than read as
// garbage.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gradcheck_util.h"
#include "mishnet/network.h"
#include "test_util.h"

using mishnet::test::kGradcheckInput;
using mishnet::test::kGradcheckLoss;
using mishnet::test::network_from_text;

namespace mishnet {
namespace {

std::string conv(int filters) {
  return "[convolutional]\nfilters=" + std::to_string(filters) +
         "\nsize=1\nstride=1\npad=0\nbatch_normalize=1\nactivation=mish\n";
}

TEST(GradientMemory, ChainReusesDeadGradientsAndSaysSo) {
  std::string text = "[net]\nwidth=4\nheight=4\nchannels=2\n" + std::string(kGradcheckInput);
  for (int i = 0; i < 6; ++i) text += conv(2);
  text += kGradcheckLoss;
  Network net = network_from_text(text, 2);
  net.set_training(true);
  const Shape in = net.input_shape();
  std::vector<float> input(in.size()), truth(net.truth_floats() * size_t(in.n));
  std::mt19937_64 rng(test::test_seed());
  std::normal_distribution<float> normal;
  for (float& v : input) v = normal(rng);
  for (float& v : truth) v = normal(rng);
  net.forward_backward(input.data(), truth.data(), rng);
  // The first layers' gradients are computed last and stay; the deep ones' memory went to them.
  EXPECT_NO_THROW(net.delta(0));
  EXPECT_NO_THROW(net.delta(1));
  EXPECT_ERROR_CONTAINS(net.delta(4), "reused");
  // A second pass on the same input gives the same gradient: every block was zeroed when it
  // went live again.
  const std::vector<float> first(net.delta(0).data, net.delta(0).data + net.delta(0).size());
  net.forward_backward(input.data(), truth.data(), rng);
  EXPECT_EQ(std::vector<float>(net.delta(0).data, net.delta(0).data + net.delta(0).size()), first);
}

// A CSP-like block: convolutions with batch norm, a route with groups and a concatenating one,
// a shortcut, maxpool and upsample, whose outputs the convolutions' weight gradients read.
const char* kCspBlock = R"([convolutional]
filters=8
size=3
stride=1
pad=1
batch_normalize=1
activation=mish

[route]
layers=-1
groups=2
group_id=1

[convolutional]
filters=4
size=1
stride=1
pad=0
batch_normalize=1
activation=leaky

[shortcut]
from=-2
activation=linear

[route]
layers=-1,-4

[maxpool]
size=2
stride=2

[convolutional]
filters=6
size=3
stride=1
pad=1
batch_normalize=1
activation=swish

[upsample]
stride=2

[convolutional]
filters=3
size=1
stride=1
pad=0
activation=linear
)";

// Rebuilding outputs in backward changes nothing: the same loss and parameter gradients as a
// network that keeps every output (keep_outputs of all layers turns rebuilding off). With
// optimized_memory=1 the Mish and Swish convolutions' outputs are rebuilt too.
class RebuiltOutputs : public testing::TestWithParam<int> {};

TEST_P(RebuiltOutputs, GiveTheGradientsOfKeptOnes) {
  const int optimized_memory = GetParam();
  const std::string text = "[net]\nwidth=8\nheight=8\nchannels=3\noptimized_memory=" +
                           std::to_string(optimized_memory) + "\n" + std::string(kCspBlock) +
                           kGradcheckLoss;
  Network rebuilt = network_from_text(text, 2), kept = network_from_text(text, 2);
  std::mt19937_64 rng(test::test_seed());
  std::normal_distribution<float> normal;
  for (size_t i = 0; i < rebuilt.num_params(); ++i) rebuilt.param_data()[i] = 0.3f * normal(rng);
  std::copy(rebuilt.param_data(), rebuilt.param_data() + rebuilt.num_params(), kept.param_data());
  std::vector<int> all(size_t(kept.num_layers()));
  for (int i = 0; i < kept.num_layers(); ++i) all[size_t(i)] = i;
  kept.keep_outputs(all);
  rebuilt.set_training(true);
  kept.set_training(true);
  const Shape in = rebuilt.input_shape();
  std::vector<float> input(in.size()), truth(rebuilt.truth_floats() * size_t(in.n));
  for (float& v : input) v = normal(rng);
  for (float& v : truth) v = normal(rng);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses the planned places
    SCOPED_TRACE(pass);
    std::mt19937_64 rng_a(7), rng_b(7);
    rebuilt.zero_grads();
    kept.zero_grads();
    EXPECT_EQ(rebuilt.forward_backward(input.data(), truth.data(), rng_a),
              kept.forward_backward(input.data(), truth.data(), rng_b));
    for (size_t i = 0; i < rebuilt.num_params(); ++i)
      ASSERT_EQ(rebuilt.grad_data()[i], kept.grad_data()[i]) << "parameter " << i;
  }
  // The grouped route's output, which the next convolution's weight gradient reads: under
  // optimized_memory=1 rebuilt from the Mish convolution's x_hat; by default kept (its input,
  // the Mish convolution's output, is neither kept nor cheap to rebuild). The network that keeps
  // everything has every output.
  if (optimized_memory >= 1) {
    EXPECT_ERROR_CONTAINS(rebuilt.output(1), "was not kept");
  } else {
    EXPECT_NO_THROW(rebuilt.output(1));
  }
  EXPECT_NO_THROW(kept.output(1));
}

INSTANTIATE_TEST_SUITE_P(OptimizedMemory, RebuiltOutputs, testing::Values(0, 1));

// The default rebuilds a convolution output with a cheap activation: a leaky convolution's
// output read by the next convolution's weight gradient is not kept.
TEST(GradientMemory, CheapActivationsAreRebuiltByDefault) {
  const std::string text = "[net]\nwidth=8\nheight=8\nchannels=3\n" + conv(4) +
                           "[convolutional]\nfilters=3\nsize=1\nstride=1\npad=0\n"
                           "batch_normalize=1\nactivation=leaky\n" +
                           conv(2) + kGradcheckLoss;
  Network net = network_from_text(text, 2);
  net.set_training(true);
  std::vector<float> input(net.input_shape().size(), 0.5f), truth(net.truth_floats() * 2, 1.0f);
  std::mt19937_64 rng(1);
  net.forward_backward(input.data(), truth.data(), rng);
  EXPECT_NO_THROW(net.output(0));  // Mish: kept for the leaky convolution's weight gradient
  EXPECT_ERROR_CONTAINS(net.output(1), "was not kept");  // leaky: rebuilt when needed
}

}  // namespace
}  // namespace mishnet
