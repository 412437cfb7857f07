// mishnet detector valid DATA CFG WEIGHTS [-out results.json] [-letter_box]
//
// Detections on the .data's valid list as COCO results JSON (image_id, category_id, bbox in
// pixels [x, y, w, h], score), every (box, class) above 0.005 after NMS 0.45 as Darknet's valid.
// Image ids: file name stems when all are numeric (COCO's files), else list positions; category
// ids: COCO's when the .data says eval=coco with 80 classes, else class + 1 (what
// `dataset yolo2coco` writes into ground truth).
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "demo/detection_report.h"
#include "mishnet/data_file.h"
#include "mishnet/detection_eval.h"
#include "mishnet/detection_labels.h"
#include "mishnet/error.h"

namespace mishnet::cli {
namespace {

struct DetectorValidArgs {
  std::string data, cfg, weights, out = "results.json";
  bool letter_box = false;
  NetworkArgs net;
};

void run_detector_valid(const DetectorValidArgs& a) {
  DataFile data = DataFile::parse_file(a.data);
  const std::vector<std::string> paths = read_image_list(data.existing_file("valid"));
  Network net = load_network(a.cfg, a.weights, a.net);
  const int classes = demo::detector_classes(net, a.cfg);
  const bool coco_ids = data.get_string("eval", "") == "coco" && classes == 80;
  const std::vector<int64_t> category_ids = coco_category_ids(classes, coco_ids);
  const std::vector<int64_t> image_ids = coco_image_ids(paths);
  const int channels = net.input_shape().c;

  std::vector<CocoResult> results;
  int skipped = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    Image im;
    try {
      im = load_image(paths[i], channels);
    } catch (const Error& e) {
      std::cerr << "warning: " << e.what() << " (skipped)\n";
      ++skipped;
      continue;
    }
    std::vector<Detection> dets = detect_for_evaluation(net, im, 0.005f, 0.45f, a.letter_box ? 1 : -1);
    for (const Detection& d : dets)
      for (int c = 0; c < classes && c < int(d.prob.size()); ++c)
        if (d.prob[size_t(c)] > 0)
          results.push_back({image_ids[i], category_ids[size_t(c)],
                             coco_box_from_relative(d.box.x, d.box.y, d.box.w, d.box.h, im.w, im.h), d.prob[size_t(c)]});
    if ((i + 1) % 100 == 0) std::fprintf(stderr, "\r%zu / %zu", i + 1, paths.size());
  }
  write_coco_results(results, a.out);
  std::printf("%zu detections on %zu images written to %s%s\n", results.size(), paths.size() - size_t(skipped),
              a.out.c_str(), skipped ? " (some images skipped, see the warnings)" : "");
}

CommandRegistrar reg({"detector", "valid"}, "Detections on the valid list as COCO results JSON",
                     [](CLI::App& app) {
                       auto a = std::make_shared<DetectorValidArgs>();
                       app.add_option("data", a->data, ".data file (valid=, eval=)")->required();
                       app.add_option("cfg", a->cfg, "Network .cfg file")->required();
                       app.add_option("weights", a->weights, "Network .weights file")->required();
                       app.add_option("--out", a->out, "Results file (default results.json)");
                       app.add_flag("--letter_box", a->letter_box, "Letterbox (also on when [net] letter_box=1)");
                       add_network_options(app, a->net);
                       add_device_options(app, a->net);
                       app.callback([a] { run_detector_valid(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
