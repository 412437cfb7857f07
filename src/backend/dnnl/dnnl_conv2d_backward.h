// oneDNN implementation of the convolution backward passes (training): gradients with respect
// to the input and to the weights, with the ADD semantics of ops/conv2d_backward.h.
#pragma once
#include <memory>

#include "ops/conv2d_backward.h"

namespace mishnet::dnnl_backend {

// Where the backward primitives keep src/dst-shaped data between the op's NCHW edges.
enum class BackwardLayout {
  automatic,  // the fastest for the shape and direction, as measured (see the .cpp)
  blocked,    // oneDNN's choice (format_tag::any: nChw16c for these kernels)
  nhwc,       // channels last
  plain,      // NCHW, no reorders of activations (oneDNN then runs im2col + gemm)
  winograd,   // blocked, Winograd algorithm (3x3 stride 1 only)
  pointwise_gemm,  // 1x1/1 unpadded ungrouped: sgemm per image on NCHW; others as blocked
};

// nullptr when oneDNN has no backward-data or backward-weights implementation for `d`.
std::unique_ptr<ops::Conv2dBackwardOp> make_conv2d_backward(
    const ops::Conv2dDesc& d, BackwardLayout layout = BackwardLayout::automatic);

}  // namespace mishnet::dnnl_backend
