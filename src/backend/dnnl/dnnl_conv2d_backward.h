// oneDNN implementation of the convolution backward passes (training): gradients with respect
// to the input and to the weights, with the ADD semantics of ops/conv2d_backward.h.
#pragma once
#include <memory>

#include "ops/conv2d_backward.h"

namespace mishnet::dnnl_backend {

// Which implementation a backward op uses; all but `automatic` are for tests and measurements.
// The primitive ones differ in where they keep src/dst-shaped data between the op's NCHW edges.
enum class ConvBackwardImpl {
  automatic,       // the fastest for the shape and direction, as measured (see the .cpp)
  blocked,         // direct primitives, oneDNN's layouts (format_tag::any: nChw16c here)
  nhwc,            // direct primitives, channels last
  plain,           // direct primitives on NCHW, no reorders (oneDNN: im2col + gemm)
  winograd,        // Winograd primitives, blocked (3x3 stride 1 only)
  pointwise_gemm,  // 1x1/1 unpadded ungrouped: sgemm per image on NCHW; others as blocked
};

// nullptr when oneDNN has no backward-data or backward-weights implementation for `d`.
std::unique_ptr<ops::Conv2dBackwardOp> make_conv2d_backward(
    const ops::Conv2dDesc& d, ConvBackwardImpl impl = ConvBackwardImpl::automatic);

}  // namespace mishnet::dnnl_backend
