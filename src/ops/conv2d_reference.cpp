#include <cstring>

#include "ops/conv2d.h"
#include "ops/activation_op.h"
#include "mishnet/error.h"

namespace mishnet::ops {

void conv2d_reference(const Conv2dDesc& d, const float* src, const float* weights,
                      const float* bias, float* dst) {
  const int in_per_group = d.in_c / d.groups;
  const int out_per_group = d.out_c / d.groups;
  const size_t in_image = size_t(d.in_c) * d.in_h * d.in_w;
  const size_t out_image = size_t(d.out_c) * d.out_h * d.out_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < d.batch; ++b) {
    for (int oc = 0; oc < d.out_c; ++oc) {
      const int g = oc / out_per_group;
      const float* w_oc = weights + size_t(oc) * in_per_group * d.kernel_h * d.kernel_w;
      float* out = dst + b * out_image + size_t(oc) * d.out_h * d.out_w;
      for (int oy = 0; oy < d.out_h; ++oy) {
        for (int ox = 0; ox < d.out_w; ++ox) {
          double acc = bias ? bias[oc] : 0.0;
          for (int ic = 0; ic < in_per_group; ++ic) {
            const float* in = src + b * in_image + size_t(g * in_per_group + ic) * d.in_h * d.in_w;
            const float* w = w_oc + size_t(ic) * d.kernel_h * d.kernel_w;
            for (int ky = 0; ky < d.kernel_h; ++ky) {
              int iy = oy * d.stride_h - d.pad_h + ky * d.dilation;
              if (iy < 0 || iy >= d.in_h) continue;
              for (int kx = 0; kx < d.kernel_w; ++kx) {
                int ix = ox * d.stride_w - d.pad_w + kx * d.dilation;
                if (ix < 0 || ix >= d.in_w) continue;
                acc += double(in[iy * d.in_w + ix]) * double(w[ky * d.kernel_w + kx]);
              }
            }
          }
          out[oy * d.out_w + ox] = float(acc);
        }
      }
    }
  }
}

namespace {

class ReferenceConv2d final : public Conv2dOp {
 public:
  explicit ReferenceConv2d(const Conv2dDesc& d) : d_(d) {}
  void set_weights(const float* weights, const float* bias) override {
    weights_ = weights;
    bias_ = bias;
  }
  void forward(const float* src, float* dst) override {
    conv2d_reference(d_, src, weights_, bias_, dst);
  }
  bool fused_activation() const override { return false; }
  const char* impl_name() const override { return "reference"; }

 private:
  Conv2dDesc d_;
  const float* weights_ = nullptr;
  const float* bias_ = nullptr;
};

}  // namespace

std::unique_ptr<Conv2dOp> make_conv2d_reference(const Conv2dDesc& d) {
  if (d.src_blocked || d.dst_blocked)
    fail("convolution ", d.in_w, "x", d.in_h, "x", d.in_c, " -> ", d.out_c,
         ": the reference op reads and writes NCHW only, not the nChw16c layout asked for");
  return std::make_unique<ReferenceConv2d>(d);
}

}  // namespace mishnet::ops
