// [avgpool] (alias [avg]): global average over height and width, output 1x1xC. It has no
// options (Darknet's parse_avgpool reads none).
#include "mishnet/layer.h"
#include "ops/pool2d.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

class AvgpoolLayer final : public Layer {
 public:
  explicit AvgpoolLayer(const BuildContext& ctx) {
    input_shape = ctx.input;
    output_shape = Shape{1, input_shape.c, 1, 1};
  }

  const char* type() const override { return "avg"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const Shape& in = ctx.input.shape;
    ops::global_avgpool_forward(in.n, in.c, in.h * in.w, ctx.input.data, out.data);
  }

  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const Shape& in = ctx.input.shape;
    cuda::global_avgpool_forward(in.n, in.c, in.h * in.w, ctx.input.data, out.data, ctx.stream);
  }
#endif

  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    forward_cuda_as_inference(ctx, out);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const Shape& in = ctx.input_delta.shape;
    cuda::global_avgpool_backward(in.n, in.c, in.h * in.w, ctx.delta.data, ctx.input_delta.data,
                                  ctx.stream);
  }
#endif
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const Shape& in = ctx.input_delta.shape;
    ops::global_avgpool_backward(in.n, in.c, in.h * in.w, ctx.delta.data, ctx.input_delta.data);
  }
};

MISHNET_REGISTER_LAYER("avgpool", AvgpoolLayer);

}  // namespace mishnet
