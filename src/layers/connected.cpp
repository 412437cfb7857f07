// [connected]: fully connected layer, optional batch norm, activation.
//
// .weights order (Darknet's load_connected_weights): biases, weights[outputs*inputs], then
// scales, rolling_mean, rolling_variance when batch_normalize (unlike [convolutional], where the
// batch-norm blocks come before the weights).
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/activation_op.h"
#include "ops/batchnorm_training.h"
#include "ops/inner_product.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cublas_inner_product.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#include "layers/cuda_batchnorm_activation.h"
#endif

namespace mishnet {

namespace {

class ConnectedLayer final : public Layer {
 public:
  explicit ConnectedLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    outputs_ = s.get_int("output", 1);
    if (outputs_ < 1) s.fail_key("output", "must be at least 1");
    activation_ = parse_activation_option(s, "logistic");
    batch_normalize_ = s.get_bool("batch_normalize", false);
    inputs_ = int(input_shape.per_image());
    output_shape = Shape{1, outputs_, 1, 1};

    declare_param("biases", size_t(outputs_));
    declare_param("weights", size_t(outputs_) * size_t(inputs_)).fan_in = size_t(inputs_);
    if (batch_normalize_) declare_batchnorm_params(size_t(outputs_));
  }

  const char* type() const override { return "connected"; }

  void set_training(bool on, int batch) override {
    training_ = on;
    if (!on) return;
    if (!activation_is_elementwise(activation_))
      fail("layer ", index, " [connected]: activation ", activation_name(activation_),
           " acts across channels and cannot be trained yet");
    const size_t out = size_t(outputs_) * size_t(batch);
    if (batch_normalize_) {
      x_hat_.assign(out, 0.0f);
      batch_mean_.assign(size_t(outputs_), 0.0f);
      batch_variance_.assign(size_t(outputs_), 0.0f);
    } else {
      pre_activation_.assign(out, 0.0f);
    }
  }

  void prepare(BackendKind backend) override {
    if (training_) return;  // training uses the raw weights, nothing to fold
    // Fold batch norm: y = m*(Wx - mean) + bias = (m*W)x + (bias - m*mean), m = scale/sqrt(var+eps).
    ops::fold_batchnorm(outputs_, size_t(inputs_), param("weights"), param("biases"),
                        batch_normalize_ ? param("scales") : nullptr,
                        batch_normalize_ ? param("rolling_mean") : nullptr,
                        batch_normalize_ ? param("rolling_variance") : nullptr, folded_weights_,
                        folded_bias_);
    if (backend == BackendKind::cuda) return;  // the CUDA forward reads the folded blocks
    if (!op_ || backend != backend_ || op_batch_ != batch_hint_) {
      ops::InnerProductDesc d;
      d.batch = batch_hint_;
      d.inputs = inputs_;
      d.outputs = outputs_;
      op_ = ops::make_inner_product(d, backend);
      backend_ = backend;
      op_batch_ = batch_hint_;
    }
    op_->set_weights(folded_weights_.data(), folded_bias_.data());
  }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    if (ctx.training) {
      ops::InnerProductDesc d{out.shape.n, inputs_, outputs_};
      // Batch norm supplies the offset, so the bias is added only without it.
      ops::inner_product_reference(d, ctx.input.data, param("weights"),
                                   batch_normalize_ ? nullptr : param("biases"), out.data);
      if (batch_normalize_) {
        ops::BatchNormBuffers buf{batch_mean_.data(), batch_variance_.data(), x_hat_.data()};
        ops::batchnorm_train_forward_reference(out, param("scales"), param("biases"),
                                               param("rolling_mean"), param("rolling_variance"),
                                               0.01f, buf, out.data);
      } else {
        std::copy(out.data, out.data + out.size(), pre_activation_.begin());
      }
      ops::activate(activation_, out);
      return;
    }
    if (!op_ || op_batch_ != out.shape.n) {
      batch_hint_ = out.shape.n;
      prepare(backend_);
    }
    op_->forward(ctx.input.data, out.data);
    ops::activate(activation_, out);
  }

