// mishnet detector test DATA CFG WEIGHTS [IMAGE...] [-thresh 0.25] [-ext_output] [-dont_show]
//                        [-out result.json] [-letter_box]
//
// Darknet's detector test: per image, one forward pass, detections above -thresh after NMS 0.45
// (kind and beta of the last detection layer), printed as Darknet prints them, drawn into
// predictions.jpg, and with -out written in Darknet's JSON result format. With no IMAGE, paths
// are read from standard input, one per line.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "demo/detection_report.h"
#include "mishnet/data_file.h"
#include "mishnet/detection.h"
#include "mishnet/error.h"
#include "mishnet/image.h"

namespace mishnet::cli {
namespace {

struct DetectorTestArgs {
  std::string data, cfg, weights, json_out;
  std::string predictions = "predictions.jpg";
  std::vector<std::string> images;
  float thresh = 0.25f;
  bool ext_output = false;
  bool dont_show = false;
  bool letter_box = false;
  NetworkArgs net;
};

// Text sorted by left edge, drawing by probability (the most likely box on top), as Darknet's
// draw_detections_v3. The helpers are shared with `detector demo` (src/demo/detection_report.h).
void print_and_draw(Image& im, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                    float thresh, bool ext_output) {
  std::vector<demo::ShownDetection> shown = demo::shown_detections(dets, names, thresh);
  std::fputs(demo::detection_lines(shown, names, thresh, ext_output, im.w, im.h).c_str(), stdout);
  draw_labelled_boxes(im, demo::labelled_boxes(shown, names, thresh, im.w, im.h));
}

void run_detector_test(const DetectorTestArgs& a) {
  DataFile data = DataFile::parse_file(a.data);
  std::vector<std::string> names = read_names_file(data.existing_file("names"));
  Network net = load_network(a.cfg, a.weights, a.net);
  demo::check_class_names(names, demo::detector_classes(net, a.cfg), data.existing_file("names"), a.cfg);
  NmsKind kind;
  float beta;
  network_nms_settings(net, kind, beta);
  const Shape in = net.input_shape();
  const bool letterbox = a.letter_box || net.config().letter_box != 0;

  std::ofstream json;
  if (!a.json_out.empty()) {
    json.open(a.json_out, std::ios::binary | std::ios::trunc);
    if (!json) fail(a.json_out, ": cannot open for writing");
    json << "[\n";
  }
  int frame_id = 0;

  auto detect = [&](const std::string& path) {
    Image im = load_image(path, in.c);
    Image sized = letterbox ? letterbox_image(im, in.w, in.h) : resize_image(im, in.w, in.h);
    auto t0 = std::chrono::steady_clock::now();
    net.forward(sized.data.data());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: Predicted in %f milli-seconds.\n", path.c_str(), ms);
    std::vector<Detection> dets = get_detections(net, im.w, im.h, a.thresh, letterbox);
    nms_sort(dets, 0.45f, kind, beta);
    print_and_draw(im, dets, names, a.thresh, a.ext_output);
    std::fflush(stdout);
    save_image(im, a.predictions);
    if (json.is_open()) {
      if (frame_id > 0) json << ", \n";
      json << demo::detections_json(dets, names, ++frame_id, path, false);
      json.flush();
    }
  };

  if (!a.images.empty()) {
    for (const std::string& path : a.images) detect(path);
  } else {
    const bool interactive = isatty(0);
    std::string line;
    while (true) {
      if (interactive) {
        std::printf("Enter Image Path: ");
        std::fflush(stdout);
      }
      if (!std::getline(std::cin, line)) break;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) detect(line);
    }
  }
  if (json.is_open()) {
    json << "\n]";
    json.flush();
    if (!json) fail(a.json_out, ": write failed");
  }
}

CommandRegistrar reg({"detector", "test"}, "Detect objects in images (prints, draws predictions.jpg)",
                     [](CLI::App& app) {
                       auto a = std::make_shared<DetectorTestArgs>();
                       app.add_option("data", a->data, ".data file (names=)")->required();
                       app.add_option("cfg", a->cfg, "Network .cfg file")->required();
                       app.add_option("weights", a->weights, "Network .weights file")->required();
                       app.add_option("images", a->images, "Images (default: paths from stdin, one per line)");
                       app.add_option("--thresh", a->thresh, "Score threshold (default 0.25)");
                       app.add_flag("--ext_output", a->ext_output, "Also print each box in pixels");
                       app.add_flag("--dont_show", a->dont_show,
                                    "Accepted for Darknet compatibility (mishnet never opens a window)");
                       app.add_option("--out", a->json_out, "Write detections as Darknet's JSON");
                       app.add_flag("--letter_box", a->letter_box,
                                    "Letterbox instead of stretching (also on when [net] letter_box=1)");
                       app.add_option("--predictions", a->predictions,
                                      "Where to save the drawn image (default predictions.jpg)");
                       add_network_options(app, a->net);
                       add_device_options(app, a->net);
                       app.callback([a] { run_detector_test(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
