// What [sam] and [scale_channels] share: out = activation(from * input), the product broadcast
// as ops::Broadcast says (element-wise for [sam], per channel or per pixel for
// [scale_channels]), with its backward on the CPU and on the GPU. Each layer parses its options,
// checks the shapes and says its broadcast (mode()).
//
// Darknet computes the activation's gradient from the output only, wrong for swish/mish, and
// [sam] overwrites the gradient of `from` instead of adding to it; mishnet recomputes (CPU) or
// keeps (GPU) the product for activations whose derivative reads the input, and adds.
#pragma once
#include <memory>
#include <vector>

#include "mishnet/layer.h"
#include "ops/activation_op.h"
#include "ops/broadcast_multiply.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

class BroadcastProductLayer : public Layer {
 public:
  void forward(const ForwardContext& ctx, Tensor& out) override {
    ops::broadcast_multiply_reference(ctx.outputs[size_t(from_)], ctx.input.data, mode(), out.data);
    ops::activate(activation_, out);
  }

  void backward(const BackwardContext& ctx) override {
    const Tensor& from = ctx.outputs[size_t(from_)];
    if (activation_ != Activation::linear) {
      const float* pre = nullptr;
      if (activation_needs(activation_) == ActivationNeeds::input) {
        pre_.resize(ctx.delta.size());
        ops::broadcast_multiply_reference(from, ctx.input.data, mode(), pre_.data());
        pre = pre_.data();
      }
      ops::activation_backward_reference(activation_, ctx.delta, pre, ctx.output.data);
    }
    ops::broadcast_multiply_backward_reference(ctx.delta.shape, mode(), ctx.delta.data, from.data,
                                               ctx.input.data, ctx.deltas[size_t(from_)].data,
                                               ctx.input_delta.data);
  }

  bool has_cuda_forward() const override { return true; }
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    forward_on_device(ctx.outputs[size_t(from_)], ctx.input, out, nullptr, ctx.stream);
  }

  // Training: the product is kept before the activation when its derivative reads the input
  // (the CPU recomputes it in backward instead: the same values).
  struct CudaTraining final : CudaLayerTraining {
    cuda::DeviceArray<float> pre_activation;
  };
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t) override {
    auto t = std::make_unique<CudaTraining>();
    if (activation_ != Activation::linear &&
        activation_needs(activation_) == ActivationNeeds::input)
      t->pre_activation = cuda::DeviceArray<float>(output_shape.per_image() * size_t(batch));
    return t;
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    forward_on_device(ctx.outputs[size_t(from_)], ctx.input, out, t.pre_activation.data(),
                      ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const Tensor& from = ctx.outputs[size_t(from_)];
    if (activation_ != Activation::linear)
      cuda::activation_backward(activation_, ctx.delta.shape, ctx.delta.data,
                                t.pre_activation.data(), ctx.output.data, ctx.stream);
    cuda::broadcast_multiply_backward(ctx.delta.shape, mode(), ctx.delta.data, from.data,
                                      ctx.input.data, ctx.deltas[size_t(from_)].data,
                                      ctx.input_delta.data, ctx.stream);
  }
#endif

 protected:
  virtual ops::Broadcast mode() const = 0;

  int from_ = 0;
  Activation activation_ = Activation::linear;

 private:
#if defined(MISHNET_HAVE_CUDA)
  // out = activation(from * input); `pre` (when not null) receives the product.
  void forward_on_device(const Tensor& from, const Tensor& input, Tensor& out, float* pre,
                         cuda::StreamHandle stream) {
    cuda::broadcast_multiply(from.shape, mode(), from.data, input.data, out.data, stream);
    if (pre) cuda::copy_on_device(pre, out.data, out.size() * sizeof(float), stream);
    if (activation_ != Activation::linear)
      cuda::activation_forward(activation_, out.shape, out.data, out.data, stream);
  }
#endif
  std::vector<float> pre_;  // the product before the activation, for its gradient (CPU)
};

}  // namespace mishnet
