// Box arithmetic for detection heads, NMS and (later) the IoU-family losses, for host and device.
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
