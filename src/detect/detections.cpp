// get_detections and network_nms_settings: Darknet's get_network_boxes over the detection
// layers of a network (src/layers/detection_output.h).
#include <string>
#include <vector>

#include "layers/detection_output.h"
#include "mishnet/detection.h"
#include "mishnet/error.h"
#include "mishnet/network.h"

namespace mishnet {

namespace {

const DetectionOutputLayer* as_detection_layer(const Layer& l) {
  if (!l.is_detection_output()) return nullptr;
  const auto* d = dynamic_cast<const DetectionOutputLayer*>(&l);
  if (!d)
    fail("layer ", l.index, " (", l.type(),
         ") says it outputs detections but does not implement DetectionOutputLayer");
  return d;
}

}  // namespace

std::vector<Detection> get_detections(const Network& net, int image_w, int image_h, float thresh,
                                      bool letterbox, int batch_index) {
  if (image_w < 1 || image_h < 1)
    fail("get_detections: image size ", image_w, "x", image_h, " must be positive");
  if (batch_index < 0 || batch_index >= net.batch())
    fail("get_detections: batch index ", batch_index, " is outside 0..", net.batch() - 1);
  const Shape input = net.input_shape();
  DetectionGeometry g;
  g.net_w = input.w;
  g.net_h = input.h;
  g.image_w = image_w;
  g.image_h = image_h;
  g.letterbox = letterbox;

  std::vector<Detection> dets;
  int first_layer = -1, first_classes = 0;
  for (int i = 0; i < net.num_layers(); ++i) {
    const DetectionOutputLayer* d = as_detection_layer(net.layer(i));
    if (!d) continue;
    // Darknet only prints a warning; mixed class counts make every later step ambiguous.
    if (first_layer < 0) {
      first_layer = i;
      first_classes = d->classes();
    } else if (d->classes() != first_classes) {
      fail("detection layers ", first_layer, " and ", i, " have different classes (",
           first_classes, " and ", d->classes(), "): check the cfg");
    }
    d->append_detections(net.output(i), batch_index, g, thresh, dets);
  }
  if (first_layer < 0)
    fail("get_detections: the network has no [yolo], [region] or [detection] layer");
  return dets;
}

void network_nms_settings(const Network& net, NmsKind& kind, float& beta) {
  kind = NmsKind::greedy;
  beta = 0.6f;
  // Darknet reads these from its last layer, which is the last [yolo] in every detector cfg.
  for (int i = net.num_layers() - 1; i >= 0; --i) {
    if (const DetectionOutputLayer* d = as_detection_layer(net.layer(i))) {
      kind = d->nms_kind();
      beta = d->beta_nms();
      return;
    }
  }
}

}  // namespace mishnet
