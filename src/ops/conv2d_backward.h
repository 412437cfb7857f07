// Backward of 2-D convolution (training): gradients with respect to the input and the weights.
// Same description and layouts as ops/conv2d.h. Results are ADDED to the outputs, so that
// several consumers of a tensor and several mini-batches accumulate.
#pragma once
#include <memory>

#include "ops/conv2d.h"

namespace mishnet::ops {

class Conv2dBackwardOp {
 public:
  virtual ~Conv2dBackwardOp() = default;
  // dsrc += dL/dsrc from dL/ddst and the weights used in forward.
  virtual void backward_data(const float* ddst, const float* weights, float* dsrc) = 0;
  // dweights += dL/dweights from the forward input and dL/ddst.
  virtual void backward_weights(const float* src, const float* ddst, float* dweights) = 0;
  virtual const char* impl_name() const = 0;
};

void conv2d_backward_data_reference(const Conv2dDesc& d, const float* ddst, const float* weights,
                                    float* dsrc);
void conv2d_backward_weights_reference(const Conv2dDesc& d, const float* src, const float* ddst,
                                       float* dweights);

std::unique_ptr<Conv2dBackwardOp> make_conv2d_backward(const Conv2dDesc& d, BackendKind backend);
std::unique_ptr<Conv2dBackwardOp> make_conv2d_backward_reference(const Conv2dDesc& d);

}  // namespace mishnet::ops
