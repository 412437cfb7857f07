#include "demo/detection_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "layers/detection_output.h"
#include "mishnet/error.h"
#include "mishnet/network.h"

namespace mishnet::demo {

bool class_is_shown(const std::string& name) { return name.rfind("dont_show", 0) != 0; }

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

std::vector<ShownDetection> shown_detections(const std::vector<Detection>& dets,
                                             const std::vector<std::string>& names, float thresh) {
  std::vector<ShownDetection> selected;
  for (const Detection& d : dets) {
    int best = -1;
    float best_prob = thresh;
    for (int j = 0; j < d.classes; ++j)
      if (d.prob[size_t(j)] > best_prob && class_is_shown(names[size_t(j)])) {
        best = j;
        best_prob = d.prob[size_t(j)];
      }
    if (best >= 0) selected.push_back({&d, best});
  }
  std::stable_sort(selected.begin(), selected.end(), [](const ShownDetection& a, const ShownDetection& b) {
    return a.det->box.x - a.det->box.w / 2 < b.det->box.x - b.det->box.w / 2;
  });
  return selected;
}

std::string detection_lines(const std::vector<ShownDetection>& shown, const std::vector<std::string>& names,
                            float thresh, bool ext_output, int image_w, int image_h) {
  std::string text;
  char buf[512];
  for (const ShownDetection& s : shown) {
    const Box& b = s.det->box;
    std::snprintf(buf, sizeof buf, "%s: %.0f%%", names[size_t(s.best_class)].c_str(),
                  double(s.det->prob[size_t(s.best_class)]) * 100);
    text += buf;
    if (ext_output) {
      std::snprintf(buf, sizeof buf, "\t(left_x: %4.0f   top_y: %4.0f   width: %4.0f   height: %4.0f)\n",
                    std::round((b.x - b.w / 2) * float(image_w)), std::round((b.y - b.h / 2) * float(image_h)),
                    std::round(b.w * float(image_w)), std::round(b.h * float(image_h)));
      text += buf;
    } else {
      text += "\n";
    }
    for (int j = 0; j < s.det->classes; ++j)
      if (j != s.best_class && s.det->prob[size_t(j)] > thresh && class_is_shown(names[size_t(j)])) {
        std::snprintf(buf, sizeof buf, "%s: %.0f%%\n", names[size_t(j)].c_str(), double(s.det->prob[size_t(j)]) * 100);
        text += buf;
      }
  }
  return text;
}

std::vector<LabelledBox> labelled_boxes(std::vector<ShownDetection> shown, const std::vector<std::string>& names,
                                        float thresh, int image_w, int image_h) {
  std::stable_sort(shown.begin(), shown.end(), [](const ShownDetection& a, const ShownDetection& b) {
    return a.det->prob[size_t(a.best_class)] < b.det->prob[size_t(b.best_class)];
  });
  std::vector<LabelledBox> boxes;
  boxes.reserve(shown.size());
  for (const ShownDetection& s : shown) {
    const Box& b = s.det->box;
    LabelledBox lb;
    lb.left = std::max(0, int((b.x - b.w / 2.0) * image_w));
    lb.right = std::min(image_w - 1, int((b.x + b.w / 2.0) * image_w));
    lb.top = std::max(0, int((b.y - b.h / 2.0) * image_h));
    lb.bottom = std::min(image_h - 1, int((b.y + b.h / 2.0) * image_h));
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%2.0f%%)", double(s.det->prob[size_t(s.best_class)]) * 100);
    lb.label = names[size_t(s.best_class)] + pct;
    for (int j = 0; j < s.det->classes; ++j)
      if (j != s.best_class && s.det->prob[size_t(j)] > thresh && class_is_shown(names[size_t(j)]))
        lb.label += ", " + names[size_t(j)];
    class_colour(s.best_class, s.det->classes, lb.rgb);
    boxes.push_back(lb);
  }
  return boxes;
}

std::string detections_json(const std::vector<Detection>& dets, const std::vector<std::string>& names,
                            long long frame_id, const std::string& filename, bool one_line) {
  const std::string head_sep = one_line ? ", " : ", \n ";
  std::string s = std::string(one_line ? "{" : "{\n ") + "\"frame_id\":" + std::to_string(frame_id) + head_sep +
                  "\"filename\":\"" + json_escape(filename) + "\"" + head_sep + "\"objects\": [" +
                  (one_line ? "" : " \n");
  bool first = true;
  char buf[512];
  for (const Detection& d : dets)
    for (int j = 0; j < d.classes; ++j) {
      if (!(d.prob[size_t(j)] > 0.005f) || !class_is_shown(names[size_t(j)])) continue;
      if (!first) s += one_line ? ", " : ", \n";
      first = false;
      std::snprintf(buf, sizeof buf,
                    "%s{\"class_id\":%d, \"name\":\"%s\", \"relative_coordinates\":{\"center_x\":%f, "
                    "\"center_y\":%f, \"width\":%f, \"height\":%f}, \"confidence\":%f}",
                    one_line ? "" : "  ", j, json_escape(names[size_t(j)]).c_str(), double(d.box.x), double(d.box.y),
                    double(d.box.w), double(d.box.h), double(d.prob[size_t(j)]));
      s += buf;
    }
  return s + (one_line ? "]}" : "\n ] \n}");
}

int detector_classes(const Network& net, const std::string& cfg) {
  for (int i = net.num_layers() - 1; i >= 0; --i)
    if (const auto* d = dynamic_cast<const DetectionOutputLayer*>(&net.layer(i))) return d->classes();
  fail(cfg, ": has no [yolo], [region] or [detection] layer: it is not a detector");
}

void check_class_names(const std::vector<std::string>& names, int classes, const std::string& names_path,
                       const std::string& cfg) {
  if (int(names.size()) < classes)
    fail(names_path, ": has ", names.size(), " names but ", cfg, " detects ", classes, " classes");
  if (int(names.size()) > classes)
    std::cerr << "warning: " << names_path << " has " << names.size() << " names, " << cfg << " detects " << classes
              << " classes\n";
}

}  // namespace mishnet::demo
