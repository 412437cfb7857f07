// Random [yolo] loss problems for the step tests (tests/layers/test_yolo_loss_steps.cpp) and the
// GPU comparison (tests/cuda/test_cuda_yolo_loss.cpp): a head with anchors outside its mask,
// random outputs, random truths including several in one cell, one at the image edge, an image
// without truths, and option sets covering every branch of the loss.
#pragma once
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "layers/yolo.h"
#include "layers/yolo_loss.h"
#include "ops/detection_heads.h"

namespace mishnet::test {

struct YoloLossCase {
  std::string name;
  YoloOptions o;
  YoloLossGeometry g;
  std::vector<float> in, out, truth;
  size_t truth_stride = 0;
  size_t size() const { return in.size(); }
};

// Option sets: each turns on the branches its name says.
inline std::vector<std::string> yolo_loss_variants() {
  return {"mse",          "mse_scale_x_y", "iou",       "giou",          "diou",
          "ciou",         "iou_thresh_iou", "iou_thresh_giou", "iou_thresh_diou",
          "iou_thresh_ciou", "label_smooth", "focal",   "new_coords",    "objectness_smooth",
          "counters_per_class", "truth_thresh", "truth_thresh_smooth", "max_delta",
          "delta_normalizer", "no_details", "everything"};
}

inline YoloLossCase make_yolo_loss_case(const std::string& variant, uint64_t seed, int batch = 3,
                                        int grid_w = 9, int grid_h = 7) {
  YoloLossCase c;
  c.name = variant;
  YoloOptions& o = c.o;
  o.classes = 4;
  o.num = 6;
  o.mask = {0, 2, 3};  // anchors 1, 4, 5 belong to other heads: their truths skip this one
  o.max_boxes = 12;
  o.ignore_thresh = 0.3f;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  const auto in_range = [&](float lo, float hi) { return lo + (hi - lo) * unit(rng); };
  for (int n = 0; n < o.num; ++n) {
    o.anchors.push_back(in_range(4.0f, 40.0f));
    o.anchors.push_back(in_range(4.0f, 40.0f));
  }
  const auto iou_loss = [&](YoloIouLoss l) {
    o.iou_loss = l;
    o.iou_normalizer = 0.07f;
  };
  const auto iou_thresh = [&](YoloIouKind k) {
    o.iou_thresh = 0.213f;
    o.iou_thresh_kind = k;
  };
  if (variant == "mse_scale_x_y") o.scale_x_y = 1.1f;
  if (variant == "iou") iou_loss(YoloIouLoss::iou);
  if (variant == "giou") iou_loss(YoloIouLoss::giou);
  if (variant == "diou") iou_loss(YoloIouLoss::diou);
  if (variant == "ciou") iou_loss(YoloIouLoss::ciou);
  if (variant == "iou_thresh_iou") iou_thresh(YoloIouKind::iou);
  if (variant == "iou_thresh_giou") {
    iou_thresh(YoloIouKind::giou);
    iou_loss(YoloIouLoss::giou);
  }
  if (variant == "iou_thresh_diou") iou_thresh(YoloIouKind::diou);
  if (variant == "iou_thresh_ciou") {
    iou_thresh(YoloIouKind::ciou);
    iou_loss(YoloIouLoss::ciou);
  }
  if (variant == "label_smooth") o.label_smooth_eps = 0.1f;
  if (variant == "focal") o.focal_loss = true;
  if (variant == "new_coords") {
    o.new_coords = true;
    o.scale_x_y = 2.0f;
    iou_loss(YoloIouLoss::ciou);
    iou_thresh(YoloIouKind::iou);
  }
  if (variant == "objectness_smooth") o.objectness_smooth = true;
  if (variant == "counters_per_class" || variant == "everything") {
    o.counters_per_class = {10, 200, 35, 1};
    o.cls_normalizer = 1.5f;
    o.max_delta = 5.0f;
    for (int k : o.counters_per_class) o.classes_multipliers.push_back(std::min(200.0f / float(k), o.max_delta));
  }
  if (variant == "truth_thresh") o.truth_thresh = 0.3f;
  if (variant == "truth_thresh_smooth") {
    o.truth_thresh = 0.3f;
    o.objectness_smooth = true;
  }
  if (variant == "max_delta") {
    iou_loss(YoloIouLoss::ciou);
    o.max_delta = 0.05f;
  }
  if (variant == "delta_normalizer") o.delta_normalizer = 0.5f;
  if (variant == "no_details") {
    iou_loss(YoloIouLoss::giou);
    o.show_details = false;
  }
  if (variant == "everything") {
    o.scale_x_y = 1.05f;
    iou_loss(YoloIouLoss::ciou);
    iou_thresh(YoloIouKind::giou);
    o.label_smooth_eps = 0.05f;
    o.objectness_smooth = true;
    o.truth_thresh = 0.6f;
    o.delta_normalizer = 0.8f;
    o.obj_normalizer = 0.9f;
  }

  YoloLossGeometry& g = c.g;
  g.batch = batch;
  g.grid_w = grid_w;
  g.grid_h = grid_h;
  g.net_w = grid_w * 8;
  g.net_h = grid_h * 8;
  g.layer_index = 7;

  const int anchors = int(o.mask.size());
  const size_t n = size_t(batch) * size_t(anchors) * size_t(o.classes + 5) * size_t(grid_w * grid_h);
  c.in.resize(n);
  for (float& v : c.in) v = o.new_coords ? in_range(0.01f, 0.99f) : in_range(-4.0f, 4.0f);
  c.out.resize(n);
  ops::HeadDesc d;
  d.batch = batch;
  d.anchors = anchors;
  d.entries = o.classes + 5;
  d.spatial = grid_w * grid_h;
  ops::yolo_activate_reference(d, c.in.data(), c.out.data(), o.scale_x_y, o.new_coords);

  c.truth_stride = size_t(o.max_boxes) * 5;
  c.truth.assign(c.truth_stride * size_t(batch), 0.0f);
  for (int b = 0; b < batch; ++b) {
    if (b == 1) continue;  // an image without truths
    float* t = c.truth.data() + size_t(b) * c.truth_stride;
    const int boxes = 3 + int(rng() % 7);
    for (int k = 0; k < boxes; ++k) {
      float* v = t + size_t(k) * 5;
      v[0] = in_range(0.0f, 1.0f);
      v[1] = in_range(0.0f, 1.0f);
      v[2] = in_range(0.05f, 0.6f);
      v[3] = in_range(0.05f, 0.6f);
      v[4] = float(rng() % uint64_t(o.classes));
      if (k == 1 || k == 2) {  // same cell as box 0: one of the same class, one of another
        v[0] = t[0];
        v[1] = t[1];
        if (k == 1) v[4] = t[4];
      }
      if (k == 3) v[0] = 1.0f;  // on the right edge: clamped to the last column
    }
  }
  return c;
}

}  // namespace mishnet::test
