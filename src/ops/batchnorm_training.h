// Batch normalisation over (batch, height, width) per channel: training forward with batch
// statistics, inference with rolling statistics, and backward. NCHW.
#pragma once
#include <vector>

#include "mishnet/activation.h"
#include "mishnet/shape.h"

namespace mishnet::ops {

struct BatchNormBuffers {
  float* mean;      // [C] batch mean (out)
  float* variance;  // [C] biased batch variance (out), used to normalise (as cuDNN)
  float* x_hat;     // [N*C*H*W] normalised input (out), kept for backward
};

// y = scales * x_hat + biases with x_hat from batch statistics. Rolling statistics move by
// `momentum` towards the batch ones (Darknet: 0.01), rolling variance with the unbiased
// batch variance. x and y may alias.
void batchnorm_train_forward_reference(const Tensor& x, const float* scales, const float* biases,
                                       float* rolling_mean, float* rolling_variance,
                                       float momentum, const BatchNormBuffers& buf, float* y);

// From dL/dy: adds dL/dscales and dL/dbiases, and writes dL/dx into dx (may alias dy).
void batchnorm_backward_reference(const Shape& shape, const float* dy, const float* scales,
                                  const BatchNormBuffers& buf, float* dscales, float* dbiases,
                                  float* dx);

// y = scales * (x - rolling_mean) / sqrt(rolling_variance + eps) + biases (x and y may alias).
void batchnorm_inference_reference(const Tensor& x, const float* scales, const float* biases,
                                   const float* rolling_mean, const float* rolling_variance,
                                   float* y);

// delta *= f'(pre) in place, where pre = scales * x_hat + biases is recomputed per channel
// rather than stored (memory-efficient activations, ACTIVATIONS.md 1.7) and y is the output.
void activation_backward_from_batchnorm_reference(Activation a, const Shape& shape, float* delta,
                                                  const float* x_hat, const float* scales,
                                                  const float* biases, const float* y);

// Inference folding: weights [outputs][per_output] and bias become those of one linear op equal
// to linear + batch norm on rolling statistics. scales/mean/variance may be null (no batch
// norm: a plain copy).
void fold_batchnorm(int outputs, size_t per_output, const float* weights, const float* bias,
                    const float* scales, const float* rolling_mean,
                    const float* rolling_variance, std::vector<float>& folded_weights,
                    std::vector<float>& folded_bias);

// Adds sum over (batch, h, w) of dy per channel to dbias (layers without batch norm).
void bias_backward_reference(const Shape& shape, const float* dy, float* dbias);
// y += bias per channel.
void add_bias_reference(const Tensor& y, const float* bias);

}  // namespace mishnet::ops
