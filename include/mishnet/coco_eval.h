// COCO box evaluation with pycocotools' rules (COCOeval, iouType "bbox"), our own code:
// 10 IoU thresholds .50:.05:.95, 101 recall points, at most 1/10/100 detections per image and
// category (by score), area ranges all / small (< 32^2) / medium (32^2..96^2) / large (> 96^2)
// taken from the ground truth's `area` field (the detection's w*h for detections), crowd
// regions matched by intersection over the detection's area and never counted, precision made
// monotone and read at each recall point, then averaged over the categories that have ground
// truth in the area range. The 12 summary numbers are those of COCOeval.summarize().
// A test compares every number with pycocotools on the same files (tests/eval/).
// docs/detection-eval.md has the rules and where they come from.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mishnet {

struct CocoBox {
  double x = 0, y = 0, w = 0, h = 0;  // top-left corner and size, in pixels
};

struct CocoImage {
  int64_t id = 0;
  int width = 0, height = 0;
  std::string file_name;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  CocoBox bbox;
  double area = 0;  // what the area ranges test (COCO: the segment's area; ours: w*h)
  bool iscrowd = false;
};

struct CocoGroundTruth {
  std::vector<CocoImage> images;
  std::vector<CocoAnnotation> annotations;
  std::vector<CocoCategory> categories;
};

struct CocoResult {
  int64_t image_id = 0;
  int64_t category_id = 0;
  CocoBox bbox;
  double score = 0;
};

// The 12 numbers of COCOeval.summarize(), in its order; -1 where nothing could be measured
// (no ground truth in that area range), as pycocotools.
struct CocoStats {
  std::array<double, 12> values{};
  double ap() const { return values[0]; }    // AP@[.50:.95], area all, 100 detections
  double ap50() const { return values[1]; }
  double ap75() const { return values[2]; }
  double ap_small() const { return values[3]; }
  double ap_medium() const { return values[4]; }
  double ap_large() const { return values[5]; }
  double ar1() const { return values[6]; }
  double ar10() const { return values[7]; }
  double ar100() const { return values[8]; }
  double ar_small() const { return values[9]; }
  double ar_medium() const { return values[10]; }
  double ar_large() const { return values[11]; }
};

// Evaluates `results` against `gt`. Images are those of gt.images, categories those of
// gt.categories (results of other categories are not evaluated, as pycocotools). A result on
// an image that gt does not list is an error (pycocotools asserts the same).
CocoStats coco_evaluate(const CocoGroundTruth& gt, const std::vector<CocoResult>& results);

// The 12 lines as pycocotools prints them:
// " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.431"
std::string coco_summary_lines(const CocoStats& stats);
// {"AP": 0.431, "AP50": ..., "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
std::string coco_stats_json(const CocoStats& stats);

// JSON files. Errors name the file and the byte offset (syntax) or the field
// ("gt.json: annotations[3].bbox: expected 4 numbers").
CocoGroundTruth read_coco_ground_truth(const std::string& path);
std::vector<CocoResult> read_coco_results(const std::string& path);
void write_coco_ground_truth(const CocoGroundTruth& gt, const std::string& path);
void write_coco_results(const std::vector<CocoResult>& results, const std::string& path);

// COCO image ids for an image list: the file name stems when every stem is a decimal number
// and no two are equal (COCO's own files, 000000000139.jpg -> 139), else the position in the
// list (0, 1, 2, ...). `detector valid` and `dataset yolo2coco` both use it, so their files
// fit together.
std::vector<int64_t> coco_image_ids(const std::vector<std::string>& image_paths);
// A YOLO box (centre and size relative to the image) in pixels, clipped to the image as
// Darknet's `detector valid` clips its detections.
CocoBox coco_box_from_relative(double x, double y, double w, double h, int image_w, int image_h);
// COCO category ids of classes 0..classes-1: COCO's 80-of-90 ids when `coco_ids` (the .data
// has eval=coco and 80 classes, as Darknet's valid), else class + 1.
std::vector<int64_t> coco_category_ids(int classes, bool coco_ids);

}  // namespace mishnet
