// Routes without copies (core/output_views.h): the placement rules on small graphs, and
// networks whose outputs at batch 1 (views) equal those at batch 2 (copies) image by image.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/output_views.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

ViewNode plain(int channels, size_t spatial = 10, bool kept = false) {
  return ViewNode{{}, channels, spatial, kept};
}

ViewNode route(std::vector<ChannelSource> sources, int channels, size_t spatial = 10) {
  return ViewNode{std::move(sources), channels, spatial, false};
}

TEST(OutputViews, SplitRouteIsAViewOfItsInput) {
  // 0: 64 channels; 1: route groups=2 group_id=1 of it.
  std::vector<ViewNode> g{plain(64), route({{0, 32, 32, 0}}, 32)};
  auto p = plan_output_views(g);
  EXPECT_EQ(p[0].root, 0);
  EXPECT_EQ(p[1].root, 0);
  EXPECT_EQ(p[1].offset, 32u * 10u);
}

TEST(OutputViews, ConcatTakesInWholeOutputsAndChainsResolve) {
  // 0, 1: convs; 2: concat(1, 0); 3: conv; 4: concat(2, 3).
  std::vector<ViewNode> g{plain(16), plain(32), route({{1, 0, 32, 0}, {0, 0, 16, 32}}, 48),
                          plain(8), route({{2, 0, 48, 0}, {3, 0, 8, 48}}, 56)};
  auto p = plan_output_views(g);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p[size_t(i)].root, 4) << i;
  EXPECT_EQ(p[1].offset, 0u);
  EXPECT_EQ(p[0].offset, 32u * 10u);
  EXPECT_EQ(p[2].offset, 0u);
  EXPECT_EQ(p[3].offset, 48u * 10u);
}

TEST(OutputViews, ConcatCopiesWhatItCannotPlace) {
  // 0 kept; 1 named twice; 2 a view (split of 3?) -- here: 2 is a split of 1; 3 the input.
  std::vector<ViewNode> g{plain(16, 10, true), plain(32), route({{1, 0, 16, 0}}, 16),
                          route({{0, 0, 16, 0}, {1, 0, 32, 16}, {1, 0, 32, 48}, {2, 0, 16, 80},
                                 {-1, 0, 3, 96}},
                                99)};
  auto p = plan_output_views(g);
  EXPECT_EQ(p[0].root, 0);  // kept
  EXPECT_EQ(p[1].root, 1);  // named twice
  EXPECT_EQ(p[2].root, 1);  // a view of 1, not moved into 3
  EXPECT_EQ(p[3].root, 3);
}

TEST(OutputViews, SourceAlreadyPlacedInAnotherConcatStaysThere) {
  std::vector<ViewNode> g{plain(16), plain(16), route({{0, 0, 16, 0}, {1, 0, 16, 16}}, 32),
                          route({{1, 0, 16, 0}, {0, 0, 16, 16}}, 32)};
  auto p = plan_output_views(g);
  EXPECT_EQ(p[0].root, 2);
  EXPECT_EQ(p[1].root, 2);
  EXPECT_EQ(p[3].root, 3);  // copies both
}

// A layer placed inside a route writes to the route's memory: keep_outputs shows the addresses.
TEST(OutputViews, NetworkPlacesSplitAndConcatWithoutCopies) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  NetworkOptions o;
  o.width = o.height = 96;
  o.batch = 1;
  Network net = Network::from_cfg_file(test::shared_cfg("yolov4-tiny.cfg"), o);
  init_weights(net, test::test_seed());
  std::vector<float> input(net.input_shape().size(), 0.5f);
  // 3: route layers=-1 groups=2 group_id=1 (of 2); 6: route layers=-1,-2 (5 then 4).
  net.keep_outputs({2, 3, 6});
  net.forward(input.data());
  const size_t spatial = size_t(net.output(2).shape.h) * size_t(net.output(2).shape.w);
  EXPECT_EQ(net.output(3).data, net.output(2).data + 32 * spatial);
  ASSERT_EQ(net.layer(6).inputs, (std::vector<int>{5, 4}));
}

// The same network at batch 2 (no views: each image's channels are not one run) gives each image
// what batch 1 (views) gives it. Tolerance as in test_layout_plan.cpp: oneDNN may block a batch
// of 2 differently, a few ulps per convolution.
void expect_batch1_equals_batch2(const std::string& cfg, int size) {
  std::vector<Network> nets;
  for (int batch : {1, 2}) {
    NetworkOptions o;
    o.width = o.height = size;
    o.batch = batch;
    nets.push_back(Network::from_cfg_file(cfg, o));
    init_weights(nets.back(), test::test_seed());
  }
  std::mt19937_64 rng(test::test_seed() + 3);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> one(nets[0].input_shape().size());
  for (float& v : one) v = unit(rng);
  std::vector<float> two(one);
  two.insert(two.end(), one.begin(), one.end());
  std::vector<int> heads;
  for (int i = 0; i < nets[0].num_layers(); ++i)
    if (nets[0].layer(i).is_detection_output()) heads.push_back(i);
  heads.push_back(nets[0].num_layers() - 1);
  nets[0].forward(one.data());
  nets[1].forward(two.data());
  EXPECT_LT(nets[0].arena_floats(), nets[1].arena_floats() / 2) << cfg;
  for (int h : heads) {
    Tensor a = nets[0].output(h), b = nets[1].output(h);
    for (int image = 0; image < 2; ++image) {
      double max_ref = 0, max_diff = 0;
      for (size_t j = 0; j < a.size(); ++j) {
        const double ref = b.data[size_t(image) * a.size() + j];
        max_ref = std::max(max_ref, std::fabs(ref));
        const double d = std::fabs(double(a.data[j]) - ref);
        max_diff = std::isnan(d) ? INFINITY : std::max(max_diff, d);
      }
      EXPECT_LE(max_diff, 1e-3 * std::max(1.0, max_ref)) << cfg << " layer " << h << " image " << image;
    }
  }
}

TEST(OutputViews, Yolov4TinyBatch1EqualsBatch2) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  expect_batch1_equals_batch2(test::shared_cfg("yolov4-tiny.cfg"), 128);
}

TEST(OutputViews, CsDarknet53OmegaBatch1EqualsBatch2) {
  MISHNET_REQUIRE_SHARED_CFG("csdarknet53-omega.cfg");
  expect_batch1_equals_batch2(test::shared_cfg("csdarknet53-omega.cfg"), 96);
}

TEST(OutputViews, OwnCfgsBatch1EqualsBatch2) {
  for (const char* name : {"fashion-csp-mish.cfg", "fashion-yolo-mish.cfg"})
    expect_batch1_equals_batch2(std::string(MISHNET_SOURCE_DIR) + "/cfg/" + name, 0);
}

}  // namespace
}  // namespace mishnet
