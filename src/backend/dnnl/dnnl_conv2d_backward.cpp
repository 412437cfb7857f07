// Conv2dBackwardOp on oneDNN. Each direction (data, weights) picks its own implementation:
//  - a 1x1, stride-1, unpadded, ungrouped convolution is a matrix product per image in NCHW,
//    so it runs as oneDNN sgemm with beta = 1: no reorders, and the ADD comes free;
//  - anything else runs oneDNN's convolution_backward_data / _weights primitives, created once
//    per op with format_tag::any (blocked layouts, nChw16c on AVX-512). Inputs are reordered
//    into the primitive's layouts on every call (the weights too: they change every step) and
//    results are added back into the caller's NCHW / Darknet-layout buffers.
// Which implementation, layout and algorithm a shape gets: automatic_impl() below.
#include "backend/dnnl/dnnl_conv2d_backward.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "backend/dnnl/dnnl_engine.h"
#include "mishnet/error.h"
#include "ops/parallel_threshold.h"

namespace mishnet::dnnl_backend {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Darknet sizes the output as floor((in + 2·pad − span)/stride) + 1; oneDNN needs the padding
// on the right/bottom that produces exactly that output (it may be smaller than the left
// padding, or negative).
memory::dim trailing_padding(int in, int out, int stride, int span, int pad) {
  return memory::dim(out - 1) * stride + span - in - pad;
}

bool is_plain_pointwise(const ops::Conv2dDesc& d) {
  return d.kernel_h == 1 && d.kernel_w == 1 && d.stride_h == 1 && d.stride_w == 1 &&
         d.pad_h == 0 && d.pad_w == 0 && d.groups == 1 && d.out_h == d.in_h &&
         d.out_w == d.in_w;
}

// nchw[n][c][p] += blocked[n][c / B][p][c % B] for the channel-blocked layouts (nChw16c,
// nChw8c). oneDNN's reorder with a sum post-op does the same, but measured at twice the time
// on large tensors (36 vs 17 ms for 8x32x256x256, one thread), where this pass matters most.
void add_channel_blocked_to_nchw(const float* blocked, int block, int n, int c, size_t hw,
                                 float* nchw) {
  const int c_blocks = (c + block - 1) / block;
  const long work = long(n) * c * long(hw);
#pragma omp parallel for collapse(2) schedule(static) if (work >= ops::kParallelMinWork)
  for (int b = 0; b < n; ++b) {
    for (int cb = 0; cb < c_blocks; ++cb) {
      const float* in = blocked + (size_t(b) * c_blocks + cb) * hw * block;
      float* out = nchw + (size_t(b) * c + size_t(cb) * block) * hw;
      const int valid = std::min(block, c - cb * block);
      // Tiles of 16 pixels keep both the reads and the writes within a few cache lines.
      for (size_t p0 = 0; p0 < hw; p0 += 16) {
        const size_t p_end = std::min(hw, p0 + 16);
        for (int ci = 0; ci < valid; ++ci) {
          float* o = out + size_t(ci) * hw;
          for (size_t p = p0; p < p_end; ++p) o[p] += in[p * block + ci];
        }
      }
    }
  }
}

// Where an edge keeps its primitive-side copy: all are per-thread scratch, live only during one
// call, so a network's backward ops share them (owned copies of the weights and weight
// gradients would add twice the model's size: 220 MB for csdarknet53-omega).
enum class Buffer { src, dst, weights };

float* weights_scratch(size_t bytes) {
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<float, FreeDeleter> data;
  thread_local size_t size = 0;
  if (bytes > size) {
    constexpr size_t kAlign = 64;
    const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    data.reset();
    size = 0;
    data.reset(static_cast<float*>(std::aligned_alloc(kAlign, rounded)));
    if (!data) throw std::bad_alloc();
    size = rounded;
  }
  return data.get();
}

float* buffer(Buffer b, size_t bytes) {
  switch (b) {
    case Buffer::src: return scratch(ScratchSlot::src, bytes);
    case Buffer::dst: return scratch(ScratchSlot::dst, bytes);
    case Buffer::weights: return weights_scratch(bytes);
  }
  return nullptr;
}

// An NCHW (or Darknet weights) tensor at the edge of a primitive whose layout for it may
// differ. Inputs: `load` reorders the caller's data into the primitive's layout (or uses it in
// place). Outputs: `store_add` adds the primitive's result into the caller's buffer.
class Edge {
 public:
  Edge() = default;
  Edge(const memory::desc& user_md, const memory::desc& prim_md, bool is_output, Buffer buffer)
      : prim_md_(prim_md), buffer_(buffer) {
    dnnl::engine& eng = cpu_engine();
    user_ = memory(user_md, eng, DNNL_MEMORY_NONE);
    prim_ = memory(prim_md, eng, DNNL_MEMORY_NONE);
    if (!is_output) {
      same_ = user_md == prim_md;
      if (!same_) reorder_ = dnnl::reorder(user_, prim_);
      return;
    }
    // Outputs always go through the primitive-side copy: oneDNN overwrites its destination.
    const memory::dims& dims = user_md.dims();
    if (dims.size() == 4 && user_md == memory::desc(dims, dt::f32, tag::nchw)) {
      for (int block : {16, 8})
        if (prim_md == memory::desc(dims, dt::f32, block == 16 ? tag::nChw16c : tag::nChw8c)) {
          channel_block_ = block;
          return;
        }
    }
    // Any other layout: a reorder whose sum post-op adds to what the caller's buffer holds.
    dnnl::post_ops add;
    add.append_sum(1.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(add);
    reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, prim_md, eng, user_md, attr));
  }

