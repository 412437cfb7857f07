// Non-maximum suppression (Darknet's do_nms_sort / diounms_sort) and the NMS settings of a
// network's detection layers.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/box.h"
#include "mishnet/cfg.h"
#include "mishnet/detection.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet {
namespace {

Detection det(float x, float y, float w, float h, std::vector<float> prob, float objectness = 1) {
  Detection d;
  d.box = {x, y, w, h};
  d.prob = std::move(prob);
  d.classes = int(d.prob.size());
  d.objectness = objectness;
  return d;
}

TEST(Nms, GreedySuppressesOverlapsOfTheSameClassOnly) {
  // A and B overlap with IoU 1/3; C is far away.
  std::vector<Detection> dets = {det(0.6f, 0.5f, 0.2f, 0.2f, {0.8f, 0.0f}),   // B
                                 det(0.5f, 0.5f, 0.2f, 0.2f, {0.9f, 0.0f}),   // A
                                 det(0.1f, 0.1f, 0.1f, 0.1f, {0.7f, 0.0f}),   // C
                                 det(0.55f, 0.5f, 0.2f, 0.2f, {0.0f, 0.6f})}; // other class
  std::vector<Detection> strict = dets;
  nms_sort(strict, 0.3f);
  // Final order: sorted by the last class (1), ties in the order left by class 0's sort.
  ASSERT_EQ(strict.size(), 4u);
  EXPECT_EQ(strict[0].prob[1], 0.6f);
  EXPECT_EQ(strict[1].box.x, 0.5f);
  EXPECT_EQ(strict[1].prob[0], 0.9f);
  EXPECT_EQ(strict[2].box.x, 0.6f);
  EXPECT_EQ(strict[2].prob[0], 0.0f);  // B: IoU 1/3 > 0.3 with A
  EXPECT_EQ(strict[3].prob[0], 0.7f);  // C kept
  std::vector<Detection> loose = dets;
  nms_sort(loose, 0.45f);
  EXPECT_EQ(loose[2].prob[0], 0.8f);  // IoU 1/3 <= 0.45: kept
}

TEST(Nms, ZeroObjectnessMovesToTheBackUntouched) {
  std::vector<Detection> dets = {det(0.5f, 0.5f, 0.2f, 0.2f, {0.5f}, 0.0f),
                                 det(0.5f, 0.5f, 0.2f, 0.2f, {0.4f}),
                                 det(0.5f, 0.5f, 0.2f, 0.2f, {0.9f})};
  nms_sort(dets, 0.45f);
  EXPECT_EQ(dets[0].prob[0], 0.9f);
  EXPECT_EQ(dets[1].prob[0], 0.0f);  // suppressed by the 0.9 box
  EXPECT_EQ(dets[2].objectness, 0.0f);
  EXPECT_EQ(dets[2].prob[0], 0.5f);  // never compared: not suppressed, not a suppressor
}

// Two boxes of IoU 0.538 whose centres are 0.12 apart: greedy IoU suppresses at 0.45;
// DIoU-NMS (beta 0.6) gives 0.538 - (0.0144/0.4304)^0.6 = 0.408 and keeps it.
TEST(Nms, DiouKeepsBoxesWithDistantCentres) {
  const Box a{0.5f, 0.5f, 0.4f, 0.4f}, b{0.62f, 0.5f, 0.4f, 0.4f};
  const double iou = 0.112 / 0.208, ratio = 0.0144 / (0.52 * 0.52 + 0.4 * 0.4);
  EXPECT_NEAR(box_iou(a, b), iou, 1e-6);
  EXPECT_NEAR(kernels::box_diou_nms(a, b, 0.6f), iou - std::pow(ratio, 0.6), 1e-6);
  EXPECT_NEAR(kernels::box_diou(a, b), iou - ratio, 1e-6);
  auto run = [&](NmsKind kind, float beta) {
    std::vector<Detection> dets = {det(a.x, a.y, a.w, a.h, {0.9f}), det(b.x, b.y, b.w, b.h, {0.8f})};
    nms_sort(dets, 0.45f, kind, beta);
    return dets[1].prob[0];
  };
  EXPECT_EQ(run(NmsKind::greedy, 0.6f), 0.0f);
  EXPECT_EQ(run(NmsKind::diou, 0.6f), 0.8f);
  EXPECT_EQ(run(NmsKind::greedy_diou, 0.6f), 0.8f);
  // greedynms ignores beta (Darknet's box_diou has 0.6 built in); diounms uses it.
  EXPECT_EQ(run(NmsKind::greedy_diou, 1.0f), 0.8f);
  EXPECT_EQ(run(NmsKind::diou, 1.0f), 0.0f);  // 0.538 - 0.033 > 0.45
}

// A line-by-line transcription of Darknet's do_nms_sort / diounms_sort on an array of
// detections (swaps, then one stable sort per class, as glibc's merge-sort qsort does), to hold
// the index-based implementation to Darknet's order and results.
void darknet_nms_literal(std::vector<Detection>& dets, float thresh, NmsKind kind, float beta) {
  int total = int(dets.size());
  int k = total - 1;
  for (int i = 0; i <= k; ++i) {
    if (dets[size_t(i)].objectness == 0) {
      std::swap(dets[size_t(i)], dets[size_t(k)]);
      --k;
      --i;
    }
  }
  total = k + 1;
  const int classes = int(dets.front().prob.size());
  for (k = 0; k < classes; ++k) {
    std::stable_sort(dets.begin(), dets.begin() + total, [k](const Detection& a, const Detection& b) {
      return a.prob[size_t(k)] - b.prob[size_t(k)] > 0;
    });
    for (int i = 0; i < total; ++i) {
      if (dets[size_t(i)].prob[size_t(k)] == 0) continue;
      Box a = dets[size_t(i)].box;
      for (int j = i + 1; j < total; ++j) {
        Box b = dets[size_t(j)].box;
        bool s = kind == NmsKind::greedy        ? kernels::box_iou(a, b) > thresh
                 : kind == NmsKind::greedy_diou ? kernels::box_diou_nms(a, b, 0.6f) > thresh
                                                : kernels::box_diou_nms(a, b, beta) > thresh;
        if (s) dets[size_t(j)].prob[size_t(k)] = 0;
      }
    }
  }
}

TEST(Nms, MatchesDarknetsAlgorithmOnRandomDetections) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> u(0, 1);
  for (int round = 0; round < 50; ++round) {
    const int n = 1 + int(rng() % 60), classes = 1 + int(rng() % 4);
    std::vector<Detection> dets;
    for (int i = 0; i < n; ++i) {
      std::vector<float> prob(static_cast<size_t>(classes));
      // Coarse scores make ties common; a fifth are zero.
      for (float& p : prob) p = u(rng) < 0.2f ? 0.0f : float(1 + rng() % 5) / 5;
      // Clustered boxes make suppression common.
      float cx = float(rng() % 3) * 0.3f + 0.2f + 0.05f * u(rng);
      dets.push_back(det(cx, cx + 0.05f * u(rng), 0.1f + 0.2f * u(rng), 0.1f + 0.2f * u(rng), prob,
                         u(rng) < 0.15f ? 0.0f : 1.0f));
    }
    for (NmsKind kind : {NmsKind::greedy, NmsKind::diou, NmsKind::greedy_diou}) {
      const float thresh = 0.2f + 0.5f * u(rng), beta = 0.4f + u(rng);
      std::vector<Detection> ours = dets, theirs = dets;
      nms_sort(ours, thresh, kind, beta);
      darknet_nms_literal(theirs, thresh, kind, beta);
      ASSERT_EQ(ours.size(), theirs.size());
      for (size_t i = 0; i < ours.size(); ++i) {
        ASSERT_EQ(ours[i].box.x, theirs[i].box.x) << "round " << round << " position " << i;
        ASSERT_EQ(ours[i].box.w, theirs[i].box.w) << "round " << round << " position " << i;
        ASSERT_EQ(ours[i].prob, theirs[i].prob) << "round " << round << " position " << i;
        ASSERT_EQ(ours[i].objectness, theirs[i].objectness);
      }
    }
  }
}

