// Detector evaluation: Darknet's mAP at one IoU threshold (its validate_detector_map) and the
// COCO figures (coco_eval.h), from detections and ground truth or by running a network over a
// valid list. docs/detection-eval.md has the rules and where they differ from Darknet.
#pragma once
#include <string>
#include <vector>

#include "mishnet/coco_eval.h"
#include "mishnet/detection.h"
#include "mishnet/image.h"

namespace mishnet {

class Network;

struct MapOptions {
  float iou_thresh = 0.5f;  // a detection matches a truth of its class with IoU > this
  // How AP is read from the precision-recall curve: 0 = area under the monotone curve
  // (Darknet's default, VOC2010+ and ImageNet), 11 = VOC2007's 11 points, 101 = COCO's points.
  int points = 0;
  float thresh = 0.25f;          // precision, recall, F1, TP/FP/FN and average IoU at this score
  float detect_thresh = 0.005f;  // detections kept at all (Darknet's map)
  float nms = 0.45f;             // NMS threshold (kind and beta from the cfg's last detection layer)
  bool coco = true;              // also compute the COCO figures (evaluate_map_on_list)
  int letter_box = -1;           // evaluate_map_on_list: -1 as the cfg's [net] letter_box, 0 resize, 1 letterbox
};

// Objects and detections of image `image` (an index into the list). Boxes relative to the image.
struct MapTruth {
  int image = 0;
  int class_id = 0;
  Box box;
};
struct MapDetection {
  int image = 0;
  int class_id = 0;
  Box box;
  float score = 0;
};

struct ClassAp {
  int class_id = 0;
  int truth = 0;       // objects of this class
  int detections = 0;  // detections of this class (score > detect_thresh)
  double ap = 0;       // at MapOptions::iou_thresh; 0 for a class without truth
  int tp = 0, fp = 0;  // at MapOptions::thresh
  double avg_iou = 0;  // mean IoU of those true positives
};

struct MapReport {
  MapOptions options;
  int images = 0;
  int detections = 0;  // (box, class) pairs above detect_thresh
  int truth = 0;       // objects
  std::vector<ClassAp> classes;           // one per class, in class order
  std::vector<int> classes_without_truth;  // excluded from `map`
  double map = 0;               // mean AP over the classes with ground truth
  double map_all_classes = 0;   // Darknet's printed figure: mean over every class (no truth = 0)
  // At MapOptions::thresh, over all classes:
  int tp = 0, fp = 0, fn = 0;
  double precision = 0, recall = 0, f1 = 0;
  double avg_iou = 0;  // mean IoU of the true positives (Darknet divides by TP+FP)
  bool has_coco = false;
  CocoStats coco;
  std::vector<std::string> label_problems;  // bad label lines, missing label files
  std::vector<std::string> skipped_images;  // images that could not be loaded
};

// Darknet's mAP. `detections` hold every (box, class) with its score, each image's in Darknet's
// processing order (as after nms_sort, class by class within a box): that order decides which of
// two detections of one truth counts at `thresh`, as in Darknet. Matching: a detection takes
// the truth of its image and class with the highest IoU above iou_thresh; detections are then
// taken in descending score (stable), and a truth already taken makes a later one a false
// positive.
MapReport compute_map(const std::vector<MapTruth>& truth, const std::vector<MapDetection>& detections,
                      int classes, int images, const MapOptions& opts);

// AP of one class from its precision and recall after each ranked detection (points as in
// MapOptions). For points = 0 the area counts from recall 0 (see docs/detection-eval.md).
double average_precision(const std::vector<double>& precision, const std::vector<double>& recall, int points);

// Every (box, class) with probability > 0 of `dets`, in order, for image `image`.
void append_map_detections(const std::vector<Detection>& dets, int image, std::vector<MapDetection>& out);

// One image through `net` (batch 1) as Darknet's map and valid do: resized or letterboxed
// (letter_box -1: as the cfg says), detections above detect_thresh, NMS (kind and beta of the
// cfg's last detection layer; none when nms <= 0). Boxes relative to `im`.
std::vector<Detection> detect_for_evaluation(Network& net, const Image& im, float detect_thresh, float nms,
                                             int letter_box = -1);

// Runs `net` (already loaded, batch 1) over every image of `valid_list`, letterboxed or resized
// as the cfg's [net] letter_box says, and computes Darknet's mAP report at opts.iou_thresh (and,
// with opts.coco, the COCO figures from the same detections, in pixels). Labels are found by
// label_path_for_image; bad label lines and images that cannot be loaded are listed in the
// report (and skipped), not fatal. Used by `detector map` and by `detector train -map`.
MapReport evaluate_map_on_list(Network& net, const std::string& valid_list, int classes, const MapOptions& opts);

// Darknet's report: one line per class (with or without truth), the figures at thresh, the
// mAP line, the classes without ground truth, and the 12 COCO lines when present.
std::string format_map_report(const MapReport& report, const std::vector<std::string>& names);

}  // namespace mishnet
