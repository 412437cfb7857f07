// Darknet's mAP on small cases computed by hand (docs/detection-eval.md walks through the first).
#include <gtest/gtest.h>

#include "mishnet/detection_eval.h"
#include "test_util.h"

namespace mishnet {
namespace {

// Image 0: truths A, B of class 0. Image 1: truth C of class 0, D of class 1.
// Detections, in each image's processing order:
//   image 0: d1 (.9, class 0, = A), d3 (.7, class 0, A shifted: IoU 0.905), d6 (.3, class 0, = B),
//            d7 (.4, class 2, which has no truth)
//   image 1: d2 (.8, class 0, nowhere near C), d4 (.6, class 0, C shifted: IoU 0.6), d5 (.5, class 1, = D)
// Class 0 by score: d1 TP, d2 FP, d3 FP (A taken), d4 TP, d6 TP; 3 truths:
//   precision 1, 1/2, 1/3, 1/2, 3/5; recall 1/3, 1/3, 1/3, 2/3, 1.
//   area (points 0): 1/3 * 1 + (1/3) * 0.6 + (1/3) * 0.6 = 0.73333
//   11 points: r = 0..0.3 -> 1 (4 points), r = 0.4..1 -> 0.6 (7 points): 8.2 / 11
//   101 points: r = 0..0.33 -> 1 (34 points), r = 0.34..1 -> 0.6 (67 points): 74.2 / 101
// Class 1: one truth, found first: AP 1.
struct Case {
  std::vector<MapTruth> truth;
  std::vector<MapDetection> dets;
};

Case hand_case() {
  Box A{0.25f, 0.25f, 0.2f, 0.2f}, B{0.75f, 0.75f, 0.2f, 0.2f}, C{0.5f, 0.5f, 0.2f, 0.2f}, D{0.2f, 0.8f, 0.1f, 0.1f};
  Case c;
  c.truth = {{0, 0, A}, {0, 0, B}, {1, 0, C}, {1, 1, D}};
  c.dets = {
      {0, 0, A, 0.9f},                                  // d1
      {0, 0, Box{0.26f, 0.25f, 0.2f, 0.2f}, 0.7f},      // d3
      {0, 0, B, 0.3f},                                  // d6
      {0, 2, B, 0.4f},                                  // d7
      {1, 0, Box{0.1f, 0.9f, 0.1f, 0.1f}, 0.8f},        // d2
      {1, 0, Box{0.55f, 0.5f, 0.2f, 0.2f}, 0.6f},       // d4
      {1, 1, D, 0.5f},                                  // d5
  };
  return c;
}

TEST(DetectionMap, HandComputedAreaUnderCurve) {
  Case c = hand_case();
  MapOptions o;
  MapReport r = compute_map(c.truth, c.dets, 3, 2, o);
  ASSERT_EQ(r.classes.size(), 3u);
  EXPECT_NEAR(r.classes[0].ap, 11.0 / 15.0, 1e-12);
  EXPECT_NEAR(r.classes[1].ap, 1.0, 1e-12);
  EXPECT_EQ(r.classes[2].truth, 0);
  EXPECT_EQ(r.classes_without_truth, std::vector<int>{2});
  EXPECT_NEAR(r.map, (11.0 / 15.0 + 1.0) / 2, 1e-12);           // class 2 excluded
  EXPECT_NEAR(r.map_all_classes, (11.0 / 15.0 + 1.0) / 3, 1e-12);  // Darknet's figure
  EXPECT_EQ(r.detections, 7);
  EXPECT_EQ(r.truth, 4);
  // At thresh 0.25: TP d1, d6, d4, d5; FP d3 (A taken by d1 before it), d7, d2.
  EXPECT_EQ(r.tp, 4);
  EXPECT_EQ(r.fp, 3);
  EXPECT_EQ(r.fn, 0);
  EXPECT_EQ(r.classes[0].tp, 3);
  EXPECT_EQ(r.classes[0].fp, 2);
  EXPECT_EQ(r.classes[2].fp, 1);
  EXPECT_NEAR(r.precision, 4.0 / 7.0, 1e-12);
  EXPECT_NEAR(r.recall, 1.0, 1e-12);
  EXPECT_NEAR(r.f1, 2 * (4.0 / 7.0) / (4.0 / 7.0 + 1.0), 1e-12);
  EXPECT_NEAR(r.avg_iou, (1 + 1 + 0.6 + 1) / 4.0, 1e-6);  // IoU of d4 with C: 0.03 / 0.05
}

TEST(DetectionMap, HandComputedElevenAndHundredOnePoints) {
  Case c = hand_case();
  MapOptions o;
  o.points = 11;
  MapReport r11 = compute_map(c.truth, c.dets, 3, 2, o);
  EXPECT_NEAR(r11.classes[0].ap, 8.2 / 11.0, 1e-12);
  EXPECT_NEAR(r11.classes[1].ap, 1.0, 1e-12);
  o.points = 101;
  MapReport r101 = compute_map(c.truth, c.dets, 3, 2, o);
  EXPECT_NEAR(r101.classes[0].ap, 74.2 / 101.0, 1e-12);
}

TEST(DetectionMap, ThresholdsChangeMatchesAndCounts) {
  Case c = hand_case();
  MapOptions o;
  o.iou_thresh = 0.95f;  // d3 (0.905) and d4 (0.6) no longer match
  // Class 0: d1 TP, d2 FP, d3 FP, d4 FP, d6 TP: recall 1/3 at precision 1, 2/3 at 0.4.
  EXPECT_NEAR(compute_map(c.truth, c.dets, 3, 2, o).classes[0].ap, 1.0 / 3 + 0.4 / 3, 1e-12);
  o = MapOptions{};
  o.thresh = 0.35f;  // d6 (0.3) no longer counts at thresh
  MapReport r = compute_map(c.truth, c.dets, 3, 2, o);
  EXPECT_EQ(r.tp, 3);
  EXPECT_EQ(r.fp, 3);
  EXPECT_EQ(r.fn, 1);
  o.detect_thresh = 0.35f;  // d6 is not a detection at all: B is never found
  r = compute_map(c.truth, c.dets, 3, 2, o);
  EXPECT_EQ(r.detections, 6);
  EXPECT_NEAR(r.classes[0].ap, 1.0 / 3 + 0.5 / 3, 1e-12);
}

TEST(DetectionMap, AtThreshTheProcessingOrderDecidesLikeDarknet) {
  // The duplicate d3 comes before d1 in image 0's order: at thresh it takes A (Darknet's rule),
  // while the ranking by score still gives A to d1, so AP does not change.
  Case c = hand_case();
  std::swap(c.dets[0], c.dets[1]);
  MapReport r = compute_map(c.truth, c.dets, 3, 2, MapOptions{});
  EXPECT_EQ(r.tp, 4);
  EXPECT_EQ(r.fp, 3);
  EXPECT_NEAR(r.classes[0].ap, 11.0 / 15.0, 1e-12);
  EXPECT_NEAR(r.avg_iou, (0.905 + 1 + 0.6 + 1) / 4.0, 2e-3);
}

TEST(DetectionMap, AveragePrecisionEdgeCases) {
  EXPECT_DOUBLE_EQ(average_precision({}, {}, 0), 0.0);
  EXPECT_DOUBLE_EQ(average_precision({1.0}, {1.0}, 0), 1.0);  // one detection, one truth
  EXPECT_DOUBLE_EQ(average_precision({1.0}, {1.0}, 11), 1.0);
  // Half the truths found, at precision 0.5 after a false positive.
  EXPECT_DOUBLE_EQ(average_precision({0.0, 0.5}, {0.0, 0.5}, 0), 0.25);
  EXPECT_ERROR_CONTAINS(average_precision({1.0}, {1.0}, 1), "points");
}

TEST(DetectionMap, ReportListsClassesWithoutTruthAndDarknetLines) {
  Case c = hand_case();
  MapReport r = compute_map(c.truth, c.dets, 3, 2, MapOptions{});
  std::string text = format_map_report(r, {"shirt", "shoe", "bag"});
  EXPECT_NE(text.find("class_id = 0, name = shirt, ap = 73.33%"), std::string::npos) << text;
  EXPECT_NE(text.find("class_id = 2, name = bag, ap = n/a (no ground truth)"), std::string::npos) << text;
  EXPECT_NE(text.find(" mean average precision (mAP@0.50) = 0.866667, or 86.67 %"), std::string::npos) << text;
  EXPECT_NE(text.find("1 of 3 classes have no ground truth and are not in the mean: bag"), std::string::npos) << text;
  EXPECT_NE(text.find("TP = 4, FP = 3, FN = 0"), std::string::npos) << text;
}

TEST(DetectionMap, DetectionsFromNetworkOutputs) {
  Detection d;
  d.box = Box{0.5f, 0.5f, 0.1f, 0.1f};
  d.prob = {0.0f, 0.7f, 0.2f};
  std::vector<MapDetection> out;
  append_map_detections({d}, 4, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].class_id, 1);
  EXPECT_EQ(out[1].class_id, 2);
  EXPECT_EQ(out[1].image, 4);
  EXPECT_FLOAT_EQ(out[0].score, 0.7f);
}

}  // namespace
}  // namespace mishnet
