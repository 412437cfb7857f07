// Box arithmetic for detection heads, NMS and the IoU-family losses of [yolo], for host and device.
// Boxes are centre x, y and width, height (mishnet::Box). The formulas follow Darknet's box.c
// and yolo_layer.c term by term, including where they compute in double, so decoded boxes and
// suppression decisions match Darknet's.
#pragma once
#include <math.h>

#include "kernels/host_device.h"
#include "mishnet/detection.h"

namespace mishnet::kernels {

// Length of the overlap of two 1-D segments given by centre and size (negative when apart).
MISHNET_HD float box_overlap(float x1, float w1, float x2, float w2) {
  float l1 = x1 - w1 / 2;
  float l2 = x2 - w2 / 2;
  float left = l1 > l2 ? l1 : l2;
  float r1 = x1 + w1 / 2;
  float r2 = x2 + w2 / 2;
  float right = r1 < r2 ? r1 : r2;
  return right - left;
}

MISHNET_HD float box_intersection(const Box& a, const Box& b) {
  float w = box_overlap(a.x, a.w, b.x, b.w);
  float h = box_overlap(a.y, a.h, b.y, b.h);
  if (w < 0 || h < 0) return 0;
  return w * h;
}

MISHNET_HD float box_union(const Box& a, const Box& b) {
  return a.w * a.h + b.w * b.h - box_intersection(a, b);
}

MISHNET_HD float box_iou(const Box& a, const Box& b) {
  float i = box_intersection(a, b);
  float u = box_union(a, b);
  if (i == 0 || u == 0) return 0;
  return i / u;
}

// Width and height of the smallest box enclosing both.
MISHNET_HD void box_enclosing(const Box& a, const Box& b, float& w, float& h) {
  float top = fminf(a.y - a.h / 2, b.y - b.h / 2);
  float bot = fmaxf(a.y + a.h / 2, b.y + b.h / 2);
  float left = fminf(a.x - a.w / 2, b.x - b.w / 2);
  float right = fmaxf(a.x + a.w / 2, b.x + b.w / 2);
  w = right - left;
  h = bot - top;
}

// Squared distance of the centres.
MISHNET_HD float box_centre_distance2(const Box& a, const Box& b) {
  return (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y);
}

// GIoU = IoU - (C - U) / C, C the enclosing area.
MISHNET_HD float box_giou(const Box& a, const Box& b) {
  float w, h;
  box_enclosing(a, b, w, h);
  float c = w * h;
  float iou = kernels::box_iou(a, b);
  if (c == 0) return iou;
  return iou - (c - box_union(a, b)) / c;
}

// DIoU = IoU - d^2 / c^2 (the paper's; the loss gradient of Darknet uses this one).
MISHNET_HD float box_diou(const Box& a, const Box& b) {
  float w, h;
  box_enclosing(a, b, w, h);
  float c = w * w + h * h;
  float iou = kernels::box_iou(a, b);
  if (c == 0) return iou;
  return iou - box_centre_distance2(a, b) / c;
}

// IoU - (d^2 / c^2)^beta: Darknet's box_diounms, the DIoU-NMS criterion. Darknet's own box_diou
// (used by nms_kind=greedynms) is this with beta = 0.6.
MISHNET_HD float box_diou_nms(const Box& a, const Box& b, float beta) {
  float w, h;
  box_enclosing(a, b, w, h);
  float c = w * w + h * h;
  float iou = kernels::box_iou(a, b);
  if (c == 0) return iou;
  float d = box_centre_distance2(a, b);
  return iou - float(pow(double(d / c), double(beta)));
}

// CIoU = DIoU - alpha * v, v the aspect-ratio term; `b` is the ground truth.
MISHNET_HD float box_ciou(const Box& a, const Box& b) {
  float w, h;
  box_enclosing(a, b, w, h);
  float c = w * w + h * h;
  float iou = kernels::box_iou(a, b);
  if (c == 0) return iou;
  float d = box_centre_distance2(a, b) / c;
  const double pi = 3.14159265358979323846;
  double dt = atan(double(b.w / b.h)) - atan(double(a.w / a.h));
  float v = float(4 / (pi * pi) * dt * dt);
  float alpha = float(v / (1 - iou + v + 0.000001));
  return iou - (d + alpha * v);
}

// Which overlap an IoU-family loss or an anchor assignment uses.
enum class IouFamily { iou, giou, diou, ciou };

// The score of that family (Darknet's box_iou_kind with the paper's DIoU; `b` the truth).
MISHNET_HD float box_iou_family(const Box& a, const Box& b, IouFamily kind) {
  switch (kind) {
    case IouFamily::giou: return box_giou(a, b);
    case IouFamily::diou: return box_diou(a, b);
    case IouFamily::ciou: return box_ciou(a, b);
    default: return kernels::box_iou(a, b);
  }
}

// Change of a box's x, y, w, h.
struct BoxDelta {
  float x = 0, y = 0, w = 0, h = 0;
};

// Darknet's dx_box_iou (box.c, from g-darknet and DIoU-darknet): the direction in which the
// prediction's x, y, w, h raise its IoU-family score with `truth` (an ascent direction, Darknet's
// sign). It is what [yolo] trains with for iou_loss=iou/giou/diou/ciou, and it is NOT exactly the
// gradient of the score (tests/kernels/test_box_iou_ascent.cpp pins each point):
//  - x and y of the IoU and GIoU terms: the exact partial derivatives where they exist;
//  - w and h of the IoU and GIoU terms: twice the derivative (Darknet does "not divide by 2");
//  - DIoU penalty -d^2/c^2: w, h exact, but in x, y the term from the enclosing diagonal c has
//    the wrong sign: (-S'c^2 - S(c^2)')/c^4 instead of (-S'c^2 + S(c^2)')/c^4;
//  - CIoU: DIoU's plus alpha * d(-v) with alpha held constant (as the CIoU paper does) and the
//    1/(w^2+h^2) factor of dv/dw, dv/dh dropped;
//  - boxes that do not overlap: the "intersection" is the product of the two overlaps even when
//    they are negative, and GIoU/DIoU/CIoU keep only their penalty term;
//  - at ties (an edge of one box on an edge of the other) each edge takes one side's derivative.
// Non-finite components (degenerate boxes) are returned as they come; the caller zeroes them.
MISHNET_HD BoxDelta box_iou_ascent(const Box& pred, const Box& truth, IouFamily kind) {
  // Prediction edges, ordered (a negative size swaps them).
  const float top0 = pred.y - pred.h / 2, bot0 = pred.y + pred.h / 2;
  const float left0 = pred.x - pred.w / 2, right0 = pred.x + pred.w / 2;
  const float pt = fminf(top0, bot0), pb = fmaxf(top0, bot0);
  const float pl = fminf(left0, right0), pr = fmaxf(left0, right0);
  const float tt = truth.y - truth.h / 2, tb = truth.y + truth.h / 2;
  const float tl = truth.x - truth.w / 2, tr = truth.x + truth.w / 2;

  const float area_p = (pb - pt) * (pr - pl);
  const float area_t = (tb - tt) * (tr - tl);
  const float ih = fminf(pb, tb) - fmaxf(pt, tt);
  const float iw = fminf(pr, tr) - fmaxf(pl, tl);
  const float inter = iw * ih;
  const float uni = area_p + area_t - inter;
  const float dist2 = (pred.x - truth.x) * (pred.x - truth.x) + (pred.y - truth.y) * (pred.y - truth.y);
  const float enc_w = fmaxf(pr, tr) - fminf(pl, tl);
  const float enc_h = fmaxf(pb, tb) - fminf(pt, tt);
  const float enc_area = enc_w * enc_h;

  // Edge derivatives (top, bottom, left, right) of the prediction area, the intersection, the
  // union and the enclosing area.
  const float d_area[4] = {-(pr - pl), pr - pl, -(pb - pt), pb - pt};
  const float d_inter[4] = {pt > tt ? -iw : 0.f, pb < tb ? iw : 0.f, pl > tl ? -ih : 0.f,
                            pr < tr ? ih : 0.f};
  const float d_enc[4] = {pt < tt ? -enc_w : 0.f, pb > tb ? enc_w : 0.f, pl < tl ? -enc_h : 0.f,
                          pr > tr ? enc_h : 0.f};
  float d_union[4], g[4] = {0, 0, 0, 0};
  for (int k = 0; k < 4; ++k) {
    d_union[k] = d_area[k] - d_inter[k];
    if (uni > 0) g[k] = ((uni * d_inter[k]) - (inter * d_union[k])) / (uni * uni);
  }
  // With swapped edges the derivative of the other edge applies (Darknet assigns in sequence).
  if (!(top0 < bot0)) g[0] = g[1];
  if (!(top0 < bot0)) g[1] = g[0];
  if (!(left0 < right0)) g[2] = g[3];
  if (!(left0 < right0)) g[3] = g[2];

  const bool apart = iw <= 0 || ih <= 0;
  if (kind == IouFamily::giou) {
    for (int k = 0; k < 4; ++k) {
      const float c_term = ((enc_area * d_union[k]) - (uni * d_enc[k])) / (enc_area * enc_area);
      if (apart)
        g[k] = c_term;
      else if (enc_area > 0)
        g[k] += c_term;
    }
  }

  BoxDelta d;
  d.x = g[2] + g[3];
  d.y = g[0] + g[1];
  d.w = g[3] - g[2];  // Darknet: "for dw and dh, we do not divide by 2"
  d.h = g[1] - g[0];

  if (kind == IouFamily::diou || kind == IouFamily::ciou) {
    // Diagonal of the enclosing box from the unordered edges, as Darknet computes it.
    const float c_top = fminf(pred.y - pred.h / 2, truth.y - truth.h / 2);
    const float c_bot = fmaxf(pred.y + pred.h / 2, truth.y + truth.h / 2);
    const float c_left = fminf(pred.x - pred.w / 2, truth.x - truth.w / 2);
    const float c_right = fmaxf(pred.x + pred.w / 2, truth.x + truth.w / 2);
    const float cw = c_right - c_left, ch = c_bot - c_top;
    const float c2 = cw * cw + ch * ch;
    // d(enclosing width)/dx, /dw and d(enclosing height)/dy, /dh.
    const float dcw_dx = (pr > tr ? 1.f : 0.f) - (pl < tl ? 1.f : 0.f);
    const float dcw_dw = (pr > tr ? 0.5f : 0.f) - (pl < tl ? -0.5f : 0.f);
    const float dch_dy = (pb > tb ? 1.f : 0.f) - (pt < tt ? 1.f : 0.f);
    const float dch_dh = (pb > tb ? 0.5f : 0.f) - (pt < tt ? -0.5f : 0.f);
    float aspect_w = 0, aspect_h = 0;
    if (kind == IouFamily::ciou) {
      const double pi = 3.14159265358979323846;
      const double dt = atan(double(truth.w / truth.h)) - atan(double(pred.w / pred.h));
      const float v = float(4 / (pi * pi) * dt * dt);
      const float alpha = float(double(v) / (double(1 - inter / uni + v) + 0.000001));
      aspect_w = alpha * float(8 / (pi * pi) * dt * double(pred.h));
      aspect_h = alpha * float(-8 / (pi * pi) * dt * double(pred.w));
    }
    // Ascent of -dist2/c2 (the DIoU penalty), and of CIoU's -alpha*v.
    const float px = (2 * (truth.x - pred.x) * c2 - (2 * cw * dcw_dx) * dist2) / (c2 * c2);
    const float py = (2 * (truth.y - pred.y) * c2 - (2 * ch * dch_dy) * dist2) / (c2 * c2);
    const float pw = (2 * cw * dcw_dw) * dist2 / (c2 * c2) + aspect_w;
    const float ph = (2 * ch * dch_dh) * dist2 / (c2 * c2) + aspect_h;
    if (apart) {
      d.x = px, d.y = py, d.w = pw, d.h = ph;
    } else if (c2 > 0) {
      d.x += px, d.y += py, d.w += pw, d.h += ph;
    }
  }
  return d;
}

// [yolo] box of anchor (anchor_w, anchor_h) in pixels at grid cell (col, row), from the layer's
// output (x, y already logistic and scale_x_y-adjusted by the forward pass; w, h raw).
// Relative to the network input.
MISHNET_HD Box yolo_box(float x, float y, float w, float h, int col, int row, int grid_w,
                        int grid_h, float anchor_w, float anchor_h, int net_w, int net_h,
                        bool new_coords) {
  Box b;
  b.x = (col + x) / grid_w;
  b.y = (row + y) / grid_h;
  if (new_coords) {
    b.w = w * w * 4 * anchor_w / net_w;
    b.h = h * h * 4 * anchor_h / net_h;
  } else {
    b.w = float(exp(double(w)) * anchor_w / net_w);
    b.h = float(exp(double(h)) * anchor_h / net_h);
  }
  return b;
}

// [region] (YOLOv2) box from raw tx, ty, tw, th; anchors are in grid cells.
MISHNET_HD Box region_box(float tx, float ty, float tw, float th, int col, int row, int grid_w,
                          int grid_h, float anchor_w, float anchor_h) {
  Box b;
  b.x = (col + 1.f / (1.f + expf(-tx))) / grid_w;
  b.y = (row + 1.f / (1.f + expf(-ty))) / grid_h;
  b.w = float(exp(double(tw)) * anchor_w / grid_w);
  b.h = float(exp(double(th)) * anchor_h / grid_h);
  return b;
}

// Maps a box relative to the network input back to the original image (Darknet's
// correct_yolo_boxes with relative=1). With letterbox the image was scaled to fit inside the
// network input keeping its aspect ratio and centred; otherwise it was stretched (identity).
MISHNET_HD Box correct_box(Box b, int image_w, int image_h, int net_w, int net_h, bool letterbox) {
  int new_w = net_w, new_h = net_h;
  if (letterbox) {
    if (float(net_w) / image_w < float(net_h) / image_h) {
      new_w = net_w;
      new_h = (image_h * net_w) / image_w;
    } else {
      new_h = net_h;
      new_w = (image_w * net_h) / image_h;
    }
  }
  float deltaw = float(net_w - new_w);
  float deltah = float(net_h - new_h);
  float ratiow = float(new_w) / net_w;
  float ratioh = float(new_h) / net_h;
  b.x = float((b.x - deltaw / 2. / net_w) / ratiow);
  b.y = float((b.y - deltah / 2. / net_h) / ratioh);
  b.w *= 1 / ratiow;
  b.h *= 1 / ratioh;
  return b;
}

}  // namespace mishnet::kernels
