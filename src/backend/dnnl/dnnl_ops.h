// oneDNN implementations of ops (the CPU backend). Each factory returns nullptr when oneDNN
// cannot run that description, and the caller falls back to the reference.
#pragma once
#include <memory>

#include "ops/conv2d.h"

namespace mishnet::dnnl_backend {

// Where the convolution keeps its data between the edges of the op (NCHW, or nChw16c where
// Conv2dDesc says blocked). Every layout but
// sgemm_1x1 is a oneDNN convolution primitive with reorder primitives at the edges as needed.
enum class ConvLayout {
  automatic,  // the fastest for the shape, as measured (dnnl_conv2d.cpp, docs/cpu-backend.md)
  blocked,    // oneDNN's own choice (format_tag::any: NHWC for brgconv on AVX-512)
  nhwc_src,   // input reordered to NHWC, output as oneDNN likes
  nchw_src,   // input read as NCHW (oneDNN's kernels for few input channels), output blocked
  blocked16,  // nChw16c in and out: oneDNN's direct AVX-512 kernels
  plain,      // NCHW in and out, no reorders (oneDNN runs im2col + gemm)
  sgemm_1x1,  // 1x1 stride 1 only: oneDNN's sgemm on NCHW (dnnl_conv1x1_sgemm.h)
  winograd,   // 3x3 stride 1 only: Winograd on nChw16c; no fused activation but relu
};

std::unique_ptr<ops::Conv2dOp> make_conv2d(const ops::Conv2dDesc& d,
                                           ConvLayout layout = ConvLayout::automatic);

}  // namespace mishnet::dnnl_backend
