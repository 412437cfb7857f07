// oneDNN implementations of ops (the CPU backend). Each factory returns nullptr when oneDNN
// cannot run that description, and the caller falls back to the reference.
#pragma once
#include <memory>

#include "ops/conv2d.h"

namespace mishnet::dnnl_backend {

// Where the convolution keeps its data between the NCHW edges of the op.
enum class ConvLayout {
  automatic,  // the fastest for the shape, as measured (docs/cpu-backend.md)
  blocked,    // oneDNN's preferred layouts (nChw16c, ...), with reorders at the edges
  nhwc_src,   // input reordered to NHWC (cheap for few channels), output blocked
  plain,      // NCHW in and out, no reorders
  sgemm_1x1,  // 1x1 stride 1 only: oneDNN's sgemm on NCHW (dnnl_conv1x1_sgemm.h)
  winograd,   // 3x3 stride 1 only: blocked, Winograd F(4x4, 3x3); no fused activation
};

std::unique_ptr<ops::Conv2dOp> make_conv2d(const ops::Conv2dDesc& d,
                                           ConvLayout layout = ConvLayout::automatic);

}  // namespace mishnet::dnnl_backend
