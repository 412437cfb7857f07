// [activation]: a standalone activation function (Darknet's activation_layer.c), `activation=`
// (default linear); the output has the input's shape.
//
// Darknet's CPU activate() has no case for swish, mish, hard_mish, relu6 or the
// normalize_channels family and returns 0 for them in this layer; mishnet applies the function
// the cfg names (as OpenCV's importer does), with its exact gradient.
#include <algorithm>

#include "mishnet/layer.h"
#include "ops/accumulate.h"
#include "ops/activation_op.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

namespace {

class ActivationLayer final : public Layer {
 public:
  explicit ActivationLayer(const BuildContext& ctx) {
    input_shape = ctx.input;
    output_shape = input_shape;
    activation_ = parse_activation_option(ctx.section, "linear");
  }

  const char* type() const override { return "activation"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    std::copy(ctx.input.data, ctx.input.data + out.size(), out.data);
    ops::activate(activation_, out);
  }

  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    cuda::activation_forward(activation_, out.shape, ctx.input.data, out.data, ctx.stream);
  }
#endif

  // Training on the GPU: the activation kernels, the derivative from the kept input and output.
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    cuda::activation_forward(activation_, out.shape, ctx.input.data, out.data, ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    cuda::activation_backward(activation_, ctx.delta.shape, ctx.delta.data, ctx.input.data,
                              ctx.output.data, ctx.stream);
    cuda::accumulate(ctx.delta.data, ctx.delta.size(), ctx.input_delta.data, ctx.stream);
  }
#endif

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    ops::activation_backward_reference(activation_, ctx.delta, ctx.input.data, ctx.output.data);
    ops::accumulate_reference(ctx.delta.data, ctx.delta.size(), ctx.input_delta.data);
  }

 private:
  Activation activation_ = Activation::linear;
};

}  // namespace

MISHNET_REGISTER_LAYER("activation", ActivationLayer);

}  // namespace mishnet
