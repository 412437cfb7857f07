// 1x1 stride-1 convolution on NCHW through oneDNN's sgemm (no layout change at all).
#pragma once
#include <memory>

#include "ops/conv2d.h"

namespace mishnet::dnnl_backend {

// Kernel 1x1, stride 1, no padding (so the output has the input's size).
bool sgemm_conv1x1_applies(const ops::Conv2dDesc& d);
// nullptr when !sgemm_conv1x1_applies(d).
std::unique_ptr<ops::Conv2dOp> make_sgemm_conv1x1(const ops::Conv2dDesc& d);

}  // namespace mishnet::dnnl_backend