  // The memory the primitive reads, holding `data`.
  memory& load(dnnl::stream& s, const float* data) {
    user_.set_data_handle(const_cast<float*>(data));
    if (same_) return user_;
    bind_primitive_side();
    reorder_.execute(s, user_, prim_);
    return prim_;
  }

  // The memory the primitive writes; call store_add after the primitive ran.
  memory& output() {
    bind_primitive_side();
    return prim_;
  }
  void store_add(dnnl::stream& s, float* data) {
    if (channel_block_) {
      s.wait();
      const memory::dims dims = prim_md_.dims();
      add_channel_blocked_to_nchw(static_cast<const float*>(prim_.get_data_handle()),
                                  channel_block_, int(dims[0]), int(dims[1]),
                                  size_t(dims[2]) * size_t(dims[3]), data);
      return;
    }
    user_.set_data_handle(data);
    reorder_.execute(s, prim_, user_);
  }

 private:
  // Scratch moves when another op grows it, so the handle is set on every call.
  void bind_primitive_side() {
    prim_.set_data_handle(buffer(buffer_, prim_md_.get_size()));
  }

  memory::desc prim_md_;
  Buffer buffer_ = Buffer::src;
  memory user_, prim_;
  bool same_ = false;
  int channel_block_ = 0;  // > 0: outputs added by add_channel_blocked_to_nchw
  dnnl::reorder reorder_;
};

// One direction of the backward pass.
class DataPass {
 public:
  virtual ~DataPass() = default;
  virtual void run(const float* ddst, const float* weights, float* dsrc) = 0;
  std::string name;
};

class WeightsPass {
 public:
  virtual ~WeightsPass() = default;
  virtual void run(const float* src, const float* ddst, float* dweights) = 0;
  std::string name;
};

// Row-major C = A·B + C (A, B as transposed by ta, tb).
void sgemm_add(char ta, char tb, memory::dim m, memory::dim n, memory::dim k, const float* a,
               memory::dim lda, const float* b, memory::dim ldb, float* c, memory::dim ldc) {
  if (dnnl::sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc) != dnnl::status::success)
    fail("oneDNN sgemm failed (", m, "x", n, "x", k, ")");
}

