// y = x * s with s broadcast over x: the product behind [sam] (element-wise) and
// [scale_channels] (one factor per channel, or per spatial position with scale_wh=1). NCHW.
#pragma once
#include "mishnet/shape.h"

namespace mishnet::ops {

enum class Broadcast {
  elementwise,   // s has x's shape
  per_channel,   // s is [n, c]: one factor per channel of each image
  per_position,  // s is [n, h*w]: one factor per pixel of each image, shared by the channels
};

void broadcast_multiply_reference(const Tensor& x, const float* s, Broadcast mode, float* y);

// From dL/dy: ADDS dL/dx = dy * s into dx and dL/ds = sum over the broadcast of dy * x into ds.
// Either output may be null (nothing upstream learns).
void broadcast_multiply_backward_reference(const Shape& shape, Broadcast mode, const float* dy,
                                           const float* x, const float* s, float* dx, float* ds);

}  // namespace mishnet::ops
