// [yolo] training loss on the CPU: the steps of kernels/yolo_loss_steps.h (Darknet's AlexeyAB
// process_batch / delta_yolo_box / delta_yolo_class, decision by decision) driven in the order the
// CUDA kernels run them (src/backend/cuda/yolo_loss_kernels.cu), so both compute the same deltas
// and sum the loss in the same order. Darknet computes "deltas" D that point downhill (its sign:
// target - prediction); mishnet stores the gradient -delta_normalizer * D. Beside D, every entry
// keeps the weight and target that produced it, so the loss reported at the end is the one whose
// gradient D is (binary cross-entropy from the logit, or squared error where the conv before
// already applied the logistic), see docs/yolo-loss.md.
#include "layers/yolo_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/box.h"
#include "mishnet/error.h"

namespace mishnet {

namespace {

kernels::IouFamily family_of(YoloIouLoss l) {
  switch (l) {
    case YoloIouLoss::giou: return kernels::IouFamily::giou;
    case YoloIouLoss::diou: return kernels::IouFamily::diou;
    case YoloIouLoss::ciou: return kernels::IouFamily::ciou;
    default: return kernels::IouFamily::iou;
  }
}

kernels::IouFamily family_of(YoloIouKind k) {
  switch (k) {
    case YoloIouKind::giou: return kernels::IouFamily::giou;
    case YoloIouKind::diou: return kernels::IouFamily::diou;
    case YoloIouKind::ciou: return kernels::IouFamily::ciou;
    default: return kernels::IouFamily::iou;
  }
}

}  // namespace

void check_yolo_truths(const YoloOptions& o, const float* truth, size_t truth_stride, int batch,
                       int layer) {
  for (int b = 0; b < batch; ++b) {
    const float* t = truth + size_t(b) * truth_stride;
    for (int k = 0; k < o.max_boxes; ++k) {
      const float* v = t + size_t(k) * 5;
      if (v[2] == 0 || v[3] == 0) break;
      const float c = v[4];
      if (!(c >= 0 && c < float(o.classes)) || c != std::floor(c))
        fail("[yolo] layer ", layer, ": image ", b, " truth box ", k, " has class id ", c,
             "; this layer has classes=", o.classes, " (ids 0..", o.classes - 1, ")");
      if (!(v[0] >= 0 && v[0] <= 1 && v[1] >= 0 && v[1] <= 1 && v[2] > 0 && v[3] > 0))
        fail("[yolo] layer ", layer, ": image ", b, " truth box ", k, " (x=", v[0], " y=", v[1],
             " w=", v[2], " h=", v[3], ") is outside the image: x, y must be in [0,1], w, h > 0");
    }
  }
}

kernels::YoloLossParams yolo_loss_params(const YoloOptions& o, const YoloLossGeometry& g) {
  kernels::YoloLossParams p;
  p.classes = o.classes;
  p.num = o.num;
  p.anchors = int(o.mask.size());
  p.max_boxes = o.max_boxes;
  p.grid_w = g.grid_w;
  p.grid_h = g.grid_h;
  p.net_w = g.net_w;
  p.net_h = g.net_h;
  p.new_coords = o.new_coords;
  p.scale_x_y = o.scale_x_y;
  p.ignore_thresh = o.ignore_thresh;
  p.truth_thresh = o.truth_thresh;
  p.iou_thresh = o.iou_thresh;
  p.iou_thresh_kind = family_of(o.iou_thresh_kind);
  p.mse_box = o.iou_loss == YoloIouLoss::mse;
  p.iou_loss_kind = family_of(o.iou_loss);
  p.iou_normalizer = o.iou_normalizer;
  p.obj_normalizer = o.obj_normalizer;
  p.cls_normalizer = o.cls_normalizer;
  p.max_delta = o.max_delta;
  p.objectness_smooth = o.objectness_smooth;
  p.label_smooth_eps = o.label_smooth_eps;
  p.focal_loss = o.focal_loss;
  p.anchor_sizes = o.anchors.data();
  p.mask = o.mask.data();
  p.classes_multipliers = o.classes_multipliers.empty() ? nullptr : o.classes_multipliers.data();
  return p;
}

YoloStats yolo_stats(const YoloOptions& o, const YoloLossGeometry& g,
                     const kernels::YoloLossTotals& totals) {
  const kernels::YoloImageSums& t = totals.images;
  const kernels::YoloPredictionSums& q = totals.predictions;
  const double plane = double(g.grid_w) * double(g.grid_h);
  YoloStats st;
  st.images = g.batch;
  st.count = t.count;
  st.class_count = t.class_count;
  const double count = t.count > 0 ? t.count : 1, class_count = t.class_count > 0 ? t.class_count : 1;
  st.avg_iou = float(t.tot_iou / count);
  st.avg_class = float(t.avg_cat / class_count);
  st.avg_obj = float(t.avg_obj / count);
  st.avg_no_obj = float(q.any_obj / (plane * double(o.mask.size()) * g.batch));
  st.recall50 = float(t.recall / count);
  st.recall75 = float(t.recall75 / count);
  st.rewritten_boxes = t.rewritten;
  // delta_normalizer scales the gradient, so it scales the loss too.
  st.box_loss = o.delta_normalizer * q.box_loss;
  st.obj_loss = o.delta_normalizer * q.obj_loss;
  st.class_loss = o.delta_normalizer * q.class_loss;
  st.loss = st.box_loss + st.obj_loss + st.class_loss;
  // Darknet's reported cost, from its deltas before delta_normalizer.
  if (!o.show_details || o.iou_loss == YoloIouLoss::mse) {
    st.darknet_loss = q.box_squared + q.rest_squared;
  } else {
    const double iou_part = o.iou_loss == YoloIouLoss::giou ? t.tot_giou_loss : t.tot_iou_loss;
    st.darknet_loss = (t.count > 0 ? o.iou_normalizer * iou_part / t.count : 0.0) +
                      o.obj_normalizer * q.rest_squared;
  }
  return st;
}

YoloStats combine_yolo_stats(const std::vector<YoloStats>& parts) {
  YoloStats c;
  double iou = 0, cls = 0, obj = 0, no_obj = 0, r50 = 0, r75 = 0;
  for (const YoloStats& p : parts) {
    c.images += p.images;
    c.count += p.count;
    c.class_count += p.class_count;
    c.rewritten_boxes += p.rewritten_boxes;
    c.loss += p.loss;
    c.box_loss += p.box_loss;
    c.obj_loss += p.obj_loss;
    c.class_loss += p.class_loss;
    c.darknet_loss += p.darknet_loss;
    iou += double(p.avg_iou) * p.count;
    obj += double(p.avg_obj) * p.count;
    r50 += double(p.recall50) * p.count;
    r75 += double(p.recall75) * p.count;
    cls += double(p.avg_class) * p.class_count;
    no_obj += double(p.avg_no_obj) * p.images;
  }
  const double count = c.count > 0 ? c.count : 1, class_count = c.class_count > 0 ? c.class_count : 1;
  c.avg_iou = float(iou / count);
  c.avg_obj = float(obj / count);
  c.recall50 = float(r50 / count);
  c.recall75 = float(r75 / count);
  c.avg_class = float(cls / class_count);
  c.avg_no_obj = c.images > 0 ? float(no_obj / c.images) : 0.0f;
  return c;
}

YoloStats yolo_loss(const YoloOptions& o, const YoloLossGeometry& g, const float* input,
                    const float* output, const float* truth, size_t truth_stride, float* delta) {
  // Truths are checked before the parallel part, which must not throw.
  check_yolo_truths(o, truth, truth_stride, g.batch, g.layer_index);
  const kernels::YoloLossParams p = yolo_loss_params(o, g);
  const kernels::YoloLossIndex ix(p);
  const size_t entries = ix.per_image() * size_t(g.batch);
  const long predictions = long(ix.predictions_per_image()) * g.batch;
  // Zeroed here, once per array, so step A need not clear per prediction. The scratch arrays
  // are kept between calls (a fresh allocation of megabytes page-faults on every batch).
  thread_local std::vector<float> weight, target;
  thread_local std::vector<unsigned char> focal_true;
  thread_local std::vector<double> box_loss;
  weight.assign(entries, 0.0f);
  target.assign(entries, 0.0f);
  focal_true.assign(entries, 0);
  box_loss.assign(static_cast<size_t>(predictions), 0.0);
  std::fill(delta, delta + entries, 0.0f);
  kernels::YoloLossBuffers m;
  m.in = input;
  m.out = output;
  m.truth = truth;
  m.truth_stride = truth_stride;
  m.delta = delta;
  m.weight = weight.data();
  m.target = target.data();
  m.focal_true = focal_true.data();
  m.box_loss = box_loss.data();
  const auto at = [&](long q, auto step) {
    const size_t cell = size_t(q) % ix.plane;
    const long anchor_block = q / long(ix.plane);  // image * anchors + anchor slot
    return step(int(anchor_block / p.anchors), int(anchor_block % p.anchors), cell);
  };
  const bool parallel = predictions >= 1024;

  // A: every prediction (the buffers are already zero).
#pragma omp parallel for schedule(static) if (parallel)
  for (long q = 0; q < predictions; ++q)
    at(q, [&](int b, int a, size_t cell) { kernels::yolo_prediction_step(p, m, b, a, cell, true); });

  // B: every image's truths.
  std::vector<kernels::YoloImageSums> image_sums(size_t(g.batch));
#pragma omp parallel for schedule(static) if (g.batch > 1)
  for (int b = 0; b < g.batch; ++b) image_sums[size_t(b)] = kernels::yolo_truth_step(p, m, b);

  // C: every prediction, summed per chunk in order.
  const float to_gradient = -o.delta_normalizer;
  const long chunks = (predictions + kernels::kYoloSumChunk - 1) / kernels::kYoloSumChunk;
  std::vector<kernels::YoloPredictionSums> chunk_sums(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (parallel)
  for (long c = 0; c < chunks; ++c) {
    const long end = std::min(predictions, (c + 1) * kernels::kYoloSumChunk);
    for (long q = c * kernels::kYoloSumChunk; q < end; ++q)
      kernels::yolo_add(chunk_sums[size_t(c)], at(q, [&](int b, int a, size_t cell) {
                          return kernels::yolo_prediction_finish(p, m, b, a, cell, to_gradient);
                        }));
  }

  // D: images in order, then chunks in order.
  kernels::YoloLossTotals totals;
  for (const kernels::YoloImageSums& s : image_sums) kernels::yolo_add(totals.images, s);
  for (const kernels::YoloPredictionSums& s : chunk_sums) kernels::yolo_add(totals.predictions, s);
  return yolo_stats(o, g, totals);
}

}  // namespace mishnet