TEST(Nms, EmptyAndMismatchedInputs) {
  std::vector<Detection> none;
  EXPECT_NO_THROW(nms_sort(none, 0.45f));
  std::vector<Detection> mixed = {det(0, 0, 1, 1, {0.5f}), det(0, 0, 1, 1, {0.5f, 0.2f})};
  EXPECT_ERROR_CONTAINS(nms_sort(mixed, 0.45f), "different numbers of class scores");
}

std::string two_heads(const std::string& first, const std::string& second) {
  return "[net]\nwidth=2\nheight=2\nchannels=7\n[yolo]\nanchors=1,1\nclasses=2\n" + first +
         "\n[yolo]\nanchors=1,1\nclasses=2\n" + second + "\n";
}

TEST(Nms, NetworkSettingsComeFromTheLastDetectionLayer) {
  NmsKind kind;
  float beta;
  network_nms_settings(Network::from_cfg(parse_cfg_text(two_heads("", ""), "n.cfg")), kind, beta);
  EXPECT_EQ(kind, NmsKind::greedy);
  EXPECT_FLOAT_EQ(beta, 0.6f);
  network_nms_settings(
      Network::from_cfg(parse_cfg_text(two_heads("nms_kind=greedynms", "nms_kind=diounms\n"
                                                                        "beta_nms=0.5"),
                                       "n.cfg")),
      kind, beta);
  EXPECT_EQ(kind, NmsKind::diou);
  EXPECT_FLOAT_EQ(beta, 0.5f);
  network_nms_settings(
      Network::from_cfg(parse_cfg_text(two_heads("nms_kind=diounms", "nms_kind=greedynms"), "n.cfg")),
      kind, beta);
  EXPECT_EQ(kind, NmsKind::greedy_diou);
}

