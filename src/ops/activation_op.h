// Applies an activation to a tensor in place (element-wise, or across channels for the
// normalize_channels family).
#pragma once
#include "mishnet/activation.h"
#include "mishnet/shape.h"

namespace mishnet::ops {

void activate_reference(Activation a, const Tensor& t);
// The backend's fastest version (oneDNN eltwise on the CPU), reference otherwise.
void activate(Activation a, const Tensor& t);

// Backward through the activation, in place: delta holds dL/dy on entry and dL/dx on return.
// `input` (x) and `output` (y) have delta's shape; pass what activation_needs(a) names, the
// other may be null.
void activation_backward_reference(Activation a, const Tensor& delta, const float* input,
                                   const float* output);

}  // namespace mishnet::ops
