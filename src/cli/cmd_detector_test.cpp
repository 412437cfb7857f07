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
#include "layers/detection_output.h"
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

// Darknet hides classes whose name starts with "dont_show" from output and drawing.
bool shown(const std::string& name) { return name.rfind("dont_show", 0) != 0; }

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
      continue;
    }
    out += ch;
  }
  return out;
}

// Darknet's detection_to_json: every class above 0.005 (detections are already thresholded).
std::string detections_json(const std::vector<Detection>& dets, const std::vector<std::string>& names,
                            int frame_id, const std::string& filename) {
  std::string s = "{\n \"frame_id\":" + std::to_string(frame_id) + ", \n \"filename\":\"" + json_escape(filename) +
                  "\", \n \"objects\": [ \n";
  bool first = true;
  char buf[512];
  for (const Detection& d : dets)
    for (int j = 0; j < d.classes; ++j) {
      if (!(d.prob[size_t(j)] > 0.005f) || !shown(names[size_t(j)])) continue;
      if (!first) s += ", \n";
      first = false;
      std::snprintf(buf, sizeof buf,
                    "  {\"class_id\":%d, \"name\":\"%s\", \"relative_coordinates\":{\"center_x\":%f, "
                    "\"center_y\":%f, \"width\":%f, \"height\":%f}, \"confidence\":%f}",
                    j, json_escape(names[size_t(j)]).c_str(), double(d.box.x), double(d.box.y), double(d.box.w),
                    double(d.box.h), double(d.prob[size_t(j)]));
      s += buf;
    }
  return s + "\n ] \n}";
}

struct Shown {
  const Detection* det;
  int best_class;
};

// Darknet's draw_detections_v3: text sorted by left edge, drawing sorted by probability (the
// most likely box drawn last, on top).
void print_and_draw(Image& im, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                    float thresh, bool ext_output) {
  std::vector<Shown> selected;
  for (const Detection& d : dets) {
    int best = -1;
    float best_prob = thresh;
    for (int j = 0; j < d.classes; ++j)
      if (d.prob[size_t(j)] > best_prob && shown(names[size_t(j)])) {
        best = j;
        best_prob = d.prob[size_t(j)];
      }
    if (best >= 0) selected.push_back({&d, best});
  }
  std::stable_sort(selected.begin(), selected.end(), [](const Shown& a, const Shown& b) {
    return a.det->box.x - a.det->box.w / 2 < b.det->box.x - b.det->box.w / 2;
  });
  for (const Shown& s : selected) {
    const Box& b = s.det->box;
    std::printf("%s: %.0f%%", names[size_t(s.best_class)].c_str(), double(s.det->prob[size_t(s.best_class)]) * 100);
    if (ext_output)
      std::printf("\t(left_x: %4.0f   top_y: %4.0f   width: %4.0f   height: %4.0f)\n",
                  std::round((b.x - b.w / 2) * float(im.w)), std::round((b.y - b.h / 2) * float(im.h)),
                  std::round(b.w * float(im.w)), std::round(b.h * float(im.h)));
    else
      std::printf("\n");
    for (int j = 0; j < s.det->classes; ++j)
      if (j != s.best_class && s.det->prob[size_t(j)] > thresh && shown(names[size_t(j)]))
        std::printf("%s: %.0f%%\n", names[size_t(j)].c_str(), double(s.det->prob[size_t(j)]) * 100);
  }

  std::stable_sort(selected.begin(), selected.end(), [](const Shown& a, const Shown& b) {
    return a.det->prob[size_t(a.best_class)] < b.det->prob[size_t(b.best_class)];
  });
  std::vector<LabelledBox> boxes;
  for (const Shown& s : selected) {
    const Box& b = s.det->box;
    LabelledBox lb;
    lb.left = std::max(0, int((b.x - b.w / 2.0) * im.w));
    lb.right = std::min(im.w - 1, int((b.x + b.w / 2.0) * im.w));
    lb.top = std::max(0, int((b.y - b.h / 2.0) * im.h));
    lb.bottom = std::min(im.h - 1, int((b.y + b.h / 2.0) * im.h));
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%2.0f%%)", double(s.det->prob[size_t(s.best_class)]) * 100);
    lb.label = names[size_t(s.best_class)] + pct;
    for (int j = 0; j < s.det->classes; ++j)
      if (j != s.best_class && s.det->prob[size_t(j)] > thresh && shown(names[size_t(j)]))
        lb.label += ", " + names[size_t(j)];
    class_colour(s.best_class, s.det->classes, lb.rgb);
    boxes.push_back(lb);
  }
  draw_labelled_boxes(im, boxes);
}

int network_classes(const Network& net, const std::string& cfg) {
  for (int i = net.num_layers() - 1; i >= 0; --i)
    if (const auto* d = dynamic_cast<const DetectionOutputLayer*>(&net.layer(i))) return d->classes();
  fail(cfg, ": has no [yolo], [region] or [detection] layer: it is not a detector");
}

void run_detector_test(const DetectorTestArgs& a) {
  DataFile data = DataFile::parse_file(a.data);
  std::vector<std::string> names = read_names_file(data.existing_file("names"));
  Network net = load_network(a.cfg, a.weights, a.net);
  const int classes = network_classes(net, a.cfg);
  if (int(names.size()) < classes)
    fail(data.existing_file("names"), ": has ", names.size(), " names but ", a.cfg, " detects ", classes,
         " classes");
  if (int(names.size()) > classes)
    std::cerr << "warning: " << data.existing_file("names") << " has " << names.size() << " names, " << a.cfg
              << " detects " << classes << " classes\n";
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
      json << detections_json(dets, names, ++frame_id, path);
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
                       app.callback([a] { run_detector_test(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