  // cuBLAS sgemm with the folded weights and bias, then the activation kernel.
  bool has_cuda_forward() const override { return true; }
  std::vector<std::span<const float>> cuda_parameters() override {
    return {folded_weights_, folded_bias_};
  }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const ops::InnerProductDesc d{out.shape.n, inputs_, outputs_};
    if (!activation_is_elementwise(activation_)) {
      cuda::inner_product_forward(d, ctx.input.data, ctx.params[0], ctx.params[1], out.data,
                                  ctx.stream);
      cuda::activation_forward(activation_, out.shape, out.data, out.data, ctx.stream);
      return;
    }
    // The bias and the activation in one pass after the sgemm.
    cuda::inner_product_forward(d, ctx.input.data, ctx.params[0], nullptr, out.data, ctx.stream);
    cuda::bias_activation_forward(activation_, out.shape, out.data, ctx.params[1], ctx.stream);
  }
#endif

  // Training on the GPU: cuBLAS sgemm without folding, batch norm on batch statistics (x_hat
  // kept), and the backward of the CPU path (pre-activation recomputed from x_hat).
  bool has_cuda_backward() const override { return activation_is_elementwise(activation_); }
#if defined(MISHNET_HAVE_CUDA)
  struct CudaTraining final : CudaLayerTraining {
    CudaTraining(bool bn, Activation a, size_t floats, int channels)
        : after(bn, a, floats, channels) {}
    cuda::BatchNormActivationTraining after;  // batch norm / bias and the activation
  };
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t) override {
    return std::make_unique<CudaTraining>(batch_normalize_, activation_,
                                          size_t(outputs_) * size_t(batch), outputs_);
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const ops::InnerProductDesc d{out.shape.n, inputs_, outputs_};
    const float* biases = ctx.params[param_slot("biases")];
    cuda::inner_product_forward(d, ctx.input.data, ctx.params[param_slot("weights")],
                                batch_normalize_ ? nullptr : biases, out.data, ctx.stream);
    t.after.forward(out, cuda::batchnorm_activation_params(*this, batch_normalize_, ctx.params, {}),
                    ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const Tensor& delta = ctx.delta;
    t.after.backward(delta, ctx.output.data,
                     cuda::batchnorm_activation_params(*this, batch_normalize_, ctx.params,
                                                       ctx.grads),
                     ctx.stream);
    const ops::InnerProductDesc d{delta.shape.n, inputs_, outputs_};
    const size_t w = param_slot("weights");
    cuda::inner_product_backward_weights(d, ctx.input.data, delta.data, ctx.grads[w], ctx.stream);
    if (ctx.input_delta.data)
      cuda::inner_product_backward_data(d, delta.data, ctx.params[w], ctx.input_delta.data,
                                        ctx.stream);
  }
#endif

  void backward(const BackwardContext& ctx) override {
    Tensor delta = ctx.delta;
    if (batch_normalize_) {
      ops::activation_backward_from_batchnorm_reference(activation_, delta.shape, delta.data,
                                                        x_hat_.data(), param("scales"),
                                                        param("biases"), ctx.output.data);
      ops::BatchNormBuffers buf{batch_mean_.data(), batch_variance_.data(), x_hat_.data()};
      ops::batchnorm_backward_reference(delta.shape, delta.data, param("scales"), buf,
                                        find_param("scales")->grad, find_param("biases")->grad,
                                        delta.data);
    } else {
      ops::activation_backward_reference(activation_, delta, pre_activation_.data(),
                                         ctx.output.data);
      ops::bias_backward_reference(delta.shape, delta.data, find_param("biases")->grad);
    }
    ops::InnerProductDesc d{delta.shape.n, inputs_, outputs_};
    ops::inner_product_backward_weights_reference(d, ctx.input.data, delta.data,
                                                  find_param("weights")->grad);
    if (ctx.input_delta.data)
      ops::inner_product_backward_data_reference(d, delta.data, param("weights"),
                                                 ctx.input_delta.data);
  }

  double bflops() const override { return 2.0 * double(inputs_) * double(outputs_) / 1e9; }
  std::string summary_filters() const override { return std::to_string(outputs_); }

 private:
  int inputs_ = 0, outputs_ = 1;
  bool batch_normalize_ = false;
  Activation activation_ = Activation::logistic;
  std::vector<float> folded_weights_, folded_bias_;
  bool training_ = false;
  std::vector<float> x_hat_, batch_mean_, batch_variance_, pre_activation_;
  std::unique_ptr<ops::InnerProductOp> op_;
  BackendKind backend_ = BackendKind::cpu;
  int op_batch_ = 0;
  int batch_hint_ = 1;
};

}  // namespace

MISHNET_REGISTER_LAYER("connected", ConnectedLayer);

}  // namespace mishnet
