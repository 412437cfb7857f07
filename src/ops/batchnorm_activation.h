// Training batch norm fused with the activation that follows it, for the CPU: the forward
// writes x_hat and act(scale·x_hat + bias) in one pass; the backward applies f' and batch norm's
// backward per channel while the channel's data is still in cache. Same results as the
// reference pair (batchnorm_training.h + activation ops) to float rounding; the reference stays
// the truth the tests compare with.
#pragma once
#include "mishnet/activation.h"
#include "mishnet/shape.h"
#include "ops/batchnorm_training.h"

namespace mishnet::ops {

// The activations the fused CPU path handles; others use the reference ops.
bool batchnorm_activation_fusable(Activation a);

// batchnorm_train_forward_reference followed by the activation, in place on y (x and y may
// alias). Throws for an activation that is not fusable.
void batchnorm_activation_train_forward(Activation a, const Tensor& x, const float* scales,
                                        const float* biases, float* rolling_mean,
                                        float* rolling_variance, float momentum,
                                        const BatchNormBuffers& buf, float* y);

// y = act(scales·x_hat + biases) per channel: the output batchnorm_activation_train_forward
// wrote, bit for bit, rebuilt from x_hat (training keeps x_hat, so the output need not be kept).
void batchnorm_activation_apply(Activation a, const Shape& shape, const float* x_hat,
                                const float* scales, const float* biases, float* y);

// activation_backward_from_batchnorm_reference then batchnorm_backward_reference: delta holds
// dL/dy (y the activation's output) on entry and dL/dx (x the batch norm input) on return;
// dL/dscales and dL/dbiases are added. Reads x_hat, never y.
void batchnorm_activation_backward(Activation a, const Shape& shape, float* delta,
                                   const float* scales, const float* biases,
                                   const BatchNormBuffers& buf, float* dscales, float* dbiases);

}  // namespace mishnet::ops
