// 2-D convolution op: one plain reference implementation and optimised ones behind Conv2dOp.
#pragma once
#include <memory>
#include <string>

#include "mishnet/activation.h"
#include "mishnet/layer.h"

namespace mishnet::ops {

struct Conv2dDesc {
  int batch = 1;
  int in_c = 0, in_h = 0, in_w = 0;
  int out_c = 0, out_h = 0, out_w = 0;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;  // top/left padding; bottom/right follow from the output size
  int dilation = 1;
  int groups = 1;
  // Applied to the output (after bias) when the implementation can fuse it; see
  // Conv2dOp::fused_activation().
  Activation activation = Activation::linear;
  // Training: set_weights() runs every step, so layouts whose weight transform is costly
  // (Winograd) are not worth it.
  bool weights_change_every_step = false;
  // The caller's src / dst are in oneDNN's nChw16c layout instead of NCHW (the network keeps
  // them so between layers, src/core/layout_plan.h); the channels are multiples of 16. Only
  // the cpu backend's ops take them.
  bool src_blocked = false, dst_blocked = false;

  size_t weights_count() const {
    return size_t(out_c) * size_t(in_c / groups) * size_t(kernel_h) * size_t(kernel_w);
  }
};

// Weights are Darknet's layout: [out_c][in_c/groups][kernel_h][kernel_w]; src/dst NCHW unless
// the description says blocked.
class Conv2dOp {
 public:
  virtual ~Conv2dOp() = default;
  // Called whenever the weights or bias change (once for inference); may reorder them.
  virtual void set_weights(const float* weights, const float* bias) = 0;
  virtual void forward(const float* src, float* dst) = 0;
  // True when forward() already applied desc.activation; otherwise the caller applies it.
  virtual bool fused_activation() const = 0;
  virtual const char* impl_name() const = 0;
};

// dst = conv(src, weights) + bias, no activation. bias may be null.
void conv2d_reference(const Conv2dDesc& d, const float* src, const float* weights,
                      const float* bias, float* dst);

// The fastest implementation the backend has for this description, falling back to the
// reference (with a log line) when it has none.
std::unique_ptr<Conv2dOp> make_conv2d(const Conv2dDesc& d, BackendKind backend);
std::unique_ptr<Conv2dOp> make_conv2d_reference(const Conv2dDesc& d);

}  // namespace mishnet::ops
