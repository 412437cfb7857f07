#include "ops/activation_op.h"

namespace mishnet::ops {

void activate(Activation a, const Tensor& t) { activate_reference(a, t); }

}  // namespace mishnet::ops
