#include "kernels/activations.h"
#include "ops/activation_op.h"

namespace mishnet::ops {

void activate_reference(Activation a, const Tensor& t) {
  if (a == Activation::linear) return;
  float* x = t.data;
  const long n = long(t.size());
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) x[i] = kernels::activate(a, x[i]);
}

}  // namespace mishnet::ops
