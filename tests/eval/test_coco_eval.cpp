// COCO evaluation: the 12 summary numbers agree with pycocotools (PyPI) on synthetic ground
// truth and results (several images and categories, every area range, crowds, duplicates,
// misses, score ties, more than 100 detections on an image), and the JSON readers name what is
// wrong.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "mishnet/coco_eval.h"
#include "test_util.h"

namespace mishnet {
namespace {

bool have_pycocotools() {
  return std::system("/usr/bin/python3 -c 'import pycocotools' >/dev/null 2>&1") == 0;
}

std::vector<double> pycocotools_stats(const std::string& gt, const std::string& res) {
  std::string cmd = std::string("/usr/bin/python3 ") + MISHNET_SOURCE_DIR + "/tests/eval/coco_reference.py " + gt +
                    " " + res;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (p) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  std::vector<double> v;
  std::string cleaned = out;
  for (char& c : cleaned)
    if (c == '[' || c == ']' || c == ',') c = ' ';
  std::istringstream in(cleaned);
  for (double x; in >> x;) v.push_back(x);
  return v;
}

// A synthetic dataset: `images` images of 640x480 (image ids 1..n, shuffled in the file),
// categories 1..3 with truth and category 7 without, boxes of every size, some crowds, and
// areas that differ from w*h as segment areas do. Results: jittered hits, duplicates,
// wrong-category hits, misses, false positives, scores with ties, and one image with 130
// detections of one category.
void make_dataset(uint64_t seed, int images, CocoGroundTruth& gt, std::vector<CocoResult>& res) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto chance = [&](double p) { return uni(0, 1) < p; };
  gt = {};
  res.clear();
  for (int i = 0; i < images; ++i) gt.images.push_back({int64_t(images - i), 640, 480, "im" + std::to_string(i) + ".jpg"});
  gt.categories = {{1, "a"}, {2, "b"}, {3, "c"}, {7, "none"}};
  int64_t ann_id = 1;
  auto score = [&] { return chance(0.3) ? std::round(uni(0, 1) * 10) / 10 : uni(0, 1); };  // ties
  for (const CocoImage& im : gt.images) {
    int objects = int(uni(0, 9));
    for (int o = 0; o < objects; ++o) {
      int cat = 1 + int(uni(0, 3));
      double size_kind = uni(0, 3);
      double w = size_kind < 1 ? uni(4, 30) : size_kind < 2 ? uni(33, 95) : uni(100, 400);
      double h = w * uni(0.5, 1.5);
      CocoAnnotation a;
      a.id = ann_id++;
      a.image_id = im.id;
      a.category_id = cat;
      a.bbox = {uni(0, 640 - std::min(w, 600.0)), uni(0, 480 - std::min(h, 450.0)), w, h};
      a.area = chance(0.5) ? w * h : w * h * uni(0.5, 1.0);
      a.iscrowd = chance(0.08);
      gt.annotations.push_back(a);
      // Hits (jittered), duplicates, a wrong category, or a miss.
      int hits = chance(0.15) ? 0 : chance(0.2) ? 2 : 1;
      for (int k = 0; k < hits; ++k) {
        double j = uni(0, 0.35);
        CocoResult r{im.id, chance(0.1) ? 1 + int(uni(0, 3)) : cat,
                     {a.bbox.x + uni(-j, j) * w, a.bbox.y + uni(-j, j) * h, w * uni(1 - j, 1 + j), h * uni(1 - j, 1 + j)},
                     score()};
        res.push_back(r);
      }
    }
    int false_positives = int(uni(0, 4));
    for (int f = 0; f < false_positives; ++f) {
      double w = uni(5, 300), h = uni(5, 300);
      res.push_back({im.id, 1 + int(uni(0, 3)), {uni(0, 600), uni(0, 440), w, h}, score()});
    }
  }
  // One image with more than 100 detections of a category (maxDets), and detections of a
  // category that is not in the ground truth (not evaluated).
  for (int k = 0; k < 130; ++k)
    res.push_back({gt.images[0].id, 2, {uni(0, 600), uni(0, 440), uni(5, 200), uni(5, 200)}, score()});
  res.push_back({gt.images[1].id, 9, {10, 10, 50, 50}, 0.9});
  std::shuffle(res.begin(), res.end(), rng);
}

TEST(CocoEval, AgreesWithPycocotools) {
  if (!have_pycocotools()) GTEST_SKIP() << "python module pycocotools is absent (scripts/setup.sh installs it)";
  std::string dir = test::scratch_dir("coco_eval_pycocotools");
  const uint64_t seeds[] = {1, 2, 3, 4, 5};
  const int images[] = {6, 12, 25, 3, 40};
  for (int s = 0; s < 5; ++s) {
    CocoGroundTruth gt;
    std::vector<CocoResult> res;
    make_dataset(seeds[s], images[s], gt, res);
    std::string gt_path = dir + "/gt" + std::to_string(s) + ".json";
    std::string res_path = dir + "/res" + std::to_string(s) + ".json";
    write_coco_ground_truth(gt, gt_path);
    write_coco_results(res, res_path);
    // Our numbers from the files (the readers are part of what is compared).
    CocoStats ours = coco_evaluate(read_coco_ground_truth(gt_path), read_coco_results(res_path));
    std::vector<double> ref = pycocotools_stats(gt_path, res_path);
    ASSERT_EQ(ref.size(), 12u) << "pycocotools gave no numbers for set " << s;
    for (int i = 0; i < 12; ++i)
      EXPECT_NEAR(ours.values[size_t(i)], ref[size_t(i)], 1e-4) << "set " << s << " stat " << i << "\n"
                                                                 << coco_summary_lines(ours);
    // Not a trivial agreement: the sets cover real precision and recall.
    EXPECT_GT(ours.ap50(), 0.2) << "set " << s;
    EXPECT_LT(ours.ap(), 0.95) << "set " << s;
  }
}

TEST(CocoEval, PerfectDetectionsScoreOneAndEmptyRangesAreMinusOne) {
  CocoGroundTruth gt;
  gt.images = {{1, 100, 100, "a.jpg"}, {2, 100, 100, "b.jpg"}};
  gt.categories = {{1, "a"}, {2, "b"}};
  gt.annotations = {{1, 1, 1, {10, 10, 40, 40}, 1600, false}, {2, 2, 2, {0, 0, 50, 60}, 3000, false}};
  std::vector<CocoResult> res = {{1, 1, {10, 10, 40, 40}, 0.9}, {2, 2, {0, 0, 50, 60}, 0.8}};
  CocoStats s = coco_evaluate(gt, res);
  EXPECT_DOUBLE_EQ(s.ap(), 1.0);
  EXPECT_DOUBLE_EQ(s.ap_medium(), 1.0);
  EXPECT_DOUBLE_EQ(s.ap_small(), -1.0);  // no small truth
  EXPECT_DOUBLE_EQ(s.ap_large(), -1.0);
  EXPECT_DOUBLE_EQ(s.ar1(), 1.0);
  std::string lines = coco_summary_lines(s);
  EXPECT_NE(lines.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000\n"),
            std::string::npos)
      << lines;
  EXPECT_NE(lines.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000\n"),
            std::string::npos)
      << lines;
  // A result on an image the ground truth does not have is an error.
  res.push_back({5, 1, {0, 0, 1, 1}, 0.5});
  EXPECT_ERROR_CONTAINS(coco_evaluate(gt, res), "image_id 5 is not an image of the ground truth");
}

TEST(CocoEval, ReadersNameTheFileAndTheField) {
  std::string dir = test::scratch_dir("coco_eval_readers");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::binary) << text;
    return dir + "/" + name;
  };
  std::string syntax = write("syntax.json", "{\"images\": [1, 2,, 3]}");
  EXPECT_ERROR_CONTAINS(read_coco_ground_truth(syntax), syntax + ": byte 18: invalid JSON");
  std::string bbox = write("bbox.json",
                           R"({"images": [{"id": 1}], "categories": [{"id": 1}],
                               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "area": 4}]})");
  EXPECT_ERROR_CONTAINS(read_coco_ground_truth(bbox), bbox + ": annotations[0].bbox: expected 4 numbers");
  std::string area = write("area.json",
                           R"({"images": [{"id": 1}], "categories": [{"id": 1}],
                               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]})");
  EXPECT_ERROR_CONTAINS(read_coco_ground_truth(area), area + ": annotations[0]: no 'area'");
  std::string obj = write("obj.json", R"({"frame_id": 1})");
  EXPECT_ERROR_CONTAINS(read_coco_results(obj), obj + ": expected a COCO results array");
  std::string score = write("score.json", R"([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": "x"}])");
  EXPECT_ERROR_CONTAINS(read_coco_results(score), score + ": [0].score: expected a number");
  EXPECT_ERROR_CONTAINS(read_coco_results(dir + "/none.json"), dir + "/none.json: cannot open");
}

