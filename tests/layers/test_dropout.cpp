// [dropout]: identity in inference; Darknet's training rule (drop with probability p, scale
// the rest by 1/(1-p)) with the mask kept for backward; dropblock is refused.
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

TEST(Dropout, InferenceIsTheIdentity) {
  Network net = network_from_text(net_text(3, 2, 2) + "[dropout]\nprobability=0.9\n");
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 2, 2, 3}));
  std::mt19937_64 rng(test_seed());
  const std::vector<float> in = random_values(12, rng);
  EXPECT_EQ(forward_output(net, in, 1), in);
}

TEST(Dropout, TrainingDropsAboutPAndScalesTheRest) {
  const int batch = 2;
  Network net = network_from_text(
      net_text(100, 100, 1) + "[dropout]\nprobability=0.3\n" + kGradcheckLoss, batch);
  net.set_training(true);
  std::mt19937_64 rng(test_seed());
  const std::vector<float> in = random_values(net.input_shape().size(), rng, 1.0f, 2.0f);
  const std::vector<float> r(in.size(), 1.0f);
  std::mt19937_64 run(test_seed());
  net.forward_backward(in.data(), r.data(), run);
  const std::vector<float> out = to_vector(net.output(1)), d = to_vector(net.delta(0));
  const float scale = float(1.0 / (1.0 - 0.3));
  size_t dropped = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (out[i] == 0.0f) {
      ++dropped;
      EXPECT_EQ(d[i], 0.0f);
    } else {
      ASSERT_EQ(out[i], in[i] * scale) << i;
      ASSERT_EQ(d[i], scale) << i;  // the gradient passes the same mask and scale
    }
  }
  // 20000 draws: the standard deviation of the fraction is 0.0032; 0.02 is over 6 of them.
  EXPECT_NEAR(double(dropped) / double(in.size()), 0.3, 0.02);

  // The same seed gives the same mask; another seed another one.
  std::mt19937_64 same(test_seed());
  net.forward_backward(in.data(), r.data(), same);
  EXPECT_EQ(to_vector(net.output(1)), out);
  std::mt19937_64 other(test_seed() + 1);
  net.forward_backward(in.data(), r.data(), other);
  EXPECT_NE(to_vector(net.output(1)), out);
}

TEST(Dropout, ZeroProbabilityKeepsEverything) {
  Network net =
      network_from_text(net_text(4, 1, 1) + "[dropout]\nprobability=0\n" + kGradcheckLoss);
  net.set_training(true);
  const std::vector<float> in = {1, 2, 3, 4}, r = {1, 1, 1, 1};
  std::mt19937_64 rng(1);
  net.forward_backward(in.data(), r.data(), rng);
  EXPECT_EQ(to_vector(net.output(1)), in);
}

TEST(Dropout, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test_seed());
  Network net =
      network_from_text(net_text(4, 3, 2) + "[dropout]\nprobability=0.5\n" + kGradcheckLoss, 2);
  GradcheckOptions o;
  o.seed = test_seed();  // every forward draws the same mask from this seed
  expect_gradients_match(net, random_values(net.input_shape().size(), rng),
                         random_values(net.input_shape().size(), rng), o);
}

TEST(Dropout, RejectsDropblockAndBadProbabilities) {
  auto build = [](const std::string& layer) {
    return network_from_text(net_text(4, 4, 1) + layer);
  };
  EXPECT_ERROR_CONTAINS(build("[dropout]\nprobability=1\n"),
                        "test.cfg:7: [dropout] 'probability': must be in [0, 1), got 1");
  EXPECT_ERROR_CONTAINS(build("[dropout]\nprobability=-0.1\n"), "'probability'");
  EXPECT_ERROR_CONTAINS(build("[dropout]\ndropblock=1\ndropblock_size_abs=2\n"),
                        "'dropblock': is not supported");
  EXPECT_NO_THROW(build("[dropout]\ndropblock=0\ndropblock_size_rel=0.5\n"));
  EXPECT_ERROR_CONTAINS(build("[dropout]\nprobabilty=0.5\n"), "key 'probabilty' is not known");
}

}  // namespace
}  // namespace mishnet::test
