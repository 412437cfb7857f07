// [upsample]: nearest-neighbour upsampling by `stride` (default 2), times `scale` (default 1).
// A negative stride downsamples as Darknet does: each output is the SUM (not the mean) of a
// |stride| x |stride| block, times scale.
#include "ops/upsample.h"

#include <cstdlib>
#include <string>

#include "mishnet/layer.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

class UpsampleLayer final : public Layer {
 public:
  explicit UpsampleLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    const int stride = s.get_int("stride", 2);
    scale_ = s.get_float("scale", 1.0f);
    if (stride == 0) s.fail_key("stride", "must not be 0 (negative strides downsample)");
    downsample_ = stride < 0;
    stride_ = std::abs(stride);
    if (downsample_) {
      // Darknet's indexing assumes whole blocks; other sizes would read the wrong cells.
      if (input_shape.w % stride_ != 0 || input_shape.h % stride_ != 0)
        s.fail_key("stride", "downsampling by " + std::to_string(stride_) + " needs the input " +
                                 std::to_string(input_shape.w) + "x" +
                                 std::to_string(input_shape.h) + " to be a multiple of it");
      output_shape = Shape{1, input_shape.c, input_shape.h / stride_, input_shape.w / stride_};
    } else {
      output_shape = Shape{1, input_shape.c, input_shape.h * stride_, input_shape.w * stride_};
    }
  }

  const char* type() const override { return downsample_ ? "downsample" : "upsample"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const int planes = out.shape.n * out.shape.c;
    if (downsample_)
      ops::downsample_sum_forward(planes, out.shape.h, out.shape.w, stride_, scale_, ctx.input.data,
                                  out.data);
    else if (output_blocked)
      ops::upsample_nearest_forward_blocked16(planes / 16, ctx.input.shape.h, ctx.input.shape.w,
                                              stride_, scale_, ctx.input.data, out.data);
    else
      ops::upsample_nearest_forward(planes, ctx.input.shape.h, ctx.input.shape.w, stride_, scale_,
                                    ctx.input.data, out.data);
  }

  BlockedSupport blocked_support() const override {
    return downsample_ ? BlockedSupport::none : BlockedSupport::follows;
  }

  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const int planes = out.shape.n * out.shape.c;
    if (downsample_)
      cuda::downsample_sum_forward(planes, out.shape.h, out.shape.w, stride_, scale_,
                                   ctx.input.data, out.data, ctx.stream);
    else
      cuda::upsample_nearest_forward(planes, ctx.input.shape.h, ctx.input.shape.w, stride_, scale_,
                                     ctx.input.data, out.data, ctx.stream);
  }
#endif

  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    forward_cuda_as_inference(ctx, out);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const int planes = ctx.delta.shape.n * ctx.delta.shape.c;
    if (downsample_)
      cuda::downsample_sum_backward(planes, ctx.delta.shape.h, ctx.delta.shape.w, stride_, scale_,
                                    ctx.delta.data, ctx.input_delta.data, ctx.stream);
    else
      cuda::upsample_nearest_backward(planes, ctx.input_delta.shape.h, ctx.input_delta.shape.w,
                                      stride_, scale_, ctx.delta.data, ctx.input_delta.data,
                                      ctx.stream);
  }
#endif
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  // Forward again on the same inputs gives the same output (training memory, layer.h).
  bool can_recompute_output() const override { return true; }
  void recompute_output(const ForwardContext& ctx, Tensor& out) override { forward(ctx, out); }

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const int planes = ctx.delta.shape.n * ctx.delta.shape.c;
    if (downsample_)
      ops::downsample_sum_backward(planes, ctx.delta.shape.h, ctx.delta.shape.w, stride_, scale_,
                                   ctx.delta.data, ctx.input_delta.data);
    else
      ops::upsample_nearest_backward(planes, ctx.input_delta.shape.h, ctx.input_delta.shape.w,
                                     stride_, scale_, ctx.delta.data, ctx.input_delta.data);
  }

  std::string summary_geometry() const override { return std::to_string(stride_) + "x"; }

 private:
  int stride_ = 2;
  bool downsample_ = false;
  float scale_ = 1.0f;
};

MISHNET_REGISTER_LAYER("upsample", UpsampleLayer);

}  // namespace mishnet
