#include "ops/inner_product.h"

namespace mishnet::ops {

void inner_product_backward_data_reference(const InnerProductDesc& d, const float* ddst,
                                           const float* weights, float* dsrc) {
#pragma omp parallel for collapse(2) schedule(static) if (size_t(d.batch) * d.weights_count() > 65536)
  for (int b = 0; b < d.batch; ++b)
    for (int i = 0; i < d.inputs; ++i) {
      double acc = 0.0;
      for (int o = 0; o < d.outputs; ++o)
        acc += double(ddst[size_t(b) * d.outputs + o]) * weights[size_t(o) * d.inputs + i];
      dsrc[size_t(b) * d.inputs + i] += float(acc);
    }
}

void inner_product_backward_weights_reference(const InnerProductDesc& d, const float* src,
                                              const float* ddst, float* dweights) {
#pragma omp parallel for schedule(static) if (size_t(d.batch) * d.weights_count() > 65536)
  for (int o = 0; o < d.outputs; ++o)
    for (int i = 0; i < d.inputs; ++i) {
      double acc = 0.0;
      for (int b = 0; b < d.batch; ++b)
        acc += double(ddst[size_t(b) * d.outputs + o]) * src[size_t(b) * d.inputs + i];
      dweights[size_t(o) * d.inputs + i] += float(acc);
    }
}

}  // namespace mishnet::ops
