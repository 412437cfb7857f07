// Chooses the inference pooling implementation; see pool2d.h.
#include <iostream>

#include "backend/dnnl/dnnl_ops_extra.h"
#include "mishnet/error.h"
#include "ops/pool2d.h"

namespace mishnet::ops {

namespace {

class ReferencePool2d final : public Pool2dInferenceOp {
 public:
  ReferencePool2d(const Pool2dDesc& d, PoolKind kind) : d_(d), kind_(kind) {}
  void forward(const float* src, float* dst) override {
    if (kind_ == PoolKind::max)
      maxpool2d_forward(d_, src, dst, nullptr);
    else
      avgpool2d_forward(d_, src, dst);
  }
  const char* impl_name() const override { return "reference"; }

 private:
  Pool2dDesc d_;
  PoolKind kind_;
};

}  // namespace

std::unique_ptr<Pool2dInferenceOp> make_pool2d_inference_reference(const Pool2dDesc& d,
                                                                   PoolKind kind) {
  if (d.blocked) fail("pooling: the reference op reads and writes NCHW only, not nChw16c");
  return std::make_unique<ReferencePool2d>(d, kind);
}

std::unique_ptr<Pool2dInferenceOp> make_pool2d_inference(const Pool2dDesc& d, PoolKind kind,
                                                         BackendKind backend) {
  if (backend == BackendKind::cpu) {
    if (auto op = dnnl_backend::make_pool2d_inference(d, kind)) return op;
    if (d.blocked)
      fail("pooling ", d.in_w, "x", d.in_h, "x", d.channels, ", size ", d.size, ", stride ",
           d.stride_x, "x", d.stride_y, ", padding ", d.padding,
           ": oneDNN has no kernel for it in the nChw16c layout the network asked for");
    static bool logged = false;  // one line, not one per layer
    if (!logged) {
      std::clog << "mishnet: oneDNN has no pooling for " << d.in_w << 'x' << d.in_h << 'x'
                << d.channels << ", size " << d.size << ", stride " << d.stride_x << 'x'
                << d.stride_y << ", padding " << d.padding
                << " (and maybe other layers); using the reference\n";
      logged = true;
    }
  }
  return make_pool2d_inference_reference(d, kind);
}

}  // namespace mishnet::ops