TEST(CocoEval, ImageAndCategoryIds) {
  EXPECT_EQ(coco_image_ids({"a/000000000139.jpg", "b/42.png"}), (std::vector<int64_t>{139, 42}));
  EXPECT_EQ(coco_image_ids({"a/1.jpg", "b/x.png"}), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(coco_image_ids({"a/1.jpg", "b/01.png"}), (std::vector<int64_t>{0, 1}));  // equal stems
  EXPECT_EQ(coco_category_ids(3, false), (std::vector<int64_t>{1, 2, 3}));
  std::vector<int64_t> coco = coco_category_ids(80, true);
  EXPECT_EQ(coco[11], 13);
  EXPECT_EQ(coco[79], 90);
  CocoBox b = coco_box_from_relative(0.5, 0.5, 0.5, 0.25, 200, 100);
  EXPECT_DOUBLE_EQ(b.x, 50);
  EXPECT_DOUBLE_EQ(b.y, 37.5);
  EXPECT_DOUBLE_EQ(b.w, 100);
  EXPECT_DOUBLE_EQ(b.h, 25);
  CocoBox clipped = coco_box_from_relative(0.05, 0.5, 0.2, 0.2, 100, 100);
  EXPECT_DOUBLE_EQ(clipped.x, 0);
  EXPECT_DOUBLE_EQ(clipped.w, 15);
}

}  // namespace
}  // namespace mishnet
