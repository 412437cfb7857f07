// [batchnorm]: standalone batch normalisation (Darknet's batchnorm_layer.c), no options.
//
// .weights order (Darknet's load_batchnorm_weights): biases, scales, rolling_mean,
// rolling_variance, `channels` floats each. Inference normalises with the rolling statistics;
// training with the batch's, moving the rolling ones by 0.01 (Darknet's cuDNN and GPU paths;
// its CPU path uses 0.1). The math is ops/batchnorm_training.h.
#include <memory>
#include <vector>

#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/accumulate.h"
#include "ops/batchnorm_training.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

namespace {

constexpr float kRollingMomentum = 0.01f;

class BatchnormLayer final : public Layer {
 public:
  explicit BatchnormLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    output_shape = input_shape;
    const size_t c = size_t(input_shape.c);
    declare_param("biases", c);
    declare_batchnorm_params(c);
    // Darknet's load_batchnorm_weights reads all four blocks even with dontloadscales.
    if (s.get_bool("dontloadscales", false))
      for (Param& p : params) p.is_bn_scale = false;
  }

  const char* type() const override { return "batchnorm"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const float* scales = param("scales");
    const float* biases = param("biases");
    float* rolling_mean = param("rolling_mean");
    float* rolling_variance = param("rolling_variance");
    if (!ctx.training) {
      ops::batchnorm_inference_reference(ctx.input, scales, biases, rolling_mean, rolling_variance,
                                         out.data);
      have_batch_stats_ = false;
      return;
    }
    mean_.resize(size_t(input_shape.c));
    variance_.resize(size_t(input_shape.c));
    x_hat_.resize(ctx.input.size());
    ops::batchnorm_train_forward_reference(ctx.input, scales, biases, rolling_mean,
                                           rolling_variance, kRollingMomentum, buffers(), out.data);
    have_batch_stats_ = true;
  }

  // Inference with the rolling statistics, uploaded as they are.
  bool has_cuda_forward() const override { return true; }
  std::vector<std::span<const float>> cuda_parameters() override {
    std::vector<std::span<const float>> blocks;
    for (const char* name : {"scales", "biases", "rolling_mean", "rolling_variance"})
      blocks.emplace_back(param(name), size_t(input_shape.c));
    return blocks;
  }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    cuda::batchnorm_inference(ctx.input.shape, ctx.input.data, ctx.params[0], ctx.params[1],
                              ctx.params[2], ctx.params[3], out.data, ctx.stream);
  }
#endif

  // Training on the GPU: batch statistics, x_hat and the rolling update on the device, the
  // backward of the CPU path (dL/dx in place of dL/dy, then added to the input's gradient).
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  struct CudaTraining final : CudaLayerTraining {
    cuda::DeviceArray<float> x_hat, mean, variance;
  };
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t) override {
    auto t = std::make_unique<CudaTraining>();
    t->x_hat = cuda::DeviceArray<float>(output_shape.per_image() * size_t(batch));
    t->mean = cuda::DeviceArray<float>(size_t(input_shape.c));
    t->variance = cuda::DeviceArray<float>(size_t(input_shape.c));
    return t;
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    cuda::batchnorm_train_forward(ctx.input.shape, ctx.input.data, ctx.params[param_slot("scales")],
                                  ctx.params[param_slot("biases")],
                                  ctx.params[param_slot("rolling_mean")],
                                  ctx.params[param_slot("rolling_variance")], kRollingMomentum,
                                  t.mean.data(), t.variance.data(), t.x_hat.data(), out.data,
                                  ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const size_t sc = param_slot("scales"), b = param_slot("biases");
    cuda::batchnorm_backward(ctx.delta.shape, ctx.delta.data, ctx.params[sc], t.variance.data(),
                             t.x_hat.data(), ctx.grads[sc], ctx.grads[b], ctx.delta.data,
                             ctx.stream);
    if (ctx.input_delta.data)
      cuda::accumulate(ctx.delta.data, ctx.delta.size(), ctx.input_delta.data, ctx.stream);
  }
#endif

  void backward(const BackwardContext& ctx) override {
    if (!have_batch_stats_ || x_hat_.size() != ctx.delta.size())
      fail("[batchnorm] layer ", index, ": backward without a training forward before it");
    Param* scales = find_param("scales");
    Param* biases = find_param("biases");
    if (!scales->grad || !biases->grad)
      fail("[batchnorm] layer ", index, ": backward needs Network::set_training(true)");
    // dL/dx in place of dL/dy (the op allows it), then passed on.
    ops::batchnorm_backward_reference(ctx.delta.shape, ctx.delta.data, scales->data, buffers(),
                                      scales->grad, biases->grad, ctx.delta.data);
    if (ctx.input_delta.data)
      ops::accumulate_reference(ctx.delta.data, ctx.delta.size(), ctx.input_delta.data);
  }

  // Darknet adds nothing for [batchnorm] to its BFLOPS total.

 private:
  ops::BatchNormBuffers buffers() { return {mean_.data(), variance_.data(), x_hat_.data()}; }

  std::vector<float> mean_, variance_, x_hat_;
  bool have_batch_stats_ = false;
};

}  // namespace

MISHNET_REGISTER_LAYER("batchnorm", BatchnormLayer);

}  // namespace mishnet
