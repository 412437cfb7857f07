// [region] (YOLOv2) and [detection] (YOLOv1): keys, inference activations, decoding.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "layers/expect_error_parts.h"
#include "mishnet/cfg.h"
#include "mishnet/detection.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

Network build(const std::string& text, const std::string& name = "r.cfg") {
  return Network::from_cfg(parse_cfg_text(text, name));
}

std::string region_on_input(int w, int h, int channels, const std::string& keys) {
  return "[net]\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
         "\nchannels=" + std::to_string(channels) + "\n[region]\n" + keys;
}

// Entry e of anchor a at cell p of a [region] output with `classes` classes over `plane` cells.
size_t at(int a, int e, int p, int classes, int plane) {
  return (size_t(a) * size_t(classes + 5) + size_t(e)) * size_t(plane) + size_t(p);
}

const char* kRegionKeys =
    "anchors=1,1.5, 2,3\nbias_match=1\nclasses=2\ncoords=4\nnum=2\nsoftmax=1\njitter=.2\n"
    "rescore=1\nobject_scale=5\nnoobject_scale=1\nclass_scale=1\ncoord_scale=1\nabsolute=1\n"
    "thresh=.6\nrandom=1\n";

TEST(RegionLayer, ForwardIsLogisticObjectnessAndSoftmaxClasses) {
  std::mt19937_64 rng(test::test_seed());
  std::normal_distribution<float> dist(0.0f, 2.0f);
  const int w = 3, h = 2, classes = 2, num = 2, plane = w * h;
  Network net = build(region_on_input(w, h, 14, kRegionKeys));
  EXPECT_TRUE(net.layer(0).is_detection_output());
  std::vector<float> in(size_t(14 * plane));
  for (float& v : in) v = dist(rng);
  Tensor out = net.forward(in.data());
  for (int a = 0; a < num; ++a)
    for (int p = 0; p < plane; ++p) {
      for (int e = 0; e < 4; ++e)  // coordinates stay raw
        EXPECT_EQ(out.data[at(a, e, p, classes, plane)], in[at(a, e, p, classes, plane)]);
      EXPECT_NEAR(out.data[at(a, 4, p, classes, plane)], sigmoid(in[at(a, 4, p, classes, plane)]),
                  1e-6);
      double e0 = std::exp(double(in[at(a, 5, p, classes, plane)]));
      double e1 = std::exp(double(in[at(a, 6, p, classes, plane)]));
      // float32 softmax of two values: 1e-6.
      EXPECT_NEAR(out.data[at(a, 5, p, classes, plane)], e0 / (e0 + e1), 1e-6);
      EXPECT_NEAR(out.data[at(a, 6, p, classes, plane)], e1 / (e0 + e1), 1e-6);
    }
}

TEST(RegionLayer, DecodesBoxesInGridUnits) {
  const int w = 3, h = 2, classes = 2, plane = w * h;
  Network net = build(region_on_input(w, h, 14, kRegionKeys));
  std::vector<float> in(size_t(14 * plane), 0.0f);
  for (int a = 0; a < 2; ++a)
    for (int p = 0; p < plane; ++p) in[at(a, 4, p, classes, plane)] = -20.0f;
  // Anchor 1 (2, 3 cells) at cell (col 2, row 1): sigmoid(tx) = 0.25, w = e^ln2 * 2 / 3.
  const int p = 1 * w + 2;
  in[at(1, 0, p, classes, plane)] = std::log(0.25f / 0.75f);
  in[at(1, 1, p, classes, plane)] = 0.0f;
  in[at(1, 2, p, classes, plane)] = std::log(2.0f);
  in[at(1, 3, p, classes, plane)] = 0.0f;
  in[at(1, 4, p, classes, plane)] = std::log(0.8f / 0.2f);  // objectness 0.8
  in[at(1, 5, p, classes, plane)] = std::log(3.0f);         // softmax: 0.75, 0.25
  in[at(1, 6, p, classes, plane)] = 0.0f;
  net.forward(in.data());
  std::vector<Detection> d = get_detections(net, 3, 2, 0.3f, false);
  // Darknet keeps every region box (objectness 1); scores carry the threshold.
  ASSERT_EQ(d.size(), size_t(2 * plane));
  const Detection& hit = d[size_t(p * 2 + 1)];  // cells in order, anchors within a cell
  EXPECT_EQ(hit.objectness, 1.0f);
  EXPECT_NEAR(hit.box.x, (2 + 0.25) / 3, 1e-6);
  EXPECT_NEAR(hit.box.y, (1 + 0.5) / 2, 1e-6);
  EXPECT_NEAR(hit.box.w, 2.0 * 2 / 3, 1e-6);
  EXPECT_NEAR(hit.box.h, 1.0 * 3 / 2, 1e-6);
  EXPECT_NEAR(hit.prob[0], 0.8 * 0.75, 1e-6);
  EXPECT_EQ(hit.prob[1], 0.0f);  // 0.2 <= 0.3
  for (size_t i = 0; i < d.size(); ++i) {
    if (i == size_t(p * 2 + 1)) continue;
    EXPECT_EQ(d[i].prob[0] + d[i].prob[1], 0.0f) << i;
  }
}

