// Conv2dOp on oneDNN. The op's edges are NCHW, or nChw16c where the network keeps a tensor
// blocked (Conv2dDesc::src_blocked/dst_blocked); inside, the convolution runs in the layout
// oneDNN's fastest kernels want, with reorder primitives at the edges that differ from it, all
// created once per op. Weights are reordered once in set_weights; bias and the activation
// are fused as post-ops when oneDNN computes the activation accurately (dnnl_eltwise.h).
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/dnnl/dnnl_conv1x1_sgemm.h"
#include "backend/dnnl/dnnl_eltwise.h"
#include "backend/dnnl/dnnl_engine.h"
#include "backend/dnnl/dnnl_ops.h"
#include "mishnet/error.h"

namespace mishnet::dnnl_backend {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Darknet sizes the output as floor((in + 2·pad − span)/stride) + 1, so the padding oneDNN must
// add on the right/bottom is whatever that output needs: it may be less than the left padding,
// or negative (input columns the last window never reaches). oneDNN accepts pad_r > −stride,
// which always holds here.
memory::dim trailing_padding(int in, int out, int stride, int span, int pad) {
  return memory::dim(out - 1) * stride + span - in - pad;
}

const char* layout_name(ConvLayout layout) {
  switch (layout) {
    case ConvLayout::automatic:
      return "automatic";
    case ConvLayout::blocked:
      return "blocked";
    case ConvLayout::nhwc_src:
      return "nhwc-src";
    case ConvLayout::nchw_src:
      return "nchw-src";
    case ConvLayout::blocked16:
      return "nChw16c";
    case ConvLayout::plain:
      return "nchw";
    case ConvLayout::sgemm_1x1:
      return "nchw-sgemm";
    case ConvLayout::winograd:
      return "nChw16c, winograd";
  }
  return "?";
}

// The layouts to try, fastest first, as measured on every conv layer of yolov4, yolov4-tiny and
// csdarknet53-omega (2 threads on an idle machine, and single-thread CPU time under load;
// reorders and unfused activation included; docs/cpu-backend.md has the numbers):
// - 1x1 stride 1: sgemm on NCHW, no reorders at all (yolov4's 1x1 layers, 1 thread:
//   159 -> 107 ms).
// - 3x3 stride 1 with 16+ input channels: Winograd, 1.2-2.3x faster than direct on every such
//   layer but one small one, and no less accurate against the reference. Not in training: the
//   weights change every step, and oneDNN's Winograd weight transform (a reorder, ~10 ms per
//   layer) then costs more than the faster convolution saves (csdarknet53-omega, batch 8:
//   2.7-2.8 s against 2.2-2.5 s per step, 360-490 ms of it in the transforms).
// - few input channels (the image): the direct kernel that reads NCHW itself, no input reorder
//   (416x416x3 -> 32, 2 threads: 3.7 against 4.6 ms for brgconv on NHWC).
// - large inputs: nChw16c, whose reorders cost less than NHWC's transposes (416x416x32 -> 64
//   stride 2: 8.5 against 11.0 ms; 208x208x64 -> 128: 6.8 against 8.2 ms). On smaller inputs
//   brgconv on NHWC, oneDNN's own choice, is 5-25% faster than the direct nChw16c kernel.
// A candidate whose primitive turns out to be a reference or gemm kernel (another CPU, an
// unusual shape) is skipped; oneDNN's own choice ends the list.
//
// When the network keeps src or dst in nChw16c itself (d.src_blocked / d.dst_blocked), the
// NCHW-only paths (sgemm) go and nChw16c comes before oneDNN's own choice: no reorder at a
// blocked edge beats the brgconv kernel's few percent on small inputs.
std::vector<ConvLayout> candidate_layouts(const ops::Conv2dDesc& d) {
  std::vector<ConvLayout> c;
  const bool blocked_edge = d.src_blocked || d.dst_blocked;
  if (!blocked_edge && sgemm_conv1x1_applies(d)) c.push_back(ConvLayout::sgemm_1x1);
  if (d.kernel_h == 3 && d.kernel_w == 3 && d.stride_h == 1 && d.stride_w == 1 &&
      d.dilation == 1 && d.groups == 1 && d.in_c >= 16 &&
      !d.weights_change_every_step)
    c.push_back(ConvLayout::winograd);
  if (d.groups == 1 && d.in_c <= 4 && !d.src_blocked) c.push_back(ConvLayout::nchw_src);
  const size_t input = size_t(d.in_c) * d.in_h * d.in_w;
  if (blocked_edge || (d.groups == 1 && (input >= (4u << 20) ||
                                         (input >= (1u << 20) && d.out_c >= 128))))
    c.push_back(ConvLayout::blocked16);
  c.push_back(ConvLayout::blocked);
  return c;
}

bool is_optimised_kernel(const std::string& impl) {
  return impl.find("ref") == std::string::npos && impl.find("gemm") == std::string::npos;
}

class DnnlConv2d final : public ops::Conv2dOp {
 public:
  // Throws dnnl::error when oneDNN has no implementation for the description.
  DnnlConv2d(const ops::Conv2dDesc& d, ConvLayout layout) : d_(d) {
    const int span_h = d.dilation * (d.kernel_h - 1) + 1;
    const int span_w = d.dilation * (d.kernel_w - 1) + 1;
    const memory::dims src_dims{d.batch, d.in_c, d.in_h, d.in_w};
    const memory::dims dst_dims{d.batch, d.out_c, d.out_h, d.out_w};
    const memory::dims weight_dims =
        d.groups == 1
            ? memory::dims{d.out_c, d.in_c, d.kernel_h, d.kernel_w}
            : memory::dims{d.groups, d.out_c / d.groups, d.in_c / d.groups, d.kernel_h, d.kernel_w};
    const memory::desc user_src_md(src_dims, dt::f32, d.src_blocked ? tag::nChw16c : tag::nchw);
    const memory::desc user_dst_md(dst_dims, dt::f32, d.dst_blocked ? tag::nChw16c : tag::nchw);
    user_weights_md_ = memory::desc(weight_dims, dt::f32, d.groups == 1 ? tag::oihw : tag::goihw);

    tag src_tag = tag::any, dst_tag = tag::any;
    if (layout == ConvLayout::plain) src_tag = dst_tag = tag::nchw;
    if (layout == ConvLayout::nhwc_src) src_tag = tag::nhwc;
    if (layout == ConvLayout::nchw_src) src_tag = tag::nchw;
    if (layout == ConvLayout::blocked16 || layout == ConvLayout::winograd)
      src_tag = dst_tag = tag::nChw16c;
    // Winograd has eltwise post-ops for relu only (oneDNN 2.6): the activation may come back
    // unfused below, and the layer applies it as a separate pass.
    const memory::desc src_md(src_dims, dt::f32, src_tag);
    const memory::desc dst_md(dst_dims, dt::f32, dst_tag);
    const memory::desc weights_md(weight_dims, dt::f32, tag::any);
    const memory::desc bias_md({d.out_c}, dt::f32, tag::x);

    dnnl::convolution_forward::desc conv_desc(
        dnnl::prop_kind::forward_inference,
        layout == ConvLayout::winograd ? dnnl::algorithm::convolution_winograd
                                       : dnnl::algorithm::convolution_direct,
        src_md, weights_md, bias_md, dst_md, {d.stride_h, d.stride_w},
        {d.dilation - 1, d.dilation - 1}, {d.pad_h, d.pad_w},
        {trailing_padding(d.in_h, d.out_h, d.stride_h, span_h, d.pad_h),
         trailing_padding(d.in_w, d.out_w, d.stride_w, span_w, d.pad_w)});

    dnnl::post_ops post_ops;
    fused_ = append_activation_post_ops(d.activation, post_ops);
    dnnl::primitive_attr attr;
    if (fused_) attr.set_post_ops(post_ops);
    try {
      pd_ = dnnl::convolution_forward::primitive_desc(conv_desc, attr, cpu_engine());
    } catch (const dnnl::error&) {
      if (!fused_ || post_ops.len() == 0) throw;
      // No kernel for this shape with these post-ops: convolve here, activate in the layer.
      fused_ = false;
      pd_ = dnnl::convolution_forward::primitive_desc(conv_desc, cpu_engine());
    }
    conv_ = dnnl::convolution_forward(pd_);

    dnnl::engine& eng = cpu_engine();
    user_src_ = memory(user_src_md, eng, DNNL_MEMORY_NONE);
    user_dst_ = memory(user_dst_md, eng, DNNL_MEMORY_NONE);
    reorder_src_ = pd_.src_desc() != user_src_md;
    reorder_dst_ = pd_.dst_desc() != user_dst_md;
    conv_src_ = reorder_src_ ? memory(pd_.src_desc(), eng, DNNL_MEMORY_NONE) : user_src_;
    conv_dst_ = reorder_dst_ ? memory(pd_.dst_desc(), eng, DNNL_MEMORY_NONE) : user_dst_;
    if (reorder_src_) src_reorder_ = dnnl::reorder(user_src_, conv_src_);
    if (reorder_dst_) dst_reorder_ = dnnl::reorder(conv_dst_, user_dst_);
    weights_ = d.weights_change_every_step ? memory(pd_.weights_desc(), eng, DNNL_MEMORY_NONE)
                                           : memory(pd_.weights_desc(), eng);
    bias_ = memory(bias_md, eng);

    kernel_ = pd_.impl_info_str();
    name_ = "onednn:" + kernel_ + " (" + layout_name(layout) + ")";
  }

