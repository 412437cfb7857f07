// get_detections over a real detector (yolov4-tiny, two [yolo] heads), end to end.
#include <cmath>
#include <random>
#include <vector>

#include "mishnet/detection.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

TEST(Detections, Yolov4TinyEndToEnd) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  for (const char* t : {"route", "maxpool", "upsample"})
    if (!layer_registry().count(t)) GTEST_SKIP() << "[" << t << "] is not registered yet";
  NetworkOptions opt;
  opt.width = opt.height = 128;  // grids 4x4 and 8x8: fast, same geometry
  opt.batch = 1;
  Network net = Network::from_cfg_file(test::shared_cfg("yolov4-tiny.cfg"), opt);
  init_weights(net, test::test_seed());
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> input(net.input_shape().size());
  for (float& v : input) v = u(rng);
  net.forward(input.data());

  // Count by hand: objectness is entry 4 of each anchor block of each [yolo] output.
  const float thresh = 0.3f;
  size_t expected = 0;
  std::vector<int> heads;
  for (int i = 0; i < net.num_layers(); ++i) {
    if (!net.layer(i).is_detection_output()) continue;
    heads.push_back(i);
    Tensor out = net.output(i);
    const int plane = out.shape.h * out.shape.w;
    for (int a = 0; a < 3; ++a)
      for (int p = 0; p < plane; ++p)
        if (out.data[(a * 85 + 4) * plane + p] > thresh) ++expected;
  }
  ASSERT_EQ(heads, (std::vector<int>{30, 37}));
  std::vector<Detection> dets = get_detections(net, 640, 480, thresh, true);
  ASSERT_EQ(dets.size(), expected);
  ASSERT_GT(expected, 0u) << "random weights gave no box above " << thresh;
  for (const Detection& d : dets) {
    ASSERT_EQ(d.classes, 80);
    ASSERT_GT(d.objectness, thresh);
    ASSERT_TRUE(std::isfinite(d.box.x) && std::isfinite(d.box.y) && d.box.w > 0 && d.box.h > 0);
    for (float p : d.prob) ASSERT_TRUE(p == 0 || (p > thresh && p <= d.objectness));
  }

  NmsKind kind;
  float beta;
  network_nms_settings(net, kind, beta);
  EXPECT_EQ(kind, NmsKind::greedy_diou);  // nms_kind=greedynms in yolov4-tiny.cfg
  size_t before = 0, after = 0;
  for (const Detection& d : dets)
    for (float p : d.prob) before += p > 0;
  nms_sort(dets, 0.45f, kind, beta);
  for (const Detection& d : dets)
    for (float p : d.prob) after += p > 0;
  EXPECT_LE(after, before);
  EXPECT_EQ(dets.size(), expected);
}

}  // namespace
}  // namespace mishnet
