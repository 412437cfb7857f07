#include <gtest/gtest.h>

#include <random>

#include "mishnet/anchors.h"
#include "test_util.h"

namespace mishnet {
namespace {

// Three tight clusters of box sizes: k-means finds their centres, and the average IoU is high.
std::vector<AnchorSize> clustered_sizes() {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  const AnchorSize centres[3] = {{10, 14}, {60, 30}, {150, 220}};
  std::vector<AnchorSize> sizes;
  for (int i = 0; i < 300; ++i) {
    const AnchorSize& c = centres[i % 3];
    sizes.push_back({c.w * (1 + 0.05f * noise(rng)), c.h * (1 + 0.05f * noise(rng))});
  }
  return sizes;
}

TEST(Anchors, KMeansFindsSyntheticClusters) {
  std::vector<AnchorSize> sizes = clustered_sizes();
  AnchorClusters k = kmeans_anchors(sizes, 3, 1);
  ASSERT_EQ(k.anchors.size(), 3u);
  EXPECT_NEAR(k.anchors[0].w, 10, 0.5);
  EXPECT_NEAR(k.anchors[0].h, 14, 0.5);
  EXPECT_NEAR(k.anchors[1].w, 60, 2);
  EXPECT_NEAR(k.anchors[1].h, 30, 2);
  EXPECT_NEAR(k.anchors[2].w, 150, 5);
  EXPECT_NEAR(k.anchors[2].h, 220, 5);
  EXPECT_GT(k.avg_iou, 0.85);
  // Deterministic for a seed; fewer clusters fit worse.
  AnchorClusters again = kmeans_anchors(sizes, 3, 1);
  EXPECT_EQ(format_anchors(k.anchors), format_anchors(again.anchors));
  EXPECT_LT(kmeans_anchors(sizes, 2, 1).avg_iou, k.avg_iou);
  EXPECT_EQ(format_anchors({{10.4f, 14}, {60, 30.6f}}), "10,14, 60,31");
  EXPECT_EQ(format_anchors({{1.5f, 2.25f}}, true), "1.5000,2.2500");
  EXPECT_ERROR_CONTAINS(kmeans_anchors({{1, 1}}, 2, 1), "fewer than the 2 clusters");
}

TEST(Anchors, SizeIou) {
  EXPECT_FLOAT_EQ(size_iou({10, 10}, {10, 10}), 1.0f);
  EXPECT_FLOAT_EQ(size_iou({10, 10}, {5, 20}), 50.0f / 150.0f);
}

TEST(Anchors, RewritesCfgAnchorsAndChecksNum) {
  const std::string cfg =
      "[net]\nwidth=416\n\n[yolo]\nmask = 0,1\nanchors = 1,2, 3,4, 5,6\nclasses=2\nnum=3\n\n"
      "[convolutional]\nfilters=3\n\n[yolo]\nmask=2\n  anchors=1,2, 3,4, 5,6\nnum=3\n";
  std::vector<int> changed;
  std::string out = rewrite_cfg_anchors(cfg, "t.cfg", {{10, 14}, {60, 30}, {150, 220}}, &changed);
  EXPECT_EQ(changed, (std::vector<int>{6, 15}));
  EXPECT_NE(out.find("\nanchors = 10,14, 60,30, 150,220\nclasses=2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n  anchors = 10,14, 60,30, 150,220\nnum=3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("[net]\nwidth=416\n\n[yolo]\nmask = 0,1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n\n[convolutional]\nfilters=3\n\n[yolo]\nmask=2\n"), std::string::npos) << out;
  EXPECT_ERROR_CONTAINS(rewrite_cfg_anchors(cfg, "t.cfg", {{1, 1}, {2, 2}}), "t.cfg:8: num=3 but 2 anchors");
  EXPECT_ERROR_CONTAINS(rewrite_cfg_anchors("[net]\nwidth=1\n", "n.cfg", {{1, 1}}), "n.cfg: no anchors= line");
}

}  // namespace
}  // namespace mishnet
