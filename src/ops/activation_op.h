// Applies an activation to a tensor in place (element-wise, or across channels for the
// normalize_channels family).
#pragma once
#include "mishnet/activation.h"
#include "mishnet/shape.h"

namespace mishnet::ops {

void activate_reference(Activation a, const Tensor& t);
// The backend's fastest version (oneDNN eltwise on the CPU), reference otherwise.
void activate(Activation a, const Tensor& t);

}  // namespace mishnet::ops