  // Inference reorders the weights once into the op's own copy. Training (weights that change
  // every step) reorders them at each forward into one scratch buffer shared by all layers:
  // the same work, and no second copy of every layer's weights (106 MB for csdarknet53-omega).
  void set_weights(const float* weights, const float* bias) override {
    dnnl::stream& s = cpu_stream();
    float* b = static_cast<float*>(bias_.get_data_handle());
    for (int i = 0; i < d_.out_c; ++i) b[i] = bias ? bias[i] : 0.0f;
    if (d_.weights_change_every_step) {
      user_weights_ = weights;
      return;
    }
    memory user_weights(user_weights_md_, cpu_engine(), const_cast<float*>(weights));
    dnnl::reorder(user_weights, weights_).execute(s, user_weights, weights_);
    s.wait();
  }

  void forward(const float* src, float* dst) override {
    dnnl::stream& s = cpu_stream();
    user_src_.set_data_handle(const_cast<float*>(src));
    user_dst_.set_data_handle(dst);
    // Scratch moves when another op grows it, so the handles are set on every call.
    if (reorder_src_) {
      conv_src_.set_data_handle(scratch(ScratchSlot::src, pd_.src_desc().get_size()));
      src_reorder_.execute(s, user_src_, conv_src_);
    }
    if (reorder_dst_)
      conv_dst_.set_data_handle(scratch(ScratchSlot::dst, pd_.dst_desc().get_size()));
    if (d_.weights_change_every_step) {
      if (!user_weights_) fail("convolution: forward before set_weights");
      weights_.set_data_handle(scratch(ScratchSlot::weights, pd_.weights_desc().get_size()));
      memory user_weights(user_weights_md_, cpu_engine(), const_cast<float*>(user_weights_));
      dnnl::reorder(user_weights, weights_).execute(s, user_weights, weights_);
    }
    conv_.execute(s, {{DNNL_ARG_SRC, conv_src_},
                      {DNNL_ARG_WEIGHTS, weights_},
                      {DNNL_ARG_BIAS, bias_},
                      {DNNL_ARG_DST, conv_dst_}});
    if (reorder_dst_) dst_reorder_.execute(s, conv_dst_, user_dst_);
    s.wait();
  }

