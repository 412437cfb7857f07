// oneDNN's nChw16c layout, spelled out: element (b, c, y, x) of an N x C x H x W tensor with C a
// multiple of 16 lives at ((b * C/16 + c/16) * H + y) * W + x) * 16 + c%16. The network keeps
// some inference tensors so (src/core/layout_plan.h); these plain conversions are what tests
// compare against.
#pragma once

#include "mishnet/shape.h"

namespace mishnet::ops {

// dst (nChw16c) from src (NCHW) and back; shape.c must be a multiple of 16 (throws otherwise).
void blocked16_from_nchw(const Shape& shape, const float* src, float* dst);
void nchw_from_blocked16(const Shape& shape, const float* src, float* dst);

}  // namespace mishnet::ops
