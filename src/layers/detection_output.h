// What the detection decoder (src/detect/) needs from a layer whose output holds detections:
// [yolo], [region] and [detection] implement it.
#pragma once
#include <vector>

#include "mishnet/detection.h"
#include "mishnet/layer.h"

namespace mishnet {

struct DetectionGeometry {
  int net_w = 0, net_h = 0;      // network input size
  int image_w = 0, image_h = 0;  // the original image
  bool letterbox = false;        // the image was letterboxed (else stretched) to the network
};

class DetectionOutputLayer : public Layer {
 public:
  bool is_detection_output() const final { return true; }
  virtual int classes() const = 0;
  // Appends, in Darknet's order, the detections of batch entry `batch_index` of `output` (this
  // layer's output after a forward pass), boxes relative to the original image.
  virtual void append_detections(const Tensor& output, int batch_index, const DetectionGeometry& g,
                                 float thresh, std::vector<Detection>& out) const = 0;
  // The layer's cfg nms_kind / beta_nms; layers without them use Darknet's default.
  virtual NmsKind nms_kind() const { return NmsKind::greedy; }
  virtual float beta_nms() const { return 0.6f; }
};

}  // namespace mishnet
