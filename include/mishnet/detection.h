// Detections from a network's [yolo]/[region]/[detection] outputs, and non-maximum suppression.
#pragma once
#include <string>
#include <vector>

namespace mishnet {

class Network;

// Centre and size, relative to the original image (0..1), as in YOLO label files.
struct Box {
  float x = 0, y = 0, w = 0, h = 0;
};

struct Detection {
  Box box;
  float objectness = 0;
  std::vector<float> prob;  // per class: objectness * class score, 0 when below thresh
  int classes = 0;
};

enum class NmsKind { greedy, diou };

// Gathers detections whose objectness exceeds `thresh` from every detection layer of the last
// forward pass (batch entry `batch_index`), with boxes mapped back to an image of
// image_w x image_h that was resized (letterbox=false) or letterboxed (letterbox=true) to the
// network size.
std::vector<Detection> get_detections(const Network& net, int image_w, int image_h, float thresh,
                                      bool letterbox, int batch_index = 0);

// Darknet's do_nms_sort: per class, sort by probability and zero the probability of boxes whose
// IoU (or DIoU for NmsKind::diou, with beta) with a better box exceeds `thresh`.
void nms_sort(std::vector<Detection>& dets, float thresh, NmsKind kind = NmsKind::greedy,
              float beta = 0.6f);

// NMS settings of the network's last detection layer (nms_kind, beta_nms); greedy 0.6 default.
void network_nms_settings(const Network& net, NmsKind& kind, float& beta);

float box_iou(const Box& a, const Box& b);

}  // namespace mishnet
