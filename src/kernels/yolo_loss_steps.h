// The [yolo] training loss as steps over one batch, for host and device
// (docs/yolo-loss.md; Darknet's AlexeyAB process_batch / delta_yolo_box / delta_yolo_class). The
// CPU loss (src/layers/yolo_loss.cpp) and the CUDA kernels (src/backend/cuda/yolo_loss_kernels.cu)
// run the same steps in the same order, so the CPU tests describe what the device computes:
//   A. yolo_prediction_step, once per prediction (image, anchor, cell), in any order: clears the
//      prediction's entries, pulls its objectness towards 0 unless it already overlaps a truth
//      (ignore_thresh), trains it towards a truth it overlaps beyond truth_thresh. A prediction
//      writes only its own entries, so predictions are independent.
//   B. yolo_truth_step, once per image: the image's truths in order (best anchor by shape, the
//      iou_thresh anchors); truths of one image may hit the same prediction, later ones
//      accumulating into or overwriting earlier ones, so one image is one sequential loop.
//   C. yolo_prediction_finish, once per prediction: Darknet's per-anchor division of the box
//      deltas (iou_thresh < 1), the loss terms and squared deltas, and the conversion of
//      Darknet's delta D to mishnet's gradient -delta_normalizer * D.
//   D. the sums: image sums (B) in image order; prediction sums (C) in chunks of
//      kYoloSumChunk consecutive predictions, each chunk in order, then the chunks in order.
// Sums are in double as the CPU loss always computed them; the order is fixed, so the result
// does not depend on the thread count or the device's scheduling.
#pragma once
#include <float.h>
#include <math.h>
#include <stddef.h>

#include "kernels/box.h"
#include "kernels/host_device.h"
#include "kernels/yolo_loss.h"
#include "mishnet/detection.h"

namespace mishnet::kernels {

constexpr float kYoloFocalAlpha = 0.5f;  // Darknet's delta_yolo_class
// Predictions per partial sum of step D (the CUDA kernel's block size).
constexpr int kYoloSumChunk = 256;

// One head's options and geometry as plain values and pointers (host or device memory).
struct YoloLossParams {
  int classes = 0;
  int num = 0;      // anchors in `anchor_sizes`
  int anchors = 0;  // anchors of this head (`mask`)
  int max_boxes = 0;
  int grid_w = 0, grid_h = 0, net_w = 0, net_h = 0;
  bool new_coords = false;
  float scale_x_y = 1.0f;
  float ignore_thresh = 0, truth_thresh = 1, iou_thresh = 1;
  IouFamily iou_thresh_kind = IouFamily::iou;
  bool mse_box = true;             // iou_loss=mse; otherwise iou_loss_kind
  IouFamily iou_loss_kind = IouFamily::iou;
  float iou_normalizer = 1, obj_normalizer = 1, cls_normalizer = 1;
  float max_delta = FLT_MAX;
  bool objectness_smooth = false;
  float label_smooth_eps = 0;
  bool focal_loss = false;
  const float* anchor_sizes = nullptr;         // 2 * num: w, h in network-input pixels
  const int* mask = nullptr;                   // anchors entries
  const float* classes_multipliers = nullptr;  // classes entries, or null
};

// The batch's buffers, NCHW with channels = anchors * (classes + 5). `delta` holds Darknet's D
// after steps A and B, the gradient after C. weight/target/focal_true remember, per entry, what
// produced an objectness or class delta (for the loss); box_loss is per prediction.
struct YoloLossBuffers {
  const float* in = nullptr;   // the layer input (conv output)
  const float* out = nullptr;  // the activated output
  const float* truth = nullptr;
  size_t truth_stride = 0;  // floats per image
  float* delta = nullptr;
  float* weight = nullptr;
  float* target = nullptr;
  unsigned char* focal_true = nullptr;  // the true class entry of a focal-loss assignment
  double* box_loss = nullptr;
};

// Sums of one image's truth loop (step B).
struct YoloImageSums {
  double tot_iou = 0, tot_iou_loss = 0, tot_giou_loss = 0;
  double avg_cat = 0, avg_obj = 0, recall = 0, recall75 = 0;
  int count = 0, class_count = 0, rewritten = 0;
};

// Sums over predictions (step C): losses, Darknet's squared deltas, objectness everywhere.
struct YoloPredictionSums {
  double box_loss = 0, obj_loss = 0, class_loss = 0;
  double box_squared = 0, rest_squared = 0;  // Darknet's cost: squared D before the conversion
  double any_obj = 0;
};

// Everything the host needs from a batch to report the loss and Darknet's figures.
struct YoloLossTotals {
  YoloImageSums images;
  YoloPredictionSums predictions;
};

MISHNET_HD void yolo_add(YoloImageSums& t, const YoloImageSums& s) {
  t.tot_iou += s.tot_iou;
  t.tot_iou_loss += s.tot_iou_loss;
  t.tot_giou_loss += s.tot_giou_loss;
  t.avg_cat += s.avg_cat;
  t.avg_obj += s.avg_obj;
  t.recall += s.recall;
  t.recall75 += s.recall75;
  t.count += s.count;
  t.class_count += s.class_count;
  t.rewritten += s.rewritten;
}

MISHNET_HD void yolo_add(YoloPredictionSums& t, const YoloPredictionSums& s) {
  t.box_loss += s.box_loss;
  t.obj_loss += s.obj_loss;
  t.class_loss += s.class_loss;
  t.box_squared += s.box_squared;
  t.rest_squared += s.rest_squared;
  t.any_obj += s.any_obj;
}

// Index arithmetic of one head.
struct YoloLossIndex {
  int classes, anchors;
  size_t plane;

