// Blocked (nChw16c) inference tensors: the planner's rules on small graphs, and whole networks
// that give the same outputs with and without them (the OpenCV parity tests of the Darknet cfgs
// also run with them, as every inference does by default).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/layout_plan.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

using B = BlockedSupport;

LayoutNode node(B support, std::vector<int> inputs, int channels, bool kept = false) {
  return LayoutNode{support, std::move(inputs), channels, kept};
}

TEST(LayoutPlan, ConvChainStaysBlockedUpToAnNchwConsumer) {
  // conv -> conv -> conv -> yolo-like consumer (none)
  std::vector<LayoutNode> g{node(B::any, {-1}, 32), node(B::any, {0}, 64),
                            node(B::any, {1}, 48), node(B::none, {2}, 48, true)};
  EXPECT_EQ(plan_blocked_layouts(g), (std::vector<bool>{true, true, false, false}));
}

TEST(LayoutPlan, ChannelsOtherThanWholeBlocksAndKeptOutputsStayNchw) {
  std::vector<LayoutNode> g{node(B::any, {-1}, 24), node(B::any, {0}, 32, true),
                            node(B::any, {1}, 32), node(B::any, {2}, 16)};
  // 0: 24 channels; 1: kept; 3: nobody reads it but it is not kept: blocked is allowed.
  EXPECT_EQ(plan_blocked_layouts(g), (std::vector<bool>{false, false, true, true}));
}

TEST(LayoutPlan, FollowerNeedsAllInputsBlockedAndUnblocksItsProducers) {
  // 0 conv, 1 a layer that only writes NCHW, 2 route of both, 3 conv reading the route.
  std::vector<LayoutNode> g{node(B::any, {-1}, 32), node(B::none, {-1}, 32),
                            node(B::follows, {0, 1}, 64), node(B::any, {2}, 32)};
  // The route cannot be blocked (input 1 is NCHW), so conv 0, whose consumer is the route,
  // must write NCHW too.
  EXPECT_EQ(plan_blocked_layouts(g), (std::vector<bool>{false, false, false, true}));
}

TEST(LayoutPlan, UnblockingTravelsBackThroughChainsOfFollowers) {
  // conv -> route -> maxpool -> upsample -> NCHW-only consumer
  std::vector<LayoutNode> g{node(B::any, {-1}, 32), node(B::follows, {0}, 32),
                            node(B::follows, {1}, 32), node(B::follows, {2}, 32),
                            node(B::none, {3}, 32)};
  EXPECT_EQ(plan_blocked_layouts(g), (std::vector<bool>(5, false)));
  g[4].support = B::any;  // a convolution instead: the whole chain can stay blocked
  EXPECT_EQ(plan_blocked_layouts(g), (std::vector<bool>(5, true)));
}

TEST(LayoutPlan, FollowerOfTheNetworkInputStaysNchw) {
  std::vector<LayoutNode> g{node(B::follows, {-1}, 16), node(B::any, {0}, 16)};
  EXPECT_EQ(plan_blocked_layouts(g), (std::vector<bool>{false, true}));
}

// --- Whole networks: blocked against all-NCHW, same weights and input ---

// Relative tolerance as in the OpenCV parity tests (tests/parity/parity_util.h): the blocked
// plan picks other kernels for some convolutions (oneDNN's 1x1 and direct nChw16c kernels
// instead of sgemm and brgconv on NHWC), which sum in another order; the differences are a few
// ulps per convolution, compounded over the layers. A wrong layout reads channels of other
// pixels: differences of order 1.
constexpr double kTolerance = 1e-3;

struct Compared {
  int blocked_layers = 0;
};