  bool fused_activation() const override { return fused_; }
  const char* impl_name() const override { return name_.c_str(); }
  const std::string& kernel() const { return kernel_; }

 private:
  ops::Conv2dDesc d_;
  bool fused_ = false;
  std::string kernel_, name_;
  memory::desc user_weights_md_;
  const float* user_weights_ = nullptr;  // training: reordered at each forward
  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::convolution_forward conv_;
  memory user_src_, user_dst_, conv_src_, conv_dst_, weights_, bias_;
  bool reorder_src_ = false, reorder_dst_ = false;
  dnnl::reorder src_reorder_, dst_reorder_;
};

}  // namespace

std::unique_ptr<ops::Conv2dOp> make_conv2d(const ops::Conv2dDesc& d, ConvLayout layout) {
  if ((d.src_blocked && d.in_c % 16 != 0) || (d.dst_blocked && d.out_c % 16 != 0)) return nullptr;
  if (layout == ConvLayout::sgemm_1x1)
    return d.src_blocked || d.dst_blocked ? nullptr : make_sgemm_conv1x1(d);
  if (layout != ConvLayout::automatic) {
    try {
      return std::make_unique<DnnlConv2d>(d, layout);
    } catch (const dnnl::error&) {
      return nullptr;
    }
  }
  for (ConvLayout candidate : candidate_layouts(d)) {
    if (candidate == ConvLayout::sgemm_1x1) return make_sgemm_conv1x1(d);
    try {
      auto op = std::make_unique<DnnlConv2d>(d, candidate);
      if (candidate == ConvLayout::blocked || is_optimised_kernel(op->kernel())) return op;
    } catch (const dnnl::error&) {
      // no kernel for this layout: the next candidate
    }
  }
  return nullptr;
}

}  // namespace mishnet::dnnl_backend
