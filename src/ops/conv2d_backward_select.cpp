#include "ops/conv2d_backward.h"

namespace mishnet::ops {

// oneDNN backward-data/weights primitives plug in here (CPU backend).
std::unique_ptr<Conv2dBackwardOp> make_conv2d_backward(const Conv2dDesc& d, BackendKind backend) {
  return make_conv2d_backward_reference(d);
}

}  // namespace mishnet::ops