TEST(RegionLayer, ChecksChannelsAndUnsupportedOptions) {
  EXPECT_ERROR_CONTAINS(build(region_on_input(3, 2, 15, kRegionKeys), "c.cfg"),
                        "c.cfg:5: layer 0 [region] expects (2+4+1)*2 = 14 channels from the "
                        "network input, which has 15");
  EXPECT_ERROR_PARTS(build(region_on_input(3, 2, 14, std::string(kRegionKeys) + "tree=x.tree\n"),
                           "t.cfg"),
                     "t.cfg:21:", "[region]", "tree", "hierarchical softmax");
  EXPECT_ERROR_PARTS(build(region_on_input(3, 2, 14, "anchors=1,1\nnum=2\nclasses=2\n"), "a.cfg"),
                     "a.cfg:6:", "anchors", "has 2 values; num=2 needs 4");
  EXPECT_ERROR_PARTS(build(region_on_input(3, 2, 14, "anchors=1,1\ncoords=5\n"), "a.cfg"),
                     "a.cfg:7:", "coords", "only 4 is supported");
}

// YOLOv1: [detection] over a flat input of side^2 * ((1+coords)*num + classes) values.
TEST(DetectionLayer, SoftmaxAndDecode) {
  // side 2, num 1, classes 2: 4*2 class scores, 4 confidences, 4*4 coordinates = 28.
  const char* text =
      "[net]\nwidth=1\nheight=1\nchannels=28\n"
      "[detection]\nclasses=2\ncoords=4\nrescore=1\nside=2\nnum=1\nsoftmax=1\nsqrt=1\n"
      "jitter=.2\nobject_scale=1\nnoobject_scale=.5\nclass_scale=1\ncoord_scale=5\n";
  Network net = build(text);
  std::vector<float> in(28, 0.0f);
  // Cell 3 (col 1, row 1): classes softmax(ln 4, 0) = 0.8, 0.2; confidence 0.5;
  // box x 0.5, y 0.25, sqrt w 0.5, sqrt h 0.6.
  in[3 * 2 + 0] = std::log(4.0f);
  in[8 + 3] = 0.5f;
  float* box = in.data() + 12 + 3 * 4;
  box[0] = 0.5f;
  box[1] = 0.25f;
  box[2] = 0.5f;
  box[3] = 0.6f;
  Tensor out = net.forward(in.data());
  EXPECT_NEAR(out.data[6], 0.8, 1e-6);
  EXPECT_NEAR(out.data[7], 0.2, 1e-6);
  EXPECT_NEAR(out.data[0], 0.5, 1e-6);  // softmax(0, 0)
  EXPECT_EQ(out.data[8 + 3], 0.5f);     // confidences and boxes pass through
  std::vector<Detection> d = get_detections(net, 640, 480, 0.2f, true);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_NEAR(d[3].box.x, (0.5 + 1) / 2, 1e-6);
  EXPECT_NEAR(d[3].box.y, (0.25 + 1) / 2, 1e-6);
  EXPECT_NEAR(d[3].box.w, 0.25, 1e-6);
  EXPECT_NEAR(d[3].box.h, 0.36, 1e-6);
  EXPECT_EQ(d[3].objectness, 0.5f);
  EXPECT_NEAR(d[3].prob[0], 0.4, 1e-6);
  EXPECT_EQ(d[3].prob[1], 0.0f);  // 0.1 <= 0.2
  EXPECT_EQ(d[0].objectness, 0.0f);
}

TEST(DetectionLayer, ChecksInputSize) {
  EXPECT_ERROR_CONTAINS(build("[net]\nwidth=1\nheight=1\nchannels=27\n[detection]\nclasses=2\n"
                              "coords=4\nside=2\nnum=1\n",
                              "d.cfg"),
                        "d.cfg:5: layer 0 [detection] expects side*side*((1+coords)*num+classes) "
                        "= 2*2*((1+4)*1+2) = 28 values from the network input, which has 27");
}

}  // namespace
}  // namespace mishnet
