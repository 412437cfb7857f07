// Layer gradients share memory once dead (Network::plan_delta_arena): the shared blocks give
// the same gradients (the finite-difference and PyTorch tests cover the values), and a gradient
// whose memory was handed on is reported as gone rather than read as garbage.
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

}  // namespace
}  // namespace mishnet
