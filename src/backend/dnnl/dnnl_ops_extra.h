// oneDNN implementations of the inner product and inference pooling ops (the convolutions are
// in dnnl_ops.h). Each factory returns null when oneDNN cannot or should not run the case, and
// the op's *_select.cpp then falls back to the reference.
#pragma once
#include <memory>

#include "ops/inner_product.h"
#include "ops/pool2d.h"

namespace mishnet::dnnl_backend {

std::unique_ptr<ops::InnerProductOp> make_inner_product(const ops::InnerProductDesc& d);

// NCHW in and out, Darknet's padding (padding/2 before; the right/bottom padding is what the
// output extent needs). Cells outside the input are neither max candidates nor averaged.
std::unique_ptr<ops::Pool2dInferenceOp> make_pool2d_inference(const ops::Pool2dDesc& d,
                                                              ops::PoolKind kind);

}  // namespace mishnet::dnnl_backend