TEST(Detections, DetectionLayersMustAgreeOnClasses) {
  // (2+5)*1 = (9+5)/2 channels: both heads accept a 7-channel input, with different classes.
  Network net = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=2\nheight=2\nchannels=7\n[yolo]\nanchors=1,1\nclasses=2\n"
      "[yolo]\nanchors=1,1,1,1\nnum=2\nmask=0\nclasses=2\n",
      "d.cfg"));
  std::vector<float> in(28, 0.0f);
  net.forward(in.data());
  EXPECT_EQ(get_detections(net, 2, 2, 0.9f, false).size(), 0u);
  // Objectness logistic(0) = 0.5 > 0.25 everywhere, in both heads: 4 cells each.
  EXPECT_EQ(get_detections(net, 2, 2, 0.25f, false).size(), 8u);

  Network mixed = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=2\nheight=2\nchannels=14\n[yolo]\nanchors=1,1,1,1\nnum=2\nclasses=2\n"
      "[yolo]\nanchors=1,1\nclasses=9\n",
      "d.cfg"));
  std::vector<float> in2(56, 0.0f);
  mixed.forward(in2.data());
  EXPECT_ERROR_CONTAINS(get_detections(mixed, 2, 2, 0.25f, false),
                        "detection layers 0 and 1 have different classes (2 and 9)");
}

TEST(Detections, NetworkWithoutDetectionLayer) {
  Network net = Network::from_cfg(parse_cfg_text("[net]\nwidth=1\nheight=1\nchannels=2\n[softmax]\n",
                                                 "s.cfg"));
  std::vector<float> in(2, 0.0f);
  net.forward(in.data());
  EXPECT_ERROR_CONTAINS(get_detections(net, 1, 1, 0.5f, false), "has no [yolo], [region] or "
                                                               "[detection] layer");
}

}  // namespace
}  // namespace mishnet
