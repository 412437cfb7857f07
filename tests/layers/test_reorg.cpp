// [reorg] and [reorg3d]: shapes, hand-computed permutations (Darknet's reorg_cpu with the
// dimensions each layer gives it), round trips, gradients, errors, and the cfg that uses them.
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

Network build(const std::string& text) { return Network::from_cfg(parse_cfg_text(text, "r.cfg")); }

// The loss weights r of test::expect_gradients_match: one per float of the output.
std::vector<float> loss_weights(const Network& net, std::mt19937_64& rng) {
  return test::random_values(net.truth_floats() * size_t(net.batch()), rng);
}

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

std::vector<float> run(Network& net, const std::vector<float>& input) {
  Tensor y = net.forward(input.data());
  return std::vector<float>(y.data, y.data + y.size());
}

std::vector<float> random_input(const Network& net, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(net.input_shape().size());
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(ReorgLayer, OutputShapes) {
  EXPECT_EQ(build(net_header(4, 6, 3) + "[reorg3d]\nstride=2\n").layer(0).output_shape,
            (Shape{1, 12, 3, 2}));
  EXPECT_EQ(build(net_header(4, 4, 16) + "[reorg3d]\nstride=2\nreverse=1\n").layer(0).output_shape,
            (Shape{1, 4, 8, 8}));
  EXPECT_EQ(build(net_header(6, 6, 8) + "[reorg]\nstride=2\n").layer(0).output_shape,
            (Shape{1, 32, 3, 3}));
  EXPECT_EQ(build(net_header(2, 3, 8) + "[reorg]\nstride=2\nreverse=1\n").layer(0).output_shape,
            (Shape{1, 2, 6, 4}));
  const Network three = build(net_header(9, 9, 9) + "[reorg]\nstride=3\n");
  EXPECT_EQ(three.layer(0).output_shape, (Shape{1, 81, 3, 3}));
  EXPECT_EQ(three.layer(0).bflops(), 0.0);  // Darknet counts no BFLOPs for reorg
  EXPECT_EQ(three.layer(0).summary_geometry(), "/3");
  EXPECT_STREQ(three.layer(0).type(), "reorg");
}

// [reorg3d] reverse=0 is a true space-to-depth with Darknet's channel order:
// out[k][j][i] = in[k % c][2j + (k/c)/2][2i + (k/c)%2].
TEST(ReorgLayer, Reorg3dIsSpaceToDepth) {
  Network net = build(net_header(2, 2, 2) + "[reorg3d]\nstride=2\n");
  EXPECT_EQ(run(net, iota(8)), (std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}));
  Network four = build(net_header(2, 2, 4) + "[reorg3d]\nstride=2\n");
  EXPECT_EQ(run(four, iota(16)),
            (std::vector<float>{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15}));
}

// [reorg] reverse=0 reads the 4x2x2 input as one 4x4 plane and writes 16 1x1 channels: the
// YOLOv2 reorg (and OpenCV's Reorg layer), not a space-to-depth of the 4 channels.
TEST(ReorgLayer, OldReorgReadsTheInputAsFewerLargerPlanes) {
  Network net = build(net_header(2, 2, 4) + "[reorg]\nstride=2\n");
  EXPECT_EQ(run(net, iota(16)),
            (std::vector<float>{0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15}));
}

