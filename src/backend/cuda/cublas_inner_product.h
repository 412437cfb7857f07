// The connected layer on the GPU: cuBLAS sgemm in float32 (no TF32) with the calls of
// gemm_geometry.h. Device pointers; the same layouts and ADD rules as ops/inner_product.h.
#pragma once
#include "backend/cuda/stream_handle.h"
#include "ops/inner_product.h"

namespace mishnet::cuda {

// dst = src * W^T + bias (bias may be null).
void inner_product_forward(const ops::InnerProductDesc& d, const float* src, const float* weights,
                           const float* bias, float* dst, StreamHandle stream = nullptr);
// dsrc += ddst * W.
void inner_product_backward_data(const ops::InnerProductDesc& d, const float* ddst,
                                 const float* weights, float* dsrc, StreamHandle stream = nullptr);
// dW += ddst^T * src.
void inner_product_backward_weights(const ops::InnerProductDesc& d, const float* src,
                                    const float* ddst, float* dweights,
                                    StreamHandle stream = nullptr);

}  // namespace mishnet::cuda
