// The [yolo] loss exactly as src/layers/yolo_loss.cpp computed it before its steps moved to
// kernels/yolo_loss_steps.h for the GPU (image by image, one class per image): kept verbatim as
// the oracle of tests/layers/test_yolo_loss_steps.cpp, which checks that the step-ordered loss
// (CPU and, mirrored one-to-one, CUDA) gives the same deltas bit for bit. Do not "fix" it.
#include "layers/yolo_loss_reference.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/box.h"
#include "kernels/yolo_loss.h"
#include "mishnet/error.h"

namespace mishnet::test {

namespace {

constexpr float kFocalAlpha = 0.5f;  // Darknet's delta_yolo_class

struct TruthBox {
  Box box;
  int class_id = 0;
};

// Reads one image's truth list: it ends at the first box with w or h == 0.
std::vector<TruthBox> read_truths(const float* t, const YoloOptions& o, int image, int layer) {
  std::vector<TruthBox> out;
  for (int k = 0; k < o.max_boxes; ++k) {
    const float* v = t + size_t(k) * 5;
    if (v[2] == 0 || v[3] == 0) break;
    TruthBox b;
    b.box = Box{v[0], v[1], v[2], v[3]};
    const float c = v[4];
    if (!(c >= 0 && c < float(o.classes)) || c != std::floor(c))
      fail("[yolo] layer ", layer, ": image ", image, " truth box ", k, " has class id ", c,
           "; this layer has classes=", o.classes, " (ids 0..", o.classes - 1, ")");
    if (!(v[0] >= 0 && v[0] <= 1 && v[1] >= 0 && v[1] <= 1 && v[2] > 0 && v[3] > 0))
      fail("[yolo] layer ", layer, ": image ", image, " truth box ", k, " (x=", v[0], " y=", v[1],
           " w=", v[2], " h=", v[3], ") is outside the image: x, y must be in [0,1], w, h > 0");
    b.class_id = int(c);
    out.push_back(b);
  }
  return out;
}

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

float clip(float v, float limit) { return v > limit ? limit : (v < -limit ? -limit : v); }

// Sums of one image, reduced over the batch at the end.
struct ImageSums {
  double tot_iou = 0, tot_iou_loss = 0, tot_giou_loss = 0;
  double avg_cat = 0, avg_obj = 0, avg_anyobj = 0, recall = 0, recall75 = 0;
  int count = 0, class_count = 0, rewritten = 0;
  double box_loss = 0, obj_loss = 0, class_loss = 0;
};

// The loss of one image. D points into the image's slice of the delta buffer and holds Darknet's
// deltas until the caller converts them.
class ImageLoss {
 public:
  ImageLoss(const YoloOptions& o, const YoloLossGeometry& g, const float* in, const float* out,
            float* D)
      : o_(o), g_(g), in_(in), out_(out), D_(D) {
    plane_ = size_t(g.grid_w) * size_t(g.grid_h);
    block_ = size_t(o.classes + 5) * plane_;
    const size_t anchors = o.mask.size();
    const size_t entries = anchors * block_;
    for (size_t k = 0; k < entries; ++k) D_[k] = 0;
    weight_.assign(entries, 0.0f);
    target_.assign(entries, 0.0f);
    focal_true_.assign(entries, 0);
    box_loss_.assign(anchors * plane_, 0.0);
  }

  ImageSums run(const std::vector<TruthBox>& truths);

 private:
  size_t box_index(int a, size_t cell) const { return size_t(a) * block_ + cell; }
  size_t obj_index(int a, size_t cell) const { return box_index(a, cell) + 4 * plane_; }
  size_t class_index(int a, size_t cell) const { return box_index(a, cell) + 5 * plane_; }
  float anchor_w(int n) const { return o_.anchors[size_t(2 * n)]; }
  float anchor_h(int n) const { return o_.anchors[size_t(2 * n + 1)]; }
  int mask_slot(int n) const {
    for (size_t k = 0; k < o_.mask.size(); ++k)
      if (o_.mask[k] == n) return int(k);
    return -1;
  }

