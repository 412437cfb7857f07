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

// How suppression compares two boxes. The cfg's `nms_kind` of a [yolo] layer picks one:
//   default (or absent), cornersnms -> greedy: IoU > thresh (Darknet's do_nms_sort)
//   greedynms -> greedy_diou: Darknet's GREEDY_NMS, which despite its name compares
//                IoU - (d^2/c^2)^0.6 > thresh (its box_diou), whatever beta_nms says
//   diounms   -> diou: IoU - (d^2/c^2)^beta > thresh (beta = beta_nms)
// where d is the distance of the centres and c the diagonal of the smallest enclosing box.
enum class NmsKind { greedy, diou, greedy_diou };

// Gathers detections whose objectness exceeds `thresh` from every detection layer of the last
// forward pass (batch entry `batch_index`), with boxes mapped back to an image of
// image_w x image_h that was resized (letterbox=false) or letterboxed (letterbox=true) to the
// network size. Layers are visited in cfg order, cells row by row, anchors within a cell, as
// Darknet does. As in Darknet, a [region] layer contributes every box with objectness 1 (its
// scores are already in `prob`), and a [detection] layer every box (no letterbox correction).
std::vector<Detection> get_detections(const Network& net, int image_w, int image_h, float thresh,
                                      bool letterbox, int batch_index = 0);

// Darknet's do_nms_sort: per class, sort by probability and zero the probability of boxes whose
// IoU (or DIoU for NmsKind::diou, with beta) with a better box exceeds `thresh`.
// Detections with objectness 0 move to the end first, and the vector is left in Darknet's
// final order (sorted by the last class), so printing it in order matches Darknet.
void nms_sort(std::vector<Detection>& dets, float thresh, NmsKind kind = NmsKind::greedy,
              float beta = 0.6f);

// NMS settings of the network's last detection layer (nms_kind, beta_nms); greedy 0.6 default.
void network_nms_settings(const Network& net, NmsKind& kind, float& beta);

float box_iou(const Box& a, const Box& b);

}  // namespace mishnet