// Per image, dsrc (in_c x HW) += weightsᵀ (in_c x out_c) · ddst (out_c x HW).
class GemmDataPass final : public DataPass {
 public:
  explicit GemmDataPass(const ops::Conv2dDesc& d) : d_(d) { name = "sgemm"; }
  void run(const float* ddst, const float* weights, float* dsrc) override {
    const memory::dim hw = memory::dim(d_.in_h) * d_.in_w;
    for (int b = 0; b < d_.batch; ++b)
      sgemm_add('T', 'N', d_.in_c, hw, d_.out_c, weights, d_.in_c,
                ddst + size_t(b) * d_.out_c * hw, hw, dsrc + size_t(b) * d_.in_c * hw, hw);
  }

 private:
  ops::Conv2dDesc d_;
};

// dweights (out_c x in_c) += Σ over images of ddst (out_c x HW) · srcᵀ (HW x in_c).
class GemmWeightsPass final : public WeightsPass {
 public:
  explicit GemmWeightsPass(const ops::Conv2dDesc& d) : d_(d) { name = "sgemm"; }
  void run(const float* src, const float* ddst, float* dweights) override {
    const memory::dim hw = memory::dim(d_.in_h) * d_.in_w;
    for (int b = 0; b < d_.batch; ++b)
      sgemm_add('N', 'T', d_.out_c, d_.in_c, hw, ddst + size_t(b) * d_.out_c * hw, hw,
                src + size_t(b) * d_.in_c * hw, hw, dweights, d_.in_c);
  }

 private:
  ops::Conv2dDesc d_;
};

// The memory descriptors and geometry shared by both primitives.
struct ConvShapes {
  memory::desc user_src, user_dst, user_weights;  // NCHW and Darknet's weights
  memory::desc src, dst, weights;                 // what the primitives may choose from
  memory::dims strides, dilates, pad_l, pad_r;
  dnnl::algorithm algorithm;
  dnnl::convolution_forward::primitive_desc forward_hint;

  ConvShapes(const ops::Conv2dDesc& d, tag activation_tag, dnnl::algorithm alg)
      : algorithm(alg) {
    const int span_h = d.dilation * (d.kernel_h - 1) + 1;
    const int span_w = d.dilation * (d.kernel_w - 1) + 1;
    const memory::dims src_dims{d.batch, d.in_c, d.in_h, d.in_w};
    const memory::dims dst_dims{d.batch, d.out_c, d.out_h, d.out_w};
    const memory::dims weight_dims =
        d.groups == 1 ? memory::dims{d.out_c, d.in_c, d.kernel_h, d.kernel_w}
                      : memory::dims{d.groups, d.out_c / d.groups, d.in_c / d.groups, d.kernel_h,
                                     d.kernel_w};
    user_src = memory::desc(src_dims, dt::f32, tag::nchw);
    user_dst = memory::desc(dst_dims, dt::f32, tag::nchw);
    user_weights = memory::desc(weight_dims, dt::f32, d.groups == 1 ? tag::oihw : tag::goihw);
    src = memory::desc(src_dims, dt::f32, activation_tag);
    dst = memory::desc(dst_dims, dt::f32, activation_tag);
    weights = memory::desc(weight_dims, dt::f32, tag::any);
    strides = {d.stride_h, d.stride_w};
    dilates = {d.dilation - 1, d.dilation - 1};
    pad_l = {d.pad_h, d.pad_w};
    pad_r = {trailing_padding(d.in_h, d.out_h, d.stride_h, span_h, d.pad_h),
             trailing_padding(d.in_w, d.out_w, d.stride_w, span_w, d.pad_w)};
    // The backward primitives take a forward primitive_desc of the same convolution as a hint
    // (the forward implementation training pairs them with, and so its layouts).
    forward_hint = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm, src,
                                        weights, dst, strides, dilates, pad_l, pad_r),
        cpu_engine());
  }
};

