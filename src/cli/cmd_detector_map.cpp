// mishnet detector map DATA CFG WEIGHTS [-iou_thresh 0.5] [-points 0|11|101] [-thresh 0.25]
//                       [-letter_box] [-json]
//
// Darknet's mAP on the .data's valid list (per-class AP with TP/FP, precision, recall, F1,
// TP/FP/FN and average IoU at -thresh, mAP at -iou_thresh), classes without ground truth listed
// apart, then the COCO figures of the same detections. docs/detection-eval.md has the rules.
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "demo/detection_report.h"
#include "mishnet/data_file.h"
#include "mishnet/detection_eval.h"
#include "mishnet/error.h"

namespace mishnet::cli {
namespace {

struct DetectorMapArgs {
  std::string data, cfg, weights;
  float iou_thresh = 0.5f, thresh = 0.25f;
  int points = 0;
  bool letter_box = false, json = false;
  NetworkArgs net;
};

// The first few problems and how many there were, so a dataset full of bad lines stays readable.
void print_problems(const std::vector<std::string>& problems, const char* what) {
  if (problems.empty()) return;
  const size_t shown = std::min<size_t>(problems.size(), 10);
  for (size_t i = 0; i < shown; ++i) std::cerr << "warning: " << problems[i] << "\n";
  if (problems.size() > shown) std::cerr << "warning: ... and " << problems.size() - shown << " more\n";
  std::cerr << problems.size() << " " << what << "\n";
}

void run_detector_map(const DetectorMapArgs& a) {
  if (a.points != 0 && a.points < 2) fail("-points must be 0 (area under the curve), 11, 101 or another count >= 2");
  DataFile data = DataFile::parse_file(a.data);
  const std::string names_path = data.existing_file("names");
  std::vector<std::string> names = read_names_file(names_path);
  const std::string valid = data.existing_file("valid");
  Network net = load_network(a.cfg, a.weights, a.net);
  const int classes = demo::detector_classes(net, a.cfg);
  demo::check_class_names(names, classes, names_path, a.cfg);

  MapOptions o;
  o.iou_thresh = a.iou_thresh;
  o.points = a.points;
  o.thresh = a.thresh;
  if (a.letter_box) o.letter_box = 1;
  std::printf("\n calculation mAP (mean average precision) on %s ...\n", valid.c_str());
  std::fflush(stdout);
  MapReport rep = evaluate_map_on_list(net, valid, classes, o);
  print_problems(rep.skipped_images, "images could not be loaded and were skipped");
  print_problems(rep.label_problems, "label problems (bad lines skipped; missing files mean no objects)");
  if (a.json) {
    std::printf("{\"map\": %.10g, \"map_all_classes\": %.10g, \"iou_thresh\": %g, \"points\": %d, \"coco\": %s}\n",
                rep.map, rep.map_all_classes, double(o.iou_thresh), o.points, coco_stats_json(rep.coco).c_str());
  } else {
    std::fputs(format_map_report(rep, names).c_str(), stdout);
  }
}

CommandRegistrar reg({"detector", "map"}, "Darknet's mAP and the COCO figures on the .data's valid list",
                     [](CLI::App& app) {
                       auto a = std::make_shared<DetectorMapArgs>();
                       app.add_option("data", a->data, ".data file (valid=, names=)")->required();
                       app.add_option("cfg", a->cfg, "Network .cfg file")->required();
                       app.add_option("weights", a->weights, "Network .weights file")->required();
                       app.add_option("--iou_thresh", a->iou_thresh, "IoU for a detection to match a truth (default 0.5)");
                       app.add_option("--points", a->points,
                                      "0: area under the curve (default), 11: VOC2007, 101: COCO-style points");
                       app.add_option("--thresh", a->thresh, "Score for precision/recall/F1/TP/FP/FN (default 0.25)");
                       app.add_flag("--letter_box", a->letter_box, "Letterbox (also on when [net] letter_box=1)");
                       app.add_flag("--json", a->json, "Print mAP and COCO figures as one JSON object");
                       add_network_options(app, a->net);
                       add_device_options(app, a->net);
                       app.callback([a] { run_detector_map(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
