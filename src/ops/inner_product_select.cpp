#include <iostream>

#include "backend/dnnl/dnnl_ops_extra.h"
#include "ops/inner_product.h"

namespace mishnet::ops {

std::unique_ptr<InnerProductOp> make_inner_product(const InnerProductDesc& d, BackendKind backend) {
  if (backend == BackendKind::cpu) {
    if (auto op = dnnl_backend::make_inner_product(d)) return op;
  }
  if (backend != BackendKind::reference) {
    static bool logged = false;  // one line, not one per layer
    if (!logged) {
      std::clog << "mishnet: no optimised inner product for " << d.inputs << " -> " << d.outputs
                << " (batch " << d.batch << ") on the " << backend_name(backend)
                << " backend (and maybe other layers); using the reference\n";
      logged = true;
    }
  }
  return make_inner_product_reference(d);
}

}  // namespace mishnet::ops
