// The window copy of Darknet's [crop] layer (crop_layer.c, forward_crop_layer): an out_h x out_w
// window at (top, left) of every channel, optionally mirrored left-right, with y = x*scale + shift
// (Darknet maps [0,1] pixels to [-1,1] with scale 2, shift -1 unless noadjust). NCHW.
#pragma once
#include "mishnet/shape.h"

namespace mishnet::ops {

struct CropWindow {
  int top = 0, left = 0;
  int out_h = 0, out_w = 0;
  bool flip = false;  // output column j reads input column left + out_w - 1 - j
  float scale = 1.0f, shift = 0.0f;
};

void crop_reference(const Tensor& x, const CropWindow& win, float* y);

// ADDS dL/dx = scale * dL/dy into dx at the window's positions (x's shape).
void crop_backward_reference(const Shape& x_shape, const CropWindow& win, const float* dy,
                             float* dx);

}  // namespace mishnet::ops
