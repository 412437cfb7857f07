// [connected] inference with dnnl::inner_product_forward. The weights are reordered once per
// set_weights into the layout oneDNN picks for this batch; src and dst stay plain row-major.
#include <vector>

#include "backend/dnnl/dnnl_engine.h"
#include "backend/dnnl/dnnl_ops_extra.h"

namespace mishnet::dnnl_backend {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

class DnnlInnerProduct final : public ops::InnerProductOp {
 public:
  explicit DnnlInnerProduct(const ops::InnerProductDesc& d) : d_(d) {
    const memory::dim batch = d.batch, in = d.inputs, out = d.outputs;
    src_md_ = memory::desc({batch, in}, dt::f32, tag::nc);
    dst_md_ = memory::desc({batch, out}, dt::f32, tag::nc);
    const memory::desc w_any({out, in}, dt::f32, tag::any);
    const memory::desc b_md({out}, dt::f32, tag::x);
    dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src_md_, w_any,
                                           b_md, dst_md_);
    pd_ = dnnl::inner_product_forward::primitive_desc(desc, cpu_engine());
    prim_ = dnnl::inner_product_forward(pd_);
    weights_ = memory(pd_.weights_desc(), cpu_engine());
    bias_ = memory(pd_.bias_desc(), cpu_engine());
  }

  void set_weights(const float* weights, const float* bias) override {
    // Darknet's [outputs][inputs] is oneDNN's plain "oi".
    const memory::desc plain({d_.outputs, d_.inputs}, dt::f32, tag::oi);
    memory user(plain, cpu_engine(), const_cast<float*>(weights));
    dnnl::stream& s = cpu_stream();
    dnnl::reorder(user, weights_).execute(s, user, weights_);
    float* b = static_cast<float*>(bias_.get_data_handle());
    for (int o = 0; o < d_.outputs; ++o) b[o] = bias ? bias[o] : 0.0f;
    s.wait();
  }

  void forward(const float* src, float* dst) override {
    memory src_mem(src_md_, cpu_engine(), const_cast<float*>(src));
    memory dst_mem(dst_md_, cpu_engine(), dst);
    dnnl::stream& s = cpu_stream();
    prim_.execute(s, {{DNNL_ARG_SRC, src_mem},
                      {DNNL_ARG_WEIGHTS, weights_},
                      {DNNL_ARG_BIAS, bias_},
                      {DNNL_ARG_DST, dst_mem}});
    s.wait();
  }

  const char* impl_name() const override { return "onednn"; }

 private:
  ops::InnerProductDesc d_;
  memory::desc src_md_, dst_md_;
  dnnl::inner_product_forward::primitive_desc pd_;
  dnnl::inner_product_forward prim_;
  memory weights_, bias_;
};

}  // namespace

std::unique_ptr<ops::InnerProductOp> make_inner_product(const ops::InnerProductDesc& d) {
  if (d.batch < 1 || d.inputs < 1 || d.outputs < 1) return nullptr;
  try {
    return std::make_unique<DnnlInnerProduct>(d);
  } catch (const dnnl::error&) {
    return nullptr;  // no implementation for this shape: the caller uses the reference
  }
}

}  // namespace mishnet::dnnl_backend