class PrimitiveDataPass final : public DataPass {
 public:
  explicit PrimitiveDataPass(const ConvShapes& c) {
    pd_ = dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(c.algorithm, c.src, c.weights, c.dst, c.strides,
                                              c.dilates, c.pad_l, c.pad_r),
        cpu_engine(), c.forward_hint);
    conv_ = dnnl::convolution_backward_data(pd_);
    ddst_ = Edge(c.user_dst, pd_.diff_dst_desc(), false, Buffer::dst);
    weights_ = Edge(c.user_weights, pd_.weights_desc(), false, Buffer::weights);
    dsrc_ = Edge(c.user_src, pd_.diff_src_desc(), true, Buffer::src);
    name = pd_.impl_info_str();
  }
  void run(const float* ddst, const float* weights, float* dsrc) override {
    dnnl::stream& s = cpu_stream();
    memory& ddst_m = ddst_.load(s, ddst);
    memory& weights_m = weights_.load(s, weights);
    conv_.execute(s, {{DNNL_ARG_DIFF_DST, ddst_m},
                      {DNNL_ARG_WEIGHTS, weights_m},
                      {DNNL_ARG_DIFF_SRC, dsrc_.output()}});
    dsrc_.store_add(s, dsrc);
    s.wait();
  }

 private:
  dnnl::convolution_backward_data::primitive_desc pd_;
  dnnl::convolution_backward_data conv_;
  Edge ddst_, weights_, dsrc_;
};

class PrimitiveWeightsPass final : public WeightsPass {
 public:
  explicit PrimitiveWeightsPass(const ConvShapes& c) {
    pd_ = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(c.algorithm, c.src, c.weights, c.dst,
                                                 c.strides, c.dilates, c.pad_l, c.pad_r),
        cpu_engine(), c.forward_hint);
    conv_ = dnnl::convolution_backward_weights(pd_);
    src_ = Edge(c.user_src, pd_.src_desc(), false, Buffer::src);
    ddst_ = Edge(c.user_dst, pd_.diff_dst_desc(), false, Buffer::dst);
    dweights_ = Edge(c.user_weights, pd_.diff_weights_desc(), true, Buffer::weights);
    name = pd_.impl_info_str();
  }
  void run(const float* src, const float* ddst, float* dweights) override {
    dnnl::stream& s = cpu_stream();
    memory& src_m = src_.load(s, src);
    memory& ddst_m = ddst_.load(s, ddst);
    conv_.execute(s, {{DNNL_ARG_SRC, src_m},
                      {DNNL_ARG_DIFF_DST, ddst_m},
                      {DNNL_ARG_DIFF_WEIGHTS, dweights_.output()}});
    dweights_.store_add(s, dweights);
    s.wait();
  }

 private:
  dnnl::convolution_backward_weights::primitive_desc pd_;
  dnnl::convolution_backward_weights conv_;
  Edge src_, ddst_, dweights_;
};

tag activation_tag(ConvBackwardImpl impl) {
  switch (impl) {
    case ConvBackwardImpl::nhwc: return tag::nhwc;
    case ConvBackwardImpl::plain: return tag::nchw;
    default: return tag::any;
  }
}

dnnl::algorithm conv_algorithm(ConvBackwardImpl impl) {
  return impl == ConvBackwardImpl::winograd ? dnnl::algorithm::convolution_winograd
                                            : dnnl::algorithm::convolution_direct;
}

const char* impl_suffix(ConvBackwardImpl impl) {
  switch (impl) {
    case ConvBackwardImpl::nhwc: return " (nhwc)";
    case ConvBackwardImpl::plain: return " (nchw)";
    case ConvBackwardImpl::winograd: return " (winograd)";
    default: return " (blocked)";
  }
}

