// How detections are reported, as Darknet's detector test and demo report them: the text lines,
// the boxes to draw and the JSON object of one image or frame. The same rules as
// src/cli/cmd_detector_test.cpp (which has its own copy for now; this file is meant to replace it).
#pragma once
#include <string>
#include <vector>

#include "mishnet/detection.h"
#include "mishnet/image.h"

namespace mishnet {
class Network;
}

namespace mishnet::demo {

// Darknet hides classes whose name starts with "dont_show" from output and drawing.
bool class_is_shown(const std::string& name);
std::string json_escape(const std::string& s);

struct ShownDetection {
  const Detection* det = nullptr;
  int best_class = -1;  // the most likely class above the threshold
};
// Detections with a shown class above `thresh`, sorted by their left edge (Darknet's print order).
std::vector<ShownDetection> shown_detections(const std::vector<Detection>& dets,
                                             const std::vector<std::string>& names, float thresh);

// "name: 87%" per detection (with ext_output also "\t(left_x: ... height: ...)" in pixels of an
// image_w x image_h image), then each other class above thresh on its own line.
std::string detection_lines(const std::vector<ShownDetection>& shown, const std::vector<std::string>& names,
                            float thresh, bool ext_output, int image_w, int image_h);

// Boxes in pixels with "name (87%)[, other names]" labels and class colours, the most likely
// drawn last (on top), as Darknet's draw_detections_v3.
std::vector<LabelledBox> labelled_boxes(std::vector<ShownDetection> shown, const std::vector<std::string>& names,
                                        float thresh, int image_w, int image_h);

// Darknet's detection_to_json: {"frame_id", "filename", "objects": [{"class_id", "name",
// "relative_coordinates": {"center_x", "center_y", "width", "height"}, "confidence"}]} with every
// class above 0.005. `one_line` drops Darknet's line breaks (one object per line streams).
std::string detections_json(const std::vector<Detection>& dets, const std::vector<std::string>& names,
                            long long frame_id, const std::string& filename, bool one_line);

// Classes of the network's last [yolo]/[region]/[detection] layer; throws naming the cfg when
// it has none.
int detector_classes(const Network& net, const std::string& cfg);
// Checks that `names` covers the network's classes (an error when too few, a warning on
// std::cerr when too many), naming names_path.
void check_class_names(const std::vector<std::string>& names, int classes, const std::string& names_path,
                       const std::string& cfg);

}  // namespace mishnet::demo
