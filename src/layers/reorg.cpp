// [reorg] and [reorg3d]: Darknet's two reorg layers, both one permutation of the input floats.
//
// Darknet names them the other way round from what one expects: [reorg3d] is its REORG type
// (reorg_layer.c) and [reorg] is REORG_OLD (reorg_old_layer.c, the YOLOv2 one). Both call
// blas.c reorg_cpu (ops/reorg.h) and differ only in the dimensions they give it:
//   [reorg3d] the OUTPUT's dimensions. reverse=0 is then a true space-to-depth
//             (out[k][j][i] = in[k % c][j*s + (k/c)/s][i*s + (k/c)%s]); reverse=1 is NOT its
//             inverse: it reinterprets both buffers (needs channels divisible by stride^4).
//   [reorg]   the INPUT's dimensions. reverse=1 is then a true depth-to-space (the inverse of
//             [reorg3d] reverse=0); reverse=0 reads the input as (c/s^2, h*s, w*s) and writes
//             the output as (c, h, w), the well-known "not quite space-to-depth" of YOLOv2, which
//             OpenCV's Reorg layer reproduces.
// The output shape is (c*s^2, h/s, w/s), or (c/s^2, h*s, w*s) with reverse=1, for both.
#include "ops/reorg.h"

#include <string>

#include "mishnet/error.h"
#include "mishnet/layer.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

namespace {

enum class ReorgVariant { reorg, reorg3d };

class ReorgLayer final : public Layer {
 public:
  ReorgLayer(const BuildContext& ctx, ReorgVariant variant) : variant_(variant) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    stride_ = s.get_int("stride", 1);
    reverse_ = s.get_int("reverse", 0) != 0;
    if (stride_ < 1) s.fail_key("stride", "must be at least 1, got " + std::to_string(stride_));

    const Shape in = input_shape;
    const int s2 = stride_ * stride_;
    if (!reverse_) {
      if (in.h % stride_ != 0 || in.w % stride_ != 0)
        s.fail_key("stride", "the input " + std::to_string(in.w) + "x" + std::to_string(in.h) +
                                 " is not divisible by stride " + std::to_string(stride_) +
                                 " (Darknet misreads or overruns its buffers then)");
      output_shape = Shape{1, in.c * s2, in.h / stride_, in.w / stride_};
    } else {
      if (in.c % s2 != 0)
        s.fail_key("reverse",
                   "the input's " + std::to_string(in.c) +
                       " channels are not divisible by stride^2 = " + std::to_string(s2));
      output_shape = Shape{1, in.c / s2, in.h * stride_, in.w * stride_};
    }
    // Darknet's reorg_cpu needs the channels of the view it is given to divide by stride^2:
    // the input's for [reorg], the output's (c/s^2 with reverse=1) for [reorg3d].
    if (geometry_shape().c % s2 != 0) {
      if (variant_ == ReorgVariant::reorg)
        s.fail_key("stride", "the input's " + std::to_string(in.c) +
                                 " channels are not divisible by stride^2 = " + std::to_string(s2));
      s.fail_key("reverse", "reverse=1 needs the input's channels (" + std::to_string(in.c) +
                                ") divisible by stride^4 = " + std::to_string(s2 * s2));
    }
  }

  const char* type() const override {
    return variant_ == ReorgVariant::reorg3d ? "reorg3d" : "reorg";
  }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const ops::ReorgGeometry g = geometry(out.shape.n);
    if (space_to_depth())
      ops::reorg_space_to_depth_reference(g, ctx.input.data, out.data);
    else
      ops::reorg_depth_to_space_reference(g, ctx.input.data, out.data);
  }

  bool has_cuda_forward() const override { return true; }
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const ops::ReorgGeometry g = geometry(out.shape.n);
    if (space_to_depth())
      cuda::reorg_space_to_depth(g, ctx.input.data, out.data, false, ctx.stream);
    else
      cuda::reorg_depth_to_space(g, ctx.input.data, out.data, false, ctx.stream);
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    forward_cuda_as_inference(ctx, out);
  }
  // As backward(): the inverse permutation, added.
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const ops::ReorgGeometry g = geometry(ctx.delta.shape.n);
    if (space_to_depth())
      cuda::reorg_depth_to_space(g, ctx.delta.data, ctx.input_delta.data, true, ctx.stream);
    else
      cuda::reorg_space_to_depth(g, ctx.delta.data, ctx.input_delta.data, true, ctx.stream);
  }
#endif

  // The gradient of a permutation is the inverse permutation.
  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const ops::ReorgGeometry g = geometry(ctx.delta.shape.n);
    if (space_to_depth())
      ops::reorg_depth_to_space_reference(g, ctx.delta.data, ctx.input_delta.data, true);
    else
      ops::reorg_space_to_depth_reference(g, ctx.delta.data, ctx.input_delta.data, true);
  }

  std::string summary_geometry() const override {
    return "/" + std::to_string(stride_) + (reverse_ ? " rev" : "");
  }

 private:
  // The input is the space view and the output the depth view (else the other way round).
  bool space_to_depth() const { return !reverse_; }

  // The (c, h, w) that Darknet passes to reorg_cpu: the output's for [reorg3d], the input's
  // for [reorg].
  Shape geometry_shape() const {
    return variant_ == ReorgVariant::reorg3d ? output_shape : input_shape;
  }

  ops::ReorgGeometry geometry(int batch) const {
    const Shape v = geometry_shape();
    return ops::ReorgGeometry{batch, v.c, v.h, v.w, stride_};
  }

  ReorgVariant variant_;
  int stride_ = 1;
  bool reverse_ = false;
};

LayerRegistrar register_reorg("reorg", [](const BuildContext& ctx) -> std::unique_ptr<Layer> {
  return std::make_unique<ReorgLayer>(ctx, ReorgVariant::reorg);
});
LayerRegistrar register_reorg3d("reorg3d", [](const BuildContext& ctx) -> std::unique_ptr<Layer> {
  return std::make_unique<ReorgLayer>(ctx, ReorgVariant::reorg3d);
});

}  // namespace

}  // namespace mishnet
