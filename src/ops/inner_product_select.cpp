#include <iostream>

#include "ops/inner_product.h"

namespace mishnet::ops {

// The oneDNN inner product (dnnl::inner_product_forward) slots in here for BackendKind::cpu;
// until then every backend runs the reference. [connected] layers are rare and small in the
// networks mishnet targets (classifier heads use 1x1 convolutions), so this costs little.
std::unique_ptr<InnerProductOp> make_inner_product(const InnerProductDesc& d, BackendKind backend) {
  if (backend != BackendKind::reference) {
    static bool logged = false;  // one line, not one per layer
    if (!logged) {
      std::clog << "mishnet: no optimised inner product for the " << backend_name(backend)
                << " backend yet; [connected] layers use the reference\n";
      logged = true;
    }
  }
  return make_inner_product_reference(d);
}

}  // namespace mishnet::ops