  MISHNET_HD explicit YoloLossIndex(const YoloLossParams& p)
      : classes(p.classes), anchors(p.anchors), plane(size_t(p.grid_w) * size_t(p.grid_h)) {}
  MISHNET_HD size_t per_image() const { return size_t(anchors) * size_t(classes + 5) * plane; }
  MISHNET_HD size_t predictions_per_image() const { return size_t(anchors) * plane; }
  // Entry e (0..3 box, 4 objectness, 5.. classes) of anchor slot a at cell of image b.
  MISHNET_HD size_t entry(int b, int a, int e, size_t cell) const {
    return size_t(b) * per_image() + (size_t(a) * size_t(classes + 5) + size_t(e)) * plane + cell;
  }
  // Prediction q = (b * anchors + a) * plane + cell: the order of step C's sums.
  MISHNET_HD size_t prediction(int b, int a, size_t cell) const {
    return (size_t(b) * size_t(anchors) + size_t(a)) * plane + cell;
  }
};

// The truths of image b: the list ends at the first box with w or h == 0 (checked on the host
// beforehand: class ids in range, x, y in [0,1]).
MISHNET_HD int yolo_truth_count(const float* t, int max_boxes) {
  int n = 0;
  while (n < max_boxes && t[size_t(n) * 5 + 2] != 0 && t[size_t(n) * 5 + 3] != 0) ++n;
  return n;
}
MISHNET_HD Box yolo_truth_box(const float* t, int k) {
  const float* v = t + size_t(k) * 5;
  return Box{v[0], v[1], v[2], v[3]};
}
MISHNET_HD int yolo_truth_class(const float* t, int k) { return int(t[size_t(k) * 5 + 4]); }

MISHNET_HD float yolo_anchor_w(const YoloLossParams& p, int n) { return p.anchor_sizes[2 * n]; }
MISHNET_HD float yolo_anchor_h(const YoloLossParams& p, int n) { return p.anchor_sizes[2 * n + 1]; }
MISHNET_HD float yolo_class_multiplier(const YoloLossParams& p, int class_id) {
  return p.classes_multipliers ? p.classes_multipliers[class_id] : 1.0f;
}
MISHNET_HD int yolo_mask_slot(const YoloLossParams& p, int n) {
  for (int k = 0; k < p.anchors; ++k)
    if (p.mask[k] == n) return k;
  return -1;
}

MISHNET_HD float yolo_clip(float v, float limit) {
  return v > limit ? limit : (v < -limit ? -limit : v);
}

// D = w * (t - p) for an objectness or class entry, remembering w and t for the loss.
MISHNET_HD void yolo_set_entry(const YoloLossBuffers& m, size_t k, float w, float t) {
  m.delta[k] = w * (t - m.out[k]);
  m.weight[k] = w;
  m.target[k] = t;
  m.focal_true[k] = 0;
}

// The box that anchor slot a (anchor index `anchor`) predicts at `cell` of image b.
MISHNET_HD Box yolo_predicted_box(const YoloLossParams& p, const YoloLossBuffers& m, int b, int a,
                                  size_t cell, int anchor) {
  const YoloLossIndex ix(p);
  const size_t k = ix.entry(b, a, 0, cell);
  const size_t s = ix.plane;
  return kernels::yolo_box(m.out[k], m.out[k + s], m.out[k + 2 * s], m.out[k + 3 * s],
                  int(cell % size_t(p.grid_w)), int(cell / size_t(p.grid_w)), p.grid_w, p.grid_h,
                  yolo_anchor_w(p, anchor), yolo_anchor_h(p, anchor), p.net_w, p.net_h,
                  p.new_coords);
}

struct YoloBoxIous {
  float iou = 0, giou = 0;
};

// Darknet's delta_yolo_box (accumulate=1): adds the box deltas of anchor slot a (anchor index
// `anchor`) at `cell` towards `truth`, and the matching loss. Counts a box delta written twice
// in *rewritten (null: the caller knows it is the first).
MISHNET_HD YoloBoxIous yolo_delta_box(const YoloLossParams& p, const YoloLossBuffers& m,
                                      const Box& truth, int b, int a, int anchor, size_t cell,
                                      float scale, float iou_norm, int* rewritten) {
  const YoloLossIndex ix(p);
  const size_t k0 = ix.entry(b, a, 0, cell);
  const size_t s = ix.plane;
  float* D = m.delta;
  if (rewritten && (D[k0] != 0 || D[k0 + s] != 0 || D[k0 + 2 * s] != 0 || D[k0 + 3 * s] != 0))
    ++*rewritten;
  const int col = int(cell % size_t(p.grid_w)), row = int(cell / size_t(p.grid_w));
  Box pred = yolo_predicted_box(p, m, b, a, cell, anchor);
  YoloBoxIous ious;
  ious.iou = kernels::box_iou(pred, truth);
  ious.giou = kernels::box_giou(pred, truth);
  double& loss = m.box_loss[ix.prediction(b, a, cell)];

  if (p.mse_box) {
    const float tx = truth.x * float(p.grid_w) - float(col);
    const float ty = truth.y * float(p.grid_h) - float(row);
    float tw = float(log(double(truth.w * float(p.net_w) / yolo_anchor_w(p, anchor))));
    float th = float(log(double(truth.h * float(p.net_h) / yolo_anchor_h(p, anchor))));
    if (p.new_coords) {
      tw = float(sqrt(double(truth.w * float(p.net_w) / (4 * yolo_anchor_w(p, anchor)))));
      th = float(sqrt(double(truth.h * float(p.net_h) / (4 * yolo_anchor_h(p, anchor)))));
    }
    const float t[4] = {tx, ty, tw, th};
    for (int e = 0; e < 4; ++e) D[k0 + size_t(e) * s] += scale * (t[e] - m.out[k0 + size_t(e) * s]) * iou_norm;

    // The loss whose input gradient is -D (docs/yolo-loss.md, "Box, mse").
    const double kw = double(scale) * double(iou_norm);
    const double sxy = p.scale_x_y, shift = 0.5 * (sxy - 1);
    for (int e = 0; e < 2; ++e) {
      const double z = m.in[k0 + size_t(e) * s];
      if (p.new_coords) {
        const double d = t[e] - (sxy * z - shift);
        loss += 0.5 * (kw / sxy) * d * d;
      } else {
        const double target = (t[e] + shift) / sxy;
        loss += kw * sxy * (bce_with_logit(z, target) - binary_entropy(target));
      }
    }
    for (int e = 2; e < 4; ++e) {
      const double d = double(t[e]) - m.in[k0 + size_t(e) * s];
      loss += 0.5 * kw * d * d;
    }
    return ious;
  }

  const IouFamily kind = p.iou_loss_kind;
  loss += double(iou_norm) * (1.0 - double(kernels::box_iou_family(pred, truth, kind)));
  if (pred.w == 0) pred.w = 1.0;  // Darknet: "avoid nan in dx_box_iou"
  if (pred.h == 0) pred.h = 1.0;
  const BoxDelta up = kernels::box_iou_ascent(pred, truth, kind);
  float d[4] = {up.x, up.y, up.w, up.h};
  if (!p.new_coords) {
    // Darknet applies only the exp() of the width/height decoding, not anchor/net size.
    d[2] = float(double(d[2]) * exp(double(m.out[k0 + 2 * s])));
    d[3] = float(double(d[3]) * exp(double(m.out[k0 + 3 * s])));
  }
  for (int e = 0; e < 4; ++e) {
    float& v = d[e];
    v *= iou_norm;
    if (!isfinite(v)) v = 0;
    if (p.max_delta != FLT_MAX) v = yolo_clip(v, p.max_delta);
  }
  for (int e = 0; e < 4; ++e) D[k0 + size_t(e) * s] += d[e];
  return ious;
}

// Darknet's delta_yolo_class for anchor slot a at `cell` of image b; adds the true class's
// probability to *avg_cat when given.
MISHNET_HD void yolo_delta_class(const YoloLossParams& p, const YoloLossBuffers& m, int b, int a,
                                 size_t cell, int class_id, double* avg_cat) {
  const YoloLossIndex ix(p);
  const size_t c0 = ix.entry(b, a, 5, cell);
  const size_t kc = c0 + size_t(class_id) * ix.plane;
  float* D = m.delta;
  const bool multipliers = p.classes_multipliers != nullptr;
  const float multiplier = multipliers ? p.classes_multipliers[class_id] : 1.0f;
  if (D[kc] != 0) {
    // Already trained by another truth: only this class's entry changes (without cls_normalizer).
    const float y = yolo_class_target(true, p.label_smooth_eps);
    const float r = y - m.out[kc];
    if (isfinite(r)) D[kc] = r;
    if (multipliers) D[kc] *= multiplier;
    m.weight[kc] = multiplier;
    m.target[kc] = y;
    m.focal_true[kc] = 0;
    if (avg_cat) *avg_cat += m.out[kc];
    return;
  }
  if (p.focal_loss) {
    // Every class is weighted by alpha * the focal factor of the true class's probability.
    const float weight = kYoloFocalAlpha * yolo_focal_factor(m.out[kc]);
    for (int n = 0; n < p.classes; ++n) {
      const size_t k = c0 + size_t(n) * ix.plane;
      D[k] = ((n == class_id) ? 1.f : 0.f) - m.out[k];
      D[k] *= weight;
      m.weight[k] = weight;
      m.target[k] = n == class_id ? 1.f : 0.f;
      m.focal_true[k] = n == class_id ? 1 : 0;
    }
    if (avg_cat) *avg_cat += m.out[kc];
    return;
  }
  for (int n = 0; n < p.classes; ++n) {
    const size_t k = c0 + size_t(n) * ix.plane;
    const float y = yolo_class_target(n == class_id, p.label_smooth_eps);
    const float r = y - m.out[k];
    if (isfinite(r)) D[k] = r;
    float w = 1.0f;
    // Darknet applies cls_normalizer only together with counters_per_class, to the true class.
    if (multipliers && n == class_id) {
      w = multiplier * p.cls_normalizer;
      D[k] *= w;
    }
    m.weight[k] = w;
    m.target[k] = y;
    m.focal_true[k] = 0;
  }
  if (avg_cat) *avg_cat += m.out[kc];
}

// One truth on anchor slot a at `cell`: box, objectness 1, class (Darknet's truth loop body).
MISHNET_HD void yolo_train_anchor(const YoloLossParams& p, const YoloLossBuffers& m,
                                  const Box& truth, int class_id, int b, int a, int anchor,
                                  size_t cell, YoloImageSums& s) {
  const YoloLossIndex ix(p);
  const float multiplier = yolo_class_multiplier(p, class_id);
  const YoloBoxIous ious = yolo_delta_box(p, m, truth, b, a, anchor, cell, 2 - truth.w * truth.h,
                                          p.iou_normalizer * multiplier, &s.rewritten);
  s.tot_iou += ious.iou;
  s.tot_iou_loss += 1 - ious.iou;
  s.tot_giou_loss += 1 - ious.giou;
  const size_t ko = ix.entry(b, a, 4, cell);
  s.avg_obj += m.out[ko];
  if (!p.objectness_smooth || m.delta[ko] == 0) yolo_set_entry(m, ko, multiplier * p.obj_normalizer, 1.0f);
  yolo_delta_class(p, m, b, a, cell, class_id, &s.avg_cat);
  ++s.count;
  ++s.class_count;
  if (ious.iou > .5f) s.recall += 1;
  if (ious.iou > .75f) s.recall75 += 1;
}

// Step A for anchor slot a at `cell` of image b.
// `cleared`: the caller has zeroed delta, weight, target, focal_true and box_loss already (the
// CPU does it with one pass over each array: clearing a prediction's entries here touches one
// cache line per entry, plane strides apart, which tripled the CPU loss's time).
MISHNET_HD void yolo_prediction_step(const YoloLossParams& p, const YoloLossBuffers& m, int b,
                                     int a, size_t cell, bool cleared = false) {
  const YoloLossIndex ix(p);
  if (!cleared) {
    for (int e = 0; e < p.classes + 5; ++e) {
      const size_t k = ix.entry(b, a, e, cell);
      m.delta[k] = 0;
      m.weight[k] = 0;
      m.target[k] = 0;
      m.focal_true[k] = 0;
    }
    m.box_loss[ix.prediction(b, a, cell)] = 0;
  }

  const float* truths = m.truth + size_t(b) * m.truth_stride;
  const int count = yolo_truth_count(truths, p.max_boxes);
  const Box pred = yolo_predicted_box(p, m, b, a, cell, p.mask[a]);
  // Darknet's compare_yolo_class: some class above 0.25 (not necessarily the truth's).
  bool class_match = false;
  for (int n = 0; n < p.classes && !class_match; ++n)
    class_match = m.out[ix.entry(b, a, 5 + n, cell)] > 0.25f;
  float best_match_iou = 0, best_iou = 0;
  int best_t = 0;
  for (int t = 0; t < count; ++t) {
    const float iou = kernels::box_iou(pred, yolo_truth_box(truths, t));
    if (iou > best_match_iou && class_match) best_match_iou = iou;
    if (iou > best_iou) {
      best_iou = iou;
      best_t = t;
    }
  }
  const size_t ko = ix.entry(b, a, 4, cell);
  yolo_set_entry(m, ko, p.obj_normalizer, 0.0f);
  if (best_match_iou > p.ignore_thresh) {
    if (p.objectness_smooth) {
      const float smooth = p.obj_normalizer * (best_match_iou - m.out[ko]);
      if (smooth > m.delta[ko]) yolo_set_entry(m, ko, p.obj_normalizer, best_match_iou);
    } else {
      yolo_set_entry(m, ko, 0.0f, 0.0f);
    }
  }
  if (best_iou > p.truth_thresh) {
    const float iou_multiplier = best_iou * best_iou;
    yolo_set_entry(m, ko, p.obj_normalizer, p.objectness_smooth ? iou_multiplier : 1.0f);
    const Box truth = yolo_truth_box(truths, best_t);
    const int class_id = yolo_truth_class(truths, best_t);
    yolo_delta_class(p, m, b, a, cell, class_id, nullptr);
    const float multiplier = yolo_class_multiplier(p, class_id);
    if (p.objectness_smooth)
      yolo_set_entry(m, ix.entry(b, a, 5 + class_id, cell), multiplier, iou_multiplier);
    // The box entries were cleared above: this is their first write.
    yolo_delta_box(p, m, truth, b, a, p.mask[a], cell, 2 - truth.w * truth.h,
                   p.iou_normalizer * multiplier, nullptr);
  }
}

// Step B for image b: every truth, its best anchor by shape over all `num`, and with
// iou_thresh < 1 every other anchor of this head that overlaps it enough.
MISHNET_HD YoloImageSums yolo_truth_step(const YoloLossParams& p, const YoloLossBuffers& m, int b) {
  YoloImageSums s;
  const float* truths = m.truth + size_t(b) * m.truth_stride;
  const int count = yolo_truth_count(truths, p.max_boxes);
  for (int t = 0; t < count; ++t) {
    const Box box = yolo_truth_box(truths, t);
    const int class_id = yolo_truth_class(truths, t);
    const int col0 = int(box.x * float(p.grid_w)), row0 = int(box.y * float(p.grid_h));
    const int col = col0 < p.grid_w - 1 ? col0 : p.grid_w - 1;
    const int row = row0 < p.grid_h - 1 ? row0 : p.grid_h - 1;
    const size_t cell = size_t(row) * size_t(p.grid_w) + size_t(col);
    const Box shape{0, 0, box.w, box.h};
    float best_iou = 0;
    int best_n = 0;
    for (int n = 0; n < p.num; ++n) {
      const Box anchor{0, 0, yolo_anchor_w(p, n) / float(p.net_w), yolo_anchor_h(p, n) / float(p.net_h)};
      const float iou = kernels::box_iou(anchor, shape);
      if (iou > best_iou) {
        best_iou = iou;
        best_n = n;
      }
    }
    const int slot = yolo_mask_slot(p, best_n);
    if (slot >= 0) yolo_train_anchor(p, m, box, class_id, b, slot, best_n, cell, s);
    if (p.iou_thresh < 1.0f) {
      for (int n = 0; n < p.num; ++n) {
        const int other = yolo_mask_slot(p, n);
        if (other < 0 || n == best_n) continue;
        const Box anchor{0, 0, yolo_anchor_w(p, n) / float(p.net_w), yolo_anchor_h(p, n) / float(p.net_h)};
        if (kernels::box_iou_family(anchor, shape, p.iou_thresh_kind) > p.iou_thresh)
          yolo_train_anchor(p, m, box, class_id, b, other, n, cell, s);
      }
    }
  }
  return s;
}

// Loss of one objectness or class entry from its weight and target: binary cross-entropy of the
// logit (the layer applied the logistic) less the target's entropy, or squared error of the
// probability (new_coords: the conv applied it). Either way its input gradient is -D.
MISHNET_HD double yolo_entry_loss(const YoloLossParams& p, const YoloLossBuffers& m, size_t k) {
  const double w = m.weight[k], t = m.target[k], z = m.in[k];
  if (p.new_coords) return 0.5 * w * (t - z) * (t - z);
  if (m.focal_true[k]) return double(kYoloFocalAlpha) * focal_with_logit(z);
  if (w == 0) return 0;
  return w * (bce_with_logit(z, t) - binary_entropy(t));
}

// Step C for anchor slot a at `cell` of image b; `to_gradient` is -delta_normalizer.
MISHNET_HD YoloPredictionSums yolo_prediction_finish(const YoloLossParams& p,
                                                     const YoloLossBuffers& m, int b, int a,
                                                     size_t cell, float to_gradient) {
  const YoloLossIndex ix(p);
  float* D = m.delta;
  double& box_loss = m.box_loss[ix.prediction(b, a, cell)];
  // With several anchors per truth Darknet divides an anchor's box deltas by the number of
  // classes it is pulled towards.
  if (p.iou_thresh < 1.0f && D[ix.entry(b, a, 4, cell)] != 0) {
    int pulled = 0;
    for (int n = 0; n < p.classes; ++n)
      if (D[ix.entry(b, a, 5 + n, cell)] > 0) ++pulled;
    if (pulled > 0) {
      for (int e = 0; e < 4; ++e) D[ix.entry(b, a, e, cell)] /= float(pulled);
      box_loss /= pulled;
    }
  }
  YoloPredictionSums s;
  s.box_loss = box_loss;
  s.any_obj = m.out[ix.entry(b, a, 4, cell)];
  for (int e = 0; e < p.classes + 5; ++e) {
    const size_t k = ix.entry(b, a, e, cell);
    const double squared = double(D[k]) * double(D[k]);
    if (e < 4) {
      s.box_squared += squared;
    } else {
      s.rest_squared += squared;
      if (e == 4)
        s.obj_loss += yolo_entry_loss(p, m, k);
      else
        s.class_loss += yolo_entry_loss(p, m, k);
    }
    D[k] *= to_gradient;
  }
  return s;
}

}  // namespace mishnet::kernels