  // D = w * (t - p) for an objectness or class entry, remembering w and t for the loss.
  void set_entry(size_t k, float w, float t) {
    D_[k] = w * (t - out_[k]);
    weight_[k] = w;
    target_[k] = t;
    focal_true_[k] = 0;
  }

  Box predicted_box(int a, size_t cell, int anchor) const {
    const size_t b = box_index(a, cell);
    return kernels::yolo_box(out_[b], out_[b + plane_], out_[b + 2 * plane_], out_[b + 3 * plane_],
                             int(cell % size_t(g_.grid_w)), int(cell / size_t(g_.grid_w)),
                             g_.grid_w, g_.grid_h, anchor_w(anchor), anchor_h(anchor), g_.net_w,
                             g_.net_h, o_.new_coords);
  }

  struct Ious {
    float iou = 0, giou = 0;
  };
  Ious delta_box(const Box& truth, int a, int anchor, size_t cell, float scale, float iou_norm);
  void delta_class(int a, size_t cell, int class_id, double* avg_cat);
  void train_anchor(const TruthBox& t, int a, int anchor, size_t cell, ImageSums& s);
  double entry_loss(size_t k) const;

  const YoloOptions& o_;
  const YoloLossGeometry& g_;
  const float* in_;
  const float* out_;
  float* D_;
  size_t plane_ = 0, block_ = 0;
  std::vector<float> weight_, target_;
  std::vector<uint8_t> focal_true_;  // the true class entry of a focal-loss assignment
  std::vector<double> box_loss_;     // per anchor and cell
  int rewritten_ = 0;
};

// Darknet's delta_yolo_box (accumulate=1): adds the box deltas of anchor slot `a` (anchor index
// `anchor`) at `cell` towards `truth`, and the matching loss.
ImageLoss::Ious ImageLoss::delta_box(const Box& truth, int a, int anchor, size_t cell, float scale,
                                     float iou_norm) {
  const size_t b = box_index(a, cell);
  const size_t s = plane_;
  if (D_[b] != 0 || D_[b + s] != 0 || D_[b + 2 * s] != 0 || D_[b + 3 * s] != 0) ++rewritten_;
  const int col = int(cell % size_t(g_.grid_w)), row = int(cell / size_t(g_.grid_w));
  Box pred = predicted_box(a, cell, anchor);
  Ious ious;
  ious.iou = kernels::box_iou(pred, truth);
  ious.giou = kernels::box_giou(pred, truth);
  double& loss = box_loss_[size_t(a) * plane_ + cell];

  if (o_.iou_loss == YoloIouLoss::mse) {
    const float tx = truth.x * float(g_.grid_w) - float(col);
    const float ty = truth.y * float(g_.grid_h) - float(row);
    float tw = float(std::log(double(truth.w * float(g_.net_w) / anchor_w(anchor))));
    float th = float(std::log(double(truth.h * float(g_.net_h) / anchor_h(anchor))));
    if (o_.new_coords) {
      tw = float(std::sqrt(double(truth.w * float(g_.net_w) / (4 * anchor_w(anchor)))));
      th = float(std::sqrt(double(truth.h * float(g_.net_h) / (4 * anchor_h(anchor)))));
    }
    const float t[4] = {tx, ty, tw, th};
    for (int e = 0; e < 4; ++e) D_[b + size_t(e) * s] += scale * (t[e] - out_[b + size_t(e) * s]) * iou_norm;

    // The loss whose input gradient is -D (docs/yolo-loss.md, "Box, mse").
    const double k = double(scale) * double(iou_norm);
    const double sxy = o_.scale_x_y, shift = 0.5 * (sxy - 1);
    for (int e = 0; e < 2; ++e) {
      const double z = in_[b + size_t(e) * s];
      if (o_.new_coords) {
        const double d = t[e] - (sxy * z - shift);
        loss += 0.5 * (k / sxy) * d * d;
      } else {
        const double target = (t[e] + shift) / sxy;
        loss += k * sxy * (kernels::bce_with_logit(z, target) - kernels::binary_entropy(target));
      }
    }
    for (int e = 2; e < 4; ++e) {
      const double d = double(t[e]) - in_[b + size_t(e) * s];
      loss += 0.5 * k * d * d;
    }
    return ious;
  }

  const kernels::IouFamily kind = family_of(o_.iou_loss);
  loss += double(iou_norm) * (1.0 - double(kernels::box_iou_family(pred, truth, kind)));
  if (pred.w == 0) pred.w = 1.0;  // Darknet: "avoid nan in dx_box_iou"
  if (pred.h == 0) pred.h = 1.0;
  const kernels::BoxDelta up = kernels::box_iou_ascent(pred, truth, kind);
  float d[4] = {up.x, up.y, up.w, up.h};
  if (!o_.new_coords) {
    // Darknet applies only the exp() of the width/height decoding, not anchor/net size.
    d[2] = float(double(d[2]) * std::exp(double(out_[b + 2 * s])));
    d[3] = float(double(d[3]) * std::exp(double(out_[b + 3 * s])));
  }
  for (float& v : d) {
    v *= iou_norm;
    if (!std::isfinite(v)) v = 0;
    if (o_.max_delta != FLT_MAX) v = clip(v, o_.max_delta);
  }
  for (int e = 0; e < 4; ++e) D_[b + size_t(e) * s] += d[e];
  return ious;
}

// Darknet's delta_yolo_class.
void ImageLoss::delta_class(int a, size_t cell, int class_id, double* avg_cat) {
  const size_t c0 = class_index(a, cell);
  const size_t kc = c0 + size_t(class_id) * plane_;
  const bool multipliers = !o_.classes_multipliers.empty();
  const float multiplier = multipliers ? o_.classes_multipliers[size_t(class_id)] : 1.0f;
  if (D_[kc] != 0) {
    // Already trained by another truth: only this class's entry changes (without cls_normalizer).
    const float y = kernels::yolo_class_target(true, o_.label_smooth_eps);
    const float r = y - out_[kc];
    if (std::isfinite(r)) D_[kc] = r;
    if (multipliers) D_[kc] *= multiplier;
    weight_[kc] = multiplier;
    target_[kc] = y;
    focal_true_[kc] = 0;
    if (avg_cat) *avg_cat += out_[kc];
    return;
  }
  if (o_.focal_loss) {
    // Every class is weighted by alpha * the focal factor of the true class's probability.
    const float weight = kFocalAlpha * kernels::yolo_focal_factor(out_[kc]);
    for (int n = 0; n < o_.classes; ++n) {
      const size_t k = c0 + size_t(n) * plane_;
      D_[k] = ((n == class_id) ? 1.f : 0.f) - out_[k];
      D_[k] *= weight;
      weight_[k] = weight;
      target_[k] = n == class_id ? 1.f : 0.f;
      focal_true_[k] = n == class_id ? 1 : 0;
    }
    if (avg_cat) *avg_cat += out_[kc];
    return;
  }
  for (int n = 0; n < o_.classes; ++n) {
    const size_t k = c0 + size_t(n) * plane_;
    const float y = kernels::yolo_class_target(n == class_id, o_.label_smooth_eps);
    const float r = y - out_[k];
    if (std::isfinite(r)) D_[k] = r;
    float w = 1.0f;
    // Darknet applies cls_normalizer only together with counters_per_class, to the true class.
    if (multipliers && n == class_id) {
      w = multiplier * o_.cls_normalizer;
      D_[k] *= w;
    }
    weight_[k] = w;
    target_[k] = y;
    focal_true_[k] = 0;
  }
  if (avg_cat) *avg_cat += out_[kc];
}

// One truth on anchor slot `a` at `cell`: box, objectness 1, class (Darknet's truth loop body).
void ImageLoss::train_anchor(const TruthBox& t, int a, int anchor, size_t cell, ImageSums& s) {
  const float multiplier =
      o_.classes_multipliers.empty() ? 1.0f : o_.classes_multipliers[size_t(t.class_id)];
  const Ious ious = delta_box(t.box, a, anchor, cell, 2 - t.box.w * t.box.h,
                              o_.iou_normalizer * multiplier);
  s.tot_iou += ious.iou;
  s.tot_iou_loss += 1 - ious.iou;
  s.tot_giou_loss += 1 - ious.giou;
  const size_t ko = obj_index(a, cell);
  s.avg_obj += out_[ko];
  if (!o_.objectness_smooth || D_[ko] == 0) set_entry(ko, multiplier * o_.obj_normalizer, 1.0f);
  delta_class(a, cell, t.class_id, &s.avg_cat);
  ++s.count;
  ++s.class_count;
  if (ious.iou > .5f) s.recall += 1;
  if (ious.iou > .75f) s.recall75 += 1;
}

// Loss of one objectness or class entry from its weight and target: binary cross-entropy of the
// logit (the layer applied the logistic) less the target's entropy, or squared error of the
// probability (new_coords: the conv applied it). Either way its input gradient is -D.
double ImageLoss::entry_loss(size_t k) const {
  const double w = weight_[k], t = target_[k], z = in_[k];
  if (o_.new_coords) return 0.5 * w * (t - z) * (t - z);
  if (focal_true_[k]) return double(kFocalAlpha) * kernels::focal_with_logit(z);
  if (w == 0) return 0;
  return w * (kernels::bce_with_logit(z, t) - kernels::binary_entropy(t));
}

ImageSums ImageLoss::run(const std::vector<TruthBox>& truths) {
  ImageSums s;
  const int anchors = int(o_.mask.size());
  // Every prediction: objectness towards 0 unless it already overlaps a truth well.
  for (size_t cell = 0; cell < plane_; ++cell) {
    for (int a = 0; a < anchors; ++a) {
      const Box pred = predicted_box(a, cell, o_.mask[size_t(a)]);
      // Darknet's compare_yolo_class: some class above 0.25 (not necessarily the truth's).
      bool class_match = false;
      for (int n = 0; n < o_.classes && !class_match; ++n)
        class_match = out_[class_index(a, cell) + size_t(n) * plane_] > 0.25f;
      float best_match_iou = 0, best_iou = 0;
      size_t best_t = 0;
      for (size_t t = 0; t < truths.size(); ++t) {
        const float iou = kernels::box_iou(pred, truths[t].box);
        if (iou > best_match_iou && class_match) best_match_iou = iou;
        if (iou > best_iou) {
          best_iou = iou;
          best_t = t;
        }
      }
      const size_t ko = obj_index(a, cell);
      s.avg_anyobj += out_[ko];
      set_entry(ko, o_.obj_normalizer, 0.0f);
      if (best_match_iou > o_.ignore_thresh) {
        if (o_.objectness_smooth) {
          const float smooth = o_.obj_normalizer * (best_match_iou - out_[ko]);
          if (smooth > D_[ko]) set_entry(ko, o_.obj_normalizer, best_match_iou);
        } else {
          set_entry(ko, 0.0f, 0.0f);
        }
      }
      if (best_iou > o_.truth_thresh) {
        const float iou_multiplier = best_iou * best_iou;
        set_entry(ko, o_.obj_normalizer, o_.objectness_smooth ? iou_multiplier : 1.0f);
        const TruthBox& t = truths[best_t];
        delta_class(a, cell, t.class_id, nullptr);
        const float multiplier =
            o_.classes_multipliers.empty() ? 1.0f : o_.classes_multipliers[size_t(t.class_id)];
        if (o_.objectness_smooth)
          set_entry(class_index(a, cell) + size_t(t.class_id) * plane_, multiplier, iou_multiplier);
        delta_box(t.box, a, o_.mask[size_t(a)], cell, 2 - t.box.w * t.box.h,
                  o_.iou_normalizer * multiplier);
      }
    }
  }

  // Every truth: its best anchor by shape over all `num`, and with iou_thresh < 1 every other
  // anchor of this head that overlaps it enough.
  for (const TruthBox& t : truths) {
    const int col = std::min(int(t.box.x * float(g_.grid_w)), g_.grid_w - 1);
    const int row = std::min(int(t.box.y * float(g_.grid_h)), g_.grid_h - 1);
    const size_t cell = size_t(row) * size_t(g_.grid_w) + size_t(col);
    const Box shape{0, 0, t.box.w, t.box.h};
    float best_iou = 0;
    int best_n = 0;
    for (int n = 0; n < o_.num; ++n) {
      const Box anchor{0, 0, anchor_w(n) / float(g_.net_w), anchor_h(n) / float(g_.net_h)};
      const float iou = kernels::box_iou(anchor, shape);
      if (iou > best_iou) {
        best_iou = iou;
        best_n = n;
      }
    }
    const int slot = mask_slot(best_n);
    if (slot >= 0) train_anchor(t, slot, best_n, cell, s);
    if (o_.iou_thresh < 1.0f) {
      const kernels::IouFamily kind = family_of(o_.iou_thresh_kind);
      for (int n = 0; n < o_.num; ++n) {
        const int other = mask_slot(n);
        if (other < 0 || n == best_n) continue;
        const Box anchor{0, 0, anchor_w(n) / float(g_.net_w), anchor_h(n) / float(g_.net_h)};
        if (kernels::box_iou_family(anchor, shape, kind) > o_.iou_thresh)
          train_anchor(t, other, n, cell, s);
      }
    }
  }

  // With several anchors per truth Darknet divides an anchor's box deltas by the number of
  // classes it is pulled towards.
  if (o_.iou_thresh < 1.0f) {
    for (size_t cell = 0; cell < plane_; ++cell)
      for (int a = 0; a < anchors; ++a) {
        if (D_[obj_index(a, cell)] == 0) continue;
        int pulled = 0;
        for (int n = 0; n < o_.classes; ++n)
          if (D_[class_index(a, cell) + size_t(n) * plane_] > 0) ++pulled;
        if (pulled == 0) continue;
        const size_t b = box_index(a, cell);
        for (int e = 0; e < 4; ++e) D_[b + size_t(e) * plane_] /= float(pulled);
        box_loss_[size_t(a) * plane_ + cell] /= pulled;
      }
  }

  for (int a = 0; a < anchors; ++a)
    for (size_t cell = 0; cell < plane_; ++cell) {
      s.box_loss += box_loss_[size_t(a) * plane_ + cell];
      s.obj_loss += entry_loss(obj_index(a, cell));
      for (int n = 0; n < o_.classes; ++n)
        s.class_loss += entry_loss(class_index(a, cell) + size_t(n) * plane_);
    }
  s.rewritten = rewritten_;
  return s;
}

}  // namespace

YoloStats reference_yolo_loss(const YoloOptions& o, const YoloLossGeometry& g,
                              const float* input, const float* output, const float* truth, size_t truth_stride, float* delta) {
  const size_t plane = size_t(g.grid_w) * size_t(g.grid_h);
  const size_t per_image = o.mask.size() * size_t(o.classes + 5) * plane;
  // Truths are read (and checked) before the parallel part, which must not throw.
  std::vector<std::vector<TruthBox>> truths(size_t(g.batch));
  for (int b = 0; b < g.batch; ++b)
    truths[size_t(b)] = read_truths(truth + size_t(b) * truth_stride, o, b, g.layer_index);

  std::vector<ImageSums> sums(size_t(g.batch));
#pragma omp parallel for schedule(static) if (g.batch > 1)
  for (int b = 0; b < g.batch; ++b) {
    const size_t off = size_t(b) * per_image;
    ImageLoss image(o, g, input + off, output + off, delta + off);
    sums[size_t(b)] = image.run(truths[size_t(b)]);
  }

  // Darknet's reported cost, from its deltas before delta_normalizer, and then mishnet's sign
  // (the gradient), in one pass. Per (image, anchor) block in parallel, summed in block order
  // afterwards: the same result for any thread count.
  const size_t block = size_t(o.classes + 5) * plane;
  const long blocks = long(g.batch) * long(o.mask.size());
  const float to_gradient = -o.delta_normalizer;
  std::vector<double> all_part(static_cast<size_t>(blocks)), no_box_part(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(static) if (g.batch > 1)
  for (long k = 0; k < blocks; ++k) {
    float* d = delta + size_t(k) * block;
    double box = 0, rest = 0;
    for (size_t i = 0; i < 4 * plane; ++i) {
      box += double(d[i]) * double(d[i]);
      d[i] *= to_gradient;
    }
    for (size_t i = 4 * plane; i < block; ++i) {
      rest += double(d[i]) * double(d[i]);
      d[i] *= to_gradient;
    }
    all_part[size_t(k)] = box + rest;
    no_box_part[size_t(k)] = rest;
  }
  double all_squared = 0, no_box_squared = 0;
  for (long k = 0; k < blocks; ++k) {
    all_squared += all_part[size_t(k)];
    no_box_squared += no_box_part[size_t(k)];
  }

  ImageSums t;
  for (const ImageSums& s : sums) {
    t.tot_iou += s.tot_iou;
    t.tot_iou_loss += s.tot_iou_loss;
    t.tot_giou_loss += s.tot_giou_loss;
    t.avg_cat += s.avg_cat;
    t.avg_obj += s.avg_obj;
    t.avg_anyobj += s.avg_anyobj;
    t.recall += s.recall;
    t.recall75 += s.recall75;
    t.count += s.count;
    t.class_count += s.class_count;
    t.rewritten += s.rewritten;
    t.box_loss += s.box_loss;
    t.obj_loss += s.obj_loss;
    t.class_loss += s.class_loss;
  }
  YoloStats st;
  st.images = g.batch;
  st.count = t.count;
  const double count = t.count > 0 ? t.count : 1, class_count = t.class_count > 0 ? t.class_count : 1;
  st.avg_iou = float(t.tot_iou / count);
  st.avg_class = float(t.avg_cat / class_count);
  st.avg_obj = float(t.avg_obj / count);
  st.avg_no_obj = float(t.avg_anyobj / (double(plane) * double(o.mask.size()) * g.batch));
  st.recall50 = float(t.recall / count);
  st.recall75 = float(t.recall75 / count);
  st.rewritten_boxes = t.rewritten;
  // delta_normalizer scales the gradient, so it scales the loss too.
  st.box_loss = o.delta_normalizer * t.box_loss;
  st.obj_loss = o.delta_normalizer * t.obj_loss;
  st.class_loss = o.delta_normalizer * t.class_loss;
  st.loss = st.box_loss + st.obj_loss + st.class_loss;
  if (!o.show_details || o.iou_loss == YoloIouLoss::mse) {
    st.darknet_loss = all_squared;
  } else {
    const double iou_part = o.iou_loss == YoloIouLoss::giou ? t.tot_giou_loss : t.tot_iou_loss;
    st.darknet_loss = (t.count > 0 ? o.iou_normalizer * iou_part / t.count : 0.0) +
                      o.obj_normalizer * no_box_squared;
  }
  return st;
}

}  // namespace mishnet::test
