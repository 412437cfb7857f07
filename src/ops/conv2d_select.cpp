#include <iostream>

#include "backend/dnnl/dnnl_ops.h"
#include "ops/conv2d.h"

namespace mishnet::ops {

std::unique_ptr<Conv2dOp> make_conv2d(const Conv2dDesc& d, BackendKind backend) {
  if (backend == BackendKind::cpu) {
    if (auto op = dnnl_backend::make_conv2d(d)) return op;
    static bool logged = false;  // one line, not one per layer
    if (!logged) {
      std::clog << "mishnet: oneDNN has no convolution for " << d.in_w << 'x' << d.in_h << 'x'
                << d.in_c << " -> " << d.out_c << ", kernel " << d.kernel_w << 'x' << d.kernel_h
                << ", stride " << d.stride_w << 'x' << d.stride_h << ", groups " << d.groups
                << " (and maybe other layers); using the reference\n";
      logged = true;
    }
  }
  return make_conv2d_reference(d);
}

}  // namespace mishnet::ops
