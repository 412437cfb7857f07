#include "ops/inner_product.h"

namespace mishnet::ops {

void inner_product_reference(const InnerProductDesc& d, const float* src, const float* weights,
                             const float* bias, float* dst) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < d.batch; ++b) {
    for (int o = 0; o < d.outputs; ++o) {
      const float* x = src + size_t(b) * size_t(d.inputs);
      const float* w = weights + size_t(o) * size_t(d.inputs);
      // Double accumulation: the reference is the truth other implementations are held to.
      double acc = bias ? bias[o] : 0.0;
      for (int i = 0; i < d.inputs; ++i) acc += double(x[i]) * double(w[i]);
      dst[size_t(b) * size_t(d.outputs) + size_t(o)] = float(acc);
    }
  }
}

namespace {

class ReferenceInnerProduct final : public InnerProductOp {
 public:
  explicit ReferenceInnerProduct(const InnerProductDesc& d) : d_(d) {}
  void set_weights(const float* weights, const float* bias) override {
    weights_ = weights;
    bias_ = bias;
  }
  void forward(const float* src, float* dst) override {
    inner_product_reference(d_, src, weights_, bias_, dst);
  }
  const char* impl_name() const override { return "reference"; }

 private:
  InnerProductDesc d_;
  const float* weights_ = nullptr;
  const float* bias_ = nullptr;
};

}  // namespace

std::unique_ptr<InnerProductOp> make_inner_product_reference(const InnerProductDesc& d) {
  return std::make_unique<ReferenceInnerProduct>(d);
}

}  // namespace mishnet::ops