Compared expect_same_outputs(const std::string& cfg, int size, int batch) {
  std::vector<Network> nets;
  for (bool blocked : {true, false}) {
    NetworkOptions o;
    o.width = o.height = size;
    o.batch = batch;
    o.blocked_layout = blocked;
    nets.push_back(Network::from_cfg_file(cfg, o));
    init_weights(nets.back(), test::test_seed());
  }
  std::vector<int> heads;
  for (int i = 0; i < nets[0].num_layers(); ++i)
    if (nets[0].layer(i).is_detection_output()) heads.push_back(i);
  heads.push_back(nets[0].num_layers() - 1);
  std::mt19937_64 rng(test::test_seed() + 5);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> input(nets[0].input_shape().size());
  for (float& v : input) v = unit(rng);
  std::vector<std::vector<float>> got[2];
  for (int k = 0; k < 2; ++k) {
    nets[size_t(k)].forward(input.data());
    for (int h : heads) {
      Tensor t = nets[size_t(k)].output(h);
      got[k].emplace_back(t.data, t.data + t.size());
    }
  }
  Compared c;
  for (int i = 0; i < nets[0].num_layers(); ++i) {
    c.blocked_layers += nets[0].layer(i).output_blocked;
    EXPECT_FALSE(nets[1].layer(i).output_blocked) << cfg << " layer " << i;
  }
  for (size_t h = 0; h < heads.size(); ++h) {
    double max_ref = 0, max_diff = 0;
    for (size_t j = 0; j < got[1][h].size(); ++j) {
      max_ref = std::max(max_ref, std::fabs(double(got[1][h][j])));
      const double d = std::fabs(double(got[0][h][j]) - got[1][h][j]);
      max_diff = std::isnan(d) ? INFINITY : std::max(max_diff, d);
    }
    EXPECT_LE(max_diff, kTolerance * std::max(1.0, max_ref))
        << cfg << ": layer " << heads[h] << " differs between the blocked and NCHW plans";
  }
  return c;
}

TEST(BlockedLayout, OwnCfgsGiveTheSameOutputs) {
  for (const char* name : {"fashion-csp-mish.cfg", "fashion-yolo-mish.cfg"}) {
    Compared c = expect_same_outputs(std::string(MISHNET_SOURCE_DIR) + "/cfg/" + name, 0, 2);
    EXPECT_GT(c.blocked_layers, 0) << name << ": nothing was kept blocked; the test tests nothing";
  }
}

TEST(BlockedLayout, Yolov4TinyGivesTheSameOutputs) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  Compared c = expect_same_outputs(test::shared_cfg("yolov4-tiny.cfg"), 160, 2);
  // Every conv, route and maxpool output but the two heads' inputs and the heads themselves
  // (38 layers: 29, 30, 36, 37 stay NCHW).
  EXPECT_EQ(c.blocked_layers, 34);
}

TEST(BlockedLayout, Yolov4GivesTheSameOutputs) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4.cfg");
  Compared c = expect_same_outputs(test::shared_cfg("yolov4.cfg"), 128, 1);
  EXPECT_GT(c.blocked_layers, 100);
}

TEST(BlockedLayout, CsDarknet53OmegaGivesTheSameOutputs) {
  MISHNET_REQUIRE_SHARED_CFG("csdarknet53-omega.cfg");
  Compared c = expect_same_outputs(test::shared_cfg("csdarknet53-omega.cfg"), 96, 1);
  EXPECT_GT(c.blocked_layers, 50);
}

// keep_outputs after a first forward pass re-plans: the kept layer turns NCHW, its neighbours'
// primitives are rebuilt for that, and the values read back are NCHW.
TEST(BlockedLayout, KeepingALayerLaterRebuildsItsNeighbours) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  std::vector<Network> nets;
  for (bool blocked : {true, false}) {
    NetworkOptions o;
    o.width = o.height = 96;
    o.batch = 1;
    o.blocked_layout = blocked;
    nets.push_back(Network::from_cfg_file(test::shared_cfg("yolov4-tiny.cfg"), o));
    init_weights(nets.back(), test::test_seed());
  }
  std::vector<float> input(nets[0].input_shape().size());
  std::mt19937_64 rng(test::test_seed() + 9);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (float& v : input) v = unit(rng);
  nets[0].forward(input.data());
  ASSERT_TRUE(nets[0].layer(10).output_blocked);
  for (Network& n : nets) {
    n.keep_outputs({10});
    n.forward(input.data());
  }
  EXPECT_FALSE(nets[0].layer(10).output_blocked);
  EXPECT_TRUE(nets[0].layer(9).output_blocked);
  Tensor a = nets[0].output(10), b = nets[1].output(10);
  double max_ref = 0, max_diff = 0;
  for (size_t j = 0; j < b.size(); ++j) {
    max_ref = std::max(max_ref, std::fabs(double(b.data[j])));
    max_diff = std::max(max_diff, std::fabs(double(a.data[j]) - b.data[j]));
  }
  EXPECT_LE(max_diff, kTolerance * std::max(1.0, max_ref));
}

}  // namespace
}  // namespace mishnet