// [reorg] reverse=1 is a true depth-to-space: out[k % c'][2j + (k/c')/2][2i + (k/c')%2] = in[k].
TEST(ReorgLayer, OldReorgReverseIsDepthToSpace) {
  Network net = build(net_header(1, 1, 8) + "[reorg]\nstride=2\nreverse=1\n");
  EXPECT_EQ(run(net, iota(8)), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
}

// [reorg3d] reverse=1 gives reorg_cpu the output's (c/4, 2h, 2w) and so scatters into a
// (c/16, 4h, 4w) view of the output: here one 4x4 plane, read back as four 2x2 channels.
TEST(ReorgLayer, Reorg3dReverseReinterpretsBothBuffers) {
  Network net = build(net_header(1, 1, 16) + "[reorg3d]\nstride=2\nreverse=1\n");
  EXPECT_EQ(run(net, iota(16)),
            (std::vector<float>{0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15}));
}

// Pairs that invert each other in Darknet: reorg3d / reorg reverse=1, and reorg / reorg3d
// reverse=1 (the reverse flags do not invert their own layer's forward in general).
TEST(ReorgLayer, RoundTripsAreIdentity) {
  std::mt19937_64 rng(test::test_seed());
  Network a = build(net_header(6, 4, 3, 2) + "[reorg3d]\nstride=2\n[reorg]\nstride=2\nreverse=1\n");
  std::vector<float> x = random_input(a, rng);
  EXPECT_EQ(run(a, x), x);
  Network b = build(net_header(4, 8, 4, 2) + "[reorg]\nstride=2\n[reorg3d]\nstride=2\nreverse=1\n");
  x = random_input(b, rng);
  EXPECT_EQ(run(b, x), x);
  Network c = build(net_header(6, 6, 2, 1) + "[reorg3d]\nstride=3\n[reorg]\nstride=3\nreverse=1\n");
  x = random_input(c, rng);
  EXPECT_EQ(run(c, x), x);
}

TEST(ReorgLayer, BatchImagesAreIndependent) {
  std::mt19937_64 rng(test::test_seed());
  for (const char* section :
       {"[reorg3d]\nstride=2\n", "[reorg]\nstride=2\n", "[reorg]\nstride=2\nreverse=1\n"}) {
    Network batched = build(net_header(4, 4, 16, 3) + section);
    Network single = build(net_header(4, 4, 16, 1) + section);
    std::vector<float> x = random_input(batched, rng);
    std::vector<float> all = run(batched, x);
    const size_t in = 4 * 4 * 16, out = all.size() / 3;
    for (size_t b = 0; b < 3; ++b) {
      std::vector<float> one(x.begin() + long(b * in), x.begin() + long((b + 1) * in));
      std::vector<float> y = run(single, one);
      EXPECT_TRUE(std::equal(y.begin(), y.end(), all.begin() + long(b * out))) << section;
    }
  }
}

// Permutations: the finite differences are exact up to rounding.
TEST(ReorgLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  for (const char* section : {"[reorg3d]\nstride=2\n", "[reorg3d]\nstride=2\nreverse=1\n",
                              "[reorg]\nstride=2\n", "[reorg]\nstride=2\nreverse=1\n"}) {
    SCOPED_TRACE(section);
    Network net = build(net_header(2, 4, 16, 2) + test::kGradcheckInput + section +
                        "[activation]\nactivation=tanh\n" + test::kGradcheckLoss);
    test::expect_gradients_match(net, random_input(net, rng), loss_weights(net, rng));
  }
}

TEST(ReorgLayer, RejectsBadGeometry) {
  EXPECT_ERROR_CONTAINS(build(net_header(4, 4, 4) + "[reorg3d]\nstride=0\n"),
                        "r.cfg:7: [reorg3d] 'stride': must be at least 1");
  EXPECT_ERROR_CONTAINS(build(net_header(5, 4, 4) + "[reorg3d]\nstride=2\n"),
                        "the input 5x4 is not divisible by stride 2");
  EXPECT_ERROR_CONTAINS(
      build(net_header(4, 4, 6) + "[reorg]\nstride=2\n"),
      "[reorg] 'stride': the input's 6 channels are not divisible by stride^2 = 4");
  EXPECT_ERROR_CONTAINS(build(net_header(4, 4, 6) + "[reorg]\nstride=2\nreverse=1\n"),
                        "[reorg] 'reverse': the input's 6 channels are not divisible by stride^2");
  EXPECT_ERROR_CONTAINS(build(net_header(4, 4, 8) + "[reorg3d]\nstride=2\nreverse=1\n"),
                        "reverse=1 needs the input's channels (8) divisible by stride^4 = 16");
  // Darknet's parse_reorg reads no activation: strict mode says so.
  EXPECT_ERROR_CONTAINS(build(net_header(4, 4, 4) + "[reorg3d]\nstride=2\nactivation=leaky\n"),
                        "key 'activation' is not known");
}

TEST(ReorgLayer, BuildsTheSamReorgBfmCfg) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-sam-mish-csp-reorg-bfm.cfg");
  NetworkOptions opt;
  opt.batch = 1;
  Network net = Network::from_cfg_file(test::shared_cfg("yolov4-sam-mish-csp-reorg-bfm.cfg"), opt);
  int reorgs = 0, sams = 0;
  for (int i = 0; i < net.num_layers(); ++i) {
    const Layer& l = net.layer(i);
    if (std::string(l.type()) == "reorg3d") {
      ++reorgs;
      EXPECT_EQ(l.output_shape.c, l.input_shape.c * 4);
      EXPECT_EQ(l.output_shape.w * 2, l.input_shape.w);
    }
    if (std::string(l.type()) == "sam") ++sams;
  }
  EXPECT_EQ(reorgs, 6);
  EXPECT_EQ(sams, 3);
}

}  // namespace
}  // namespace mishnet
