#include <iostream>

#include "backend/dnnl/dnnl_conv2d_backward.h"
#include "ops/conv2d_backward.h"

namespace mishnet::ops {

std::unique_ptr<Conv2dBackwardOp> make_conv2d_backward(const Conv2dDesc& d, BackendKind backend) {
  if (backend == BackendKind::cpu) {
    if (auto op = dnnl_backend::make_conv2d_backward(d)) return op;
    static bool logged = false;  // one line, not one per layer
    if (!logged) {
      std::clog << "mishnet: oneDNN has no convolution backward for some layer shapes; using the "
                   "reference\n";
      logged = true;
    }
  }
  return make_conv2d_backward_reference(d);
}

}  // namespace mishnet::ops
