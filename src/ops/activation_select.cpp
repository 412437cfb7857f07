#include "backend/dnnl/dnnl_eltwise.h"
#include "ops/activation_op.h"

namespace mishnet::ops {

// oneDNN's eltwise where it computes the activation within kEltwiseTolerance of the reference
// (checked once per process), the reference loop otherwise.
void activate(Activation a, const Tensor& t) {
  if (a == Activation::linear) return;
  if (activation_is_elementwise(a) && dnnl_backend::eltwise_forward(a, t.data, t.size())) return;
  activate_reference(a, t);
}

}  // namespace mishnet::ops