// Winograd F(4x4, 3x3) does 2.25x fewer multiplications; oneDNN has it for 3x3 stride 1.
// Measured (one thread, batch 8): about half the direct kernels' time in both directions from
// 16x16 outputs up (2.42 GFLOP layers: 17 -> 10 ms at 16x16x256, 21 -> 12 ms at 64x64x64,
// 57 -> 30 ms for backward-weights at 128x128x32), even or worse at 8x8, and worse with
// few input channels (46 vs 26 ms for backward-weights of 3 -> 32 at 256x256). Whole training
// steps agree: without Winograd in backward, csdarknet53-omega's step took 0.1-0.2 s longer.
bool wants_winograd(const ops::Conv2dDesc& d) {
  return d.kernel_h == 3 && d.kernel_w == 3 && d.stride_h == 1 && d.stride_w == 1 &&
         d.dilation == 1 && d.groups == 1 && d.in_c >= 16 && d.out_h * d.out_w >= 256;
}

// The automatic choices, from one-thread timings of csdarknet53-omega's layers at 256x256,
// batch 8: Winograd as above; otherwise the blocked kernels win every 3x3 layer in both
// directions, and sgemm every 1x1 layer (0.9x to 0.55x the blocked time: no reorders, no
// separate pass for the ADD). With few input channels the blocked backward-data kernel pads
// them to 16, and oneDNN's NCHW path (im2col + gemm) takes half its time (31 vs 57 ms for
// 3 -> 32 3x3 at 256x256).
ConvBackwardImpl automatic_impl(const ops::Conv2dDesc& d, bool data_pass) {
  if (is_plain_pointwise(d)) return ConvBackwardImpl::pointwise_gemm;
  if (wants_winograd(d)) return ConvBackwardImpl::winograd;
  if (data_pass && d.groups == 1 && d.in_c <= 4) return ConvBackwardImpl::plain;
  return ConvBackwardImpl::blocked;
}

// Builds the pass for `impl`; an automatic choice that this CPU's oneDNN cannot run (no
// Winograd kernel without AVX-512, say) falls back to the blocked direct kernels.
template <class Pass, class GemmPass, class PrimitivePass>
std::unique_ptr<Pass> make_pass(const ops::Conv2dDesc& d, ConvBackwardImpl impl,
                                bool data_pass) {
  const bool automatic = impl == ConvBackwardImpl::automatic;
  if (automatic) impl = automatic_impl(d, data_pass);
  if (impl == ConvBackwardImpl::pointwise_gemm && is_plain_pointwise(d))
    return std::make_unique<GemmPass>(d);
  auto build = [&d](ConvBackwardImpl l) {
    auto pass = std::make_unique<PrimitivePass>(
        ConvShapes(d, activation_tag(l), conv_algorithm(l)));
    pass->name += impl_suffix(l);
    return pass;
  };
  try {
    return build(impl);
  } catch (const dnnl::error&) {
    if (!automatic || impl == ConvBackwardImpl::blocked) throw;
  }
  return build(ConvBackwardImpl::blocked);
}

class DnnlConv2dBackward final : public ops::Conv2dBackwardOp {
 public:
  // Throws dnnl::error when oneDNN has no implementation for the description.
  DnnlConv2dBackward(const ops::Conv2dDesc& d, ConvBackwardImpl impl)
      : data_(make_pass<DataPass, GemmDataPass, PrimitiveDataPass>(d, impl, true)),
        weights_(make_pass<WeightsPass, GemmWeightsPass, PrimitiveWeightsPass>(d, impl,
                                                                               false)) {
    name_ = "onednn:" + data_->name + "/" + weights_->name;
  }

  void backward_data(const float* ddst, const float* weights, float* dsrc) override {
    data_->run(ddst, weights, dsrc);
  }
  void backward_weights(const float* src, const float* ddst, float* dweights) override {
    weights_->run(src, ddst, dweights);
  }
  const char* impl_name() const override { return name_.c_str(); }

 private:
  std::unique_ptr<DataPass> data_;
  std::unique_ptr<WeightsPass> weights_;
  std::string name_;
};

}  // namespace

std::unique_ptr<ops::Conv2dBackwardOp> make_conv2d_backward(const ops::Conv2dDesc& d,
                                                           ConvBackwardImpl impl) {
  try {
    return std::make_unique<DnnlConv2dBackward>(d, impl);
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

}  // namespace mishnet::dnnl_backend
