// mishnet detector eval --gt GT.json --results RESULTS.json [-json]
//
// The COCO figures of any detector's results against COCO ground truth, with pycocotools' rules
// (src/eval/coco_eval.cpp): the 12 summary lines as pycocotools prints them, or one JSON object.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "mishnet/coco_eval.h"
#include "mishnet/error.h"

namespace mishnet::cli {
namespace {

struct DetectorEvalArgs {
  std::string gt, results;
  bool json = false;
};

void run_detector_eval(const DetectorEvalArgs& a) {
  CocoGroundTruth gt = read_coco_ground_truth(a.gt);
  std::vector<CocoResult> results = read_coco_results(a.results);
  CocoStats stats;
  try {
    stats = coco_evaluate(gt, results);
  } catch (const Error& e) {
    fail(a.results, ": ", e.what());
  }
  if (a.json) {
    std::printf("%s\n", coco_stats_json(stats).c_str());
  } else {
    std::printf("%zu images, %zu categories, %zu annotations, %zu results\n", gt.images.size(), gt.categories.size(),
                gt.annotations.size(), results.size());
    std::fputs(coco_summary_lines(stats).c_str(), stdout);
  }
}

CommandRegistrar reg({"detector", "eval"}, "COCO AP/AR of a results JSON against a ground-truth JSON",
                     [](CLI::App& app) {
                       auto a = std::make_shared<DetectorEvalArgs>();
                       app.add_option("--gt", a->gt, "COCO ground truth (instances) JSON")->required();
                       app.add_option("--results", a->results, "COCO results JSON (a list of detections)")->required();
                       app.add_flag("--json", a->json, "Print the 12 numbers as one JSON object");
                       app.callback([a] { run_detector_eval(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
