// [crop]: keys, the centre window and 2x-1 scaling of inference, Darknet's CPU random window
// and flip in training, the gradient, and errors.
#include <algorithm>
#include <numeric>
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

Network build(const std::string& text) { return Network::from_cfg(parse_cfg_text(text, "c.cfg")); }

// The loss weights r of test::expect_gradients_match: one per float of the output.
std::vector<float> loss_weights(const Network& net, std::mt19937_64& rng) {
  return test::random_values(net.truth_floats() * size_t(net.batch()), rng);
}

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(CropLayer, ReadsEveryDarknetKey) {
  Network net = build(net_header(5, 4, 2) +
                      "[crop]\ncrop_height=3\ncrop_width=2\nflip=1\nangle=7\nsaturation=1.5\n"
                      "exposure=1.5\nshift=.2\nnoadjust=1\n");
  const Layer& l = net.layer(0);
  EXPECT_STREQ(l.type(), "crop");
  EXPECT_EQ(l.output_shape, (Shape{1, 2, 3, 2}));
  EXPECT_EQ(l.bflops(), 0.0);
  EXPECT_EQ(build(net_header(5, 4, 2) + "[crop]\n").layer(0).output_shape, (Shape{1, 2, 1, 1}));
}

// Centre window ((h - ch)/2, (w - cw)/2) = (1, 1) of a 5x4 plane, y = 2x - 1.
TEST(CropLayer, InferenceTakesTheCentreScaledToMinusOneOne) {
  Network net = build(net_header(5, 4, 2) + "[crop]\ncrop_height=2\ncrop_width=3\nflip=1\n");
  Tensor y = net.forward(iota(40).data());
  // Plane 0 rows 1..2, columns 1..3: 6 7 8 / 11 12 13; plane 1 adds 20.
  std::vector<float> expected;
  for (float v : {6, 7, 8, 11, 12, 13, 26, 27, 28, 31, 32, 33}) expected.push_back(2 * v - 1);
  EXPECT_EQ(std::vector<float>(y.data, y.data + y.size()), expected);

  Network plain = build(net_header(5, 4, 1) + "[crop]\ncrop_height=2\ncrop_width=2\nnoadjust=1\n");
  Tensor z = plain.forward(iota(20).data());
  EXPECT_EQ(std::vector<float>(z.data, z.data + z.size()), (std::vector<float>{6, 7, 11, 12}));
}

// Training: one window per batch (Darknet draws one), anywhere it fits, mirrored half the time.
TEST(CropLayer, TrainingDrawsOneWindowPerBatch) {
  const int w = 5, h = 4, cw = 2, ch = 3, batch = 2;
  Network net = build(net_header(w, h, 1, batch) +
                      "[crop]\ncrop_height=3\ncrop_width=2\nflip=1\n"
                      "noadjust=1\n" +
                      test::kGradcheckLoss);
  net.set_training(true);
  std::vector<float> x = iota(size_t(w * h * batch));
  std::mt19937_64 rng(test::test_seed());
  bool seen_flip = false, seen_plain = false;
  std::vector<bool> seen_left(size_t(w - cw + 1)), seen_top(size_t(h - ch + 1));
  for (int draw = 0; draw < 200; ++draw) {
    net.forward_backward(x.data(), nullptr, rng);
    Tensor y = net.output(0);
    // The window is identified by its first output value (all input values differ).
    const int first = int(y.data[0]);
    const bool flipped = y.data[1] < y.data[0];
    const int top = first / w, left = flipped ? first % w - (cw - 1) : first % w;
    ASSERT_GE(top, 0);
    ASSERT_LE(top, h - ch);
    ASSERT_GE(left, 0);
    ASSERT_LE(left, w - cw);
    seen_top[size_t(top)] = seen_left[size_t(left)] = true;
    (flipped ? seen_flip : seen_plain) = true;
    for (int b = 0; b < batch; ++b)
      for (int r = 0; r < ch; ++r)
        for (int j = 0; j < cw; ++j) {
          const int col = flipped ? left + cw - 1 - j : left + j;
          EXPECT_EQ(y.data[(b * ch + r) * cw + j], x[size_t((b * h + top + r) * w + col)]);
        }
  }
  EXPECT_TRUE(seen_flip && seen_plain);
  EXPECT_TRUE(std::all_of(seen_top.begin(), seen_top.end(), [](bool s) { return s; }));
  EXPECT_TRUE(std::all_of(seen_left.begin(), seen_left.end(), [](bool s) { return s; }));
}

TEST(CropLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  for (const char* keys : {"noadjust=1\n", "flip=1\n"}) {
    SCOPED_TRACE(keys);
    Network net = build(net_header(4, 3, 2, 2) + test::kGradcheckInput +
                        "[crop]\ncrop_height=2\ncrop_width=3\n" + keys +
                        "[activation]\nactivation=logistic\n" + test::kGradcheckLoss);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> x(net.input_shape().size());
    for (auto& v : x) v = u(rng);
    test::GradcheckOptions o;
    o.seed = rng();
    test::expect_gradients_match(net, x, loss_weights(net, rng), o);
  }
}

TEST(CropLayer, RejectsBadWindowsAndGpuOnlyAugmentationInTraining) {
  EXPECT_ERROR_CONTAINS(build(net_header(5, 4, 1) + "[crop]\ncrop_height=5\ncrop_width=2\n"),
                        "c.cfg:7: [crop] 'crop_height': must be in [1, 4]");
  EXPECT_ERROR_CONTAINS(build(net_header(5, 4, 1) + "[crop]\ncrop_height=2\ncrop_width=0\n"),
                        "[crop] 'crop_width': must be in [1, 5] (the input width), got 0");
  Network net = build(net_header(5, 4, 1) + "[crop]\ncrop_height=2\ncrop_width=2\nangle=10\n");
  EXPECT_ERROR_CONTAINS(net.set_training(true), "c.cfg:6: [crop] layer 0: training with angle");
  // Inference ignores the training-only keys.
  Network inference = build(net_header(5, 4, 1) +
                            "[crop]\ncrop_height=2\ncrop_width=2\n"
                            "angle=10\nsaturation=2\nexposure=2\nshift=.5\nnoadjust=1\n");
  Tensor y = inference.forward(iota(20).data());
  EXPECT_EQ(std::vector<float>(y.data, y.data + y.size()), (std::vector<float>{6, 7, 11, 12}));
}

}  // namespace
}  // namespace mishnet
