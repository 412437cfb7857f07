#include <vector>

#include "ops/conv2d_backward.h"

namespace mishnet::ops {

void conv2d_backward_data_reference(const Conv2dDesc& d, const float* ddst, const float* weights,
                                    float* dsrc) {
  const int in_per_group = d.in_c / d.groups;
  const int out_per_group = d.out_c / d.groups;
  const size_t in_image = size_t(d.in_c) * d.in_h * d.in_w;
  const size_t out_image = size_t(d.out_c) * d.out_h * d.out_w;
  const size_t k_area = size_t(d.kernel_h) * d.kernel_w;
  // Parallel over (batch, input channel): each thread owns the dsrc planes it writes.
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < d.batch; ++b) {
    for (int ic_all = 0; ic_all < d.in_c; ++ic_all) {
      const int g = ic_all / in_per_group, ic = ic_all % in_per_group;
      float* din = dsrc + b * in_image + size_t(ic_all) * d.in_h * d.in_w;
      for (int oc = g * out_per_group; oc < (g + 1) * out_per_group; ++oc) {
        const float* dout = ddst + b * out_image + size_t(oc) * d.out_h * d.out_w;
        const float* w = weights + (size_t(oc) * in_per_group + ic) * k_area;
        for (int oy = 0; oy < d.out_h; ++oy)
          for (int ox = 0; ox < d.out_w; ++ox) {
            const float go = dout[oy * d.out_w + ox];
            if (go == 0.0f) continue;
            for (int ky = 0; ky < d.kernel_h; ++ky) {
              int iy = oy * d.stride_h - d.pad_h + ky * d.dilation;
              if (iy < 0 || iy >= d.in_h) continue;
              for (int kx = 0; kx < d.kernel_w; ++kx) {
                int ix = ox * d.stride_w - d.pad_w + kx * d.dilation;
                if (ix < 0 || ix >= d.in_w) continue;
                din[iy * d.in_w + ix] += go * w[ky * d.kernel_w + kx];
              }
            }
          }
      }
    }
  }
}

void conv2d_backward_weights_reference(const Conv2dDesc& d, const float* src, const float* ddst,
                                       float* dweights) {
  const int in_per_group = d.in_c / d.groups;
  const int out_per_group = d.out_c / d.groups;
  const size_t in_image = size_t(d.in_c) * d.in_h * d.in_w;
  const size_t out_image = size_t(d.out_c) * d.out_h * d.out_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int oc = 0; oc < d.out_c; ++oc) {
    for (int ic = 0; ic < in_per_group; ++ic) {
      const int g = oc / out_per_group;
      for (int ky = 0; ky < d.kernel_h; ++ky)
        for (int kx = 0; kx < d.kernel_w; ++kx) {
          double acc = 0.0;
          for (int b = 0; b < d.batch; ++b) {
            const float* in = src + b * in_image + size_t(g * in_per_group + ic) * d.in_h * d.in_w;
            const float* dout = ddst + b * out_image + size_t(oc) * d.out_h * d.out_w;
            for (int oy = 0; oy < d.out_h; ++oy) {
              int iy = oy * d.stride_h - d.pad_h + ky * d.dilation;
              if (iy < 0 || iy >= d.in_h) continue;
              for (int ox = 0; ox < d.out_w; ++ox) {
                int ix = ox * d.stride_w - d.pad_w + kx * d.dilation;
                if (ix < 0 || ix >= d.in_w) continue;
                acc += double(in[iy * d.in_w + ix]) * dout[oy * d.out_w + ox];
              }
            }
          }
          dweights[((size_t(oc) * in_per_group + ic) * d.kernel_h + ky) * d.kernel_w + kx] +=
              float(acc);
        }
    }
  }
}

namespace {

class ReferenceConv2dBackward final : public Conv2dBackwardOp {
 public:
  explicit ReferenceConv2dBackward(const Conv2dDesc& d) : d_(d) {}
  void backward_data(const float* ddst, const float* weights, float* dsrc) override {
    conv2d_backward_data_reference(d_, ddst, weights, dsrc);
  }
  void backward_weights(const float* src, const float* ddst, float* dweights) override {
    conv2d_backward_weights_reference(d_, src, ddst, dweights);
  }
  const char* impl_name() const override { return "reference"; }

 private:
  Conv2dDesc d_;
};

}  // namespace

std::unique_ptr<Conv2dBackwardOp> make_conv2d_backward_reference(const Conv2dDesc& d) {
  return std::make_unique<ReferenceConv2dBackward>(d);
}

}  // namespace mishnet::ops
