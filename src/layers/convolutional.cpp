// [convolutional]: convolution, optional batch norm, activation.
#include <iostream>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/activation_op.h"
#include "ops/batchnorm_activation.h"
#include "ops/batchnorm_training.h"
#include "ops/conv2d.h"
#include "ops/conv2d_backward.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/conv_geometry.h"
#include "backend/cuda/cudnn_convolution.h"
#include "layers/cuda_batchnorm_activation.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

class ConvolutionalLayer final : public Layer {
 public:
  explicit ConvolutionalLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    filters_ = s.get_int("filters", 1);
    size_ = s.get_int("size", 1);
    int stride = s.get_int("stride", 1);
    stride_x_ = s.get_int("stride_x", stride);
    stride_y_ = s.get_int("stride_y", stride);
    dilation_ = s.get_int("dilation", 1);
    groups_ = s.get_int("groups", 1);
    bool pad = s.get_bool("pad", false);
    padding_ = s.get_int("padding", pad ? size_ / 2 : 0);
    batch_normalize_ = s.get_bool("batch_normalize", false);
    activation_ = parse_activation_option(s, "logistic");
    rebuild_expensive_ = ctx.net.optimized_memory >= 1;
    workspace_limit_mb_ = ctx.net.workspace_size_limit_MB;
    mixed_precision_ = ctx.net.mixed_precision;
    // Accepted and ignored: weight-only tricks of Darknet that change nothing here.
    for (const char* k : {"flipped", "dot", "angle"}) s.accept(k);
    for (const char* k : {"binary", "xnor", "deform", "sway", "rotate", "stretch", "stretch_sway",
                          "antialiasing", "assisted_excitation", "share_index", "coordconv",
                          "cbn", "bin_output"})
      if (s.has(k) && s.get_int(k, 0) != 0) s.fail_key(k, "is not supported by mishnet");

    if (filters_ < 1) s.fail_key("filters", "must be at least 1");
    if (size_ < 1) s.fail_key("size", "must be at least 1");
    if (stride_x_ < 1 || stride_y_ < 1) s.fail_key("stride", "must be at least 1");
    if (dilation_ < 1) s.fail_key("dilation", "must be at least 1");
    if (groups_ < 1) s.fail_key("groups", "must be at least 1");
    if (padding_ < 0) s.fail_key("padding", "must not be negative");
    if (input_shape.c % groups_ != 0)
      s.fail_key("groups", "input channels (" + std::to_string(input_shape.c) +
                               ") are not divisible by groups (" + std::to_string(groups_) + ")");
    if (filters_ % groups_ != 0)
      s.fail_key("groups", "filters (" + std::to_string(filters_) +
                               ") are not divisible by groups (" + std::to_string(groups_) + ")");

    int span = dilation_ * (size_ - 1) + 1;
    int out_h = (input_shape.h + 2 * padding_ - span) / stride_y_ + 1;
    int out_w = (input_shape.w + 2 * padding_ - span) / stride_x_ + 1;
    if (input_shape.h + 2 * padding_ < span || input_shape.w + 2 * padding_ < span)
      s.fail_key("size", "kernel " + std::to_string(span) + " is larger than the padded input " +
                             std::to_string(input_shape.w) + "x" + std::to_string(input_shape.h));
    output_shape = Shape{1, filters_, out_h, out_w};

    size_t fan_in = size_t(input_shape.c / groups_) * size_t(size_) * size_t(size_);
    declare_param("biases", size_t(filters_));
    if (batch_normalize_) declare_batchnorm_params(size_t(filters_));
    declare_param("weights", size_t(filters_) * fan_in).fan_in = fan_in;
  }

  const char* type() const override { return "conv"; }
  Activation activation() const { return activation_; }
  bool batch_normalize() const { return batch_normalize_; }

  void set_training(bool on, int batch) override {
    training_ = on;
    if (!on) {
      x_hat_.clear();
      pre_activation_.clear();
      return;
    }
    if (!activation_is_elementwise(activation_))
      fail("layer ", index, " [convolutional]: activation ", activation_name(activation_),
           " acts across channels and cannot be trained yet");
    size_t out = output_shape.per_image() * size_t(batch);
    if (batch_normalize_) {
      x_hat_.assign(out, 0.0f);
      batch_mean_.assign(size_t(filters_), 0.0f);
      batch_variance_.assign(size_t(filters_), 0.0f);
    } else if (activation_needs(activation_) == ActivationNeeds::input) {
      // Without batch norm the pre-activation cannot be recomputed from x_hat: keep it.
      pre_activation_.assign(out, 0.0f);
    }
    zero_bias_.assign(size_t(filters_), 0.0f);
  }

  void prepare(BackendKind backend) override {
    if (training_) {
      // No folding while training: batch norm runs on batch statistics.
      ops::Conv2dDesc d = describe(batch_hint_);
      d.activation = Activation::linear;
      d.weights_change_every_step = true;
      if (!train_op_ || train_batch_ != batch_hint_ || backend != backend_) {
        train_op_ = ops::make_conv2d(d, backend);
        backward_op_ = ops::make_conv2d_backward(d, backend);
        train_batch_ = batch_hint_;
        backend_ = backend;
      }
      train_op_->set_weights(param("weights"),
                             batch_normalize_ ? zero_bias_.data() : param("biases"));
      return;
    }
    // Fold batch norm into the weights and bias: inference then is one convolution.
    ops::fold_batchnorm(filters_, params.back().count / size_t(filters_), param("weights"),
                        param("biases"), batch_normalize_ ? param("scales") : nullptr,
                        batch_normalize_ ? param("rolling_mean") : nullptr,
                        batch_normalize_ ? param("rolling_variance") : nullptr, folded_weights_,
                        folded_bias_);
    // The CUDA forward reads the folded blocks (uploaded by the network) and keeps the CPU op.
    if (backend == BackendKind::cuda) return;
    if (!op_ || backend != backend_ || op_batch_ != batch_hint_ ||
        op_src_blocked_ != input_blocked || op_dst_blocked_ != output_blocked) {
      ops::Conv2dDesc d = describe(batch_hint_);
      d.src_blocked = op_src_blocked_ = input_blocked;
      d.dst_blocked = op_dst_blocked_ = output_blocked;
      op_ = ops::make_conv2d(d, backend);
      backend_ = backend;
      op_batch_ = batch_hint_;
    }
    op_->set_weights(folded_weights_.data(), folded_bias_.data());
  }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    if (ctx.training) {
      if (!train_op_ || train_batch_ != out.shape.n) {
        batch_hint_ = out.shape.n;
        prepare(backend_);
      }
      train_op_->forward(ctx.input.data, out.data);
      if (fused_batchnorm_activation()) {
        ops::BatchNormBuffers buf{batch_mean_.data(), batch_variance_.data(), x_hat_.data()};
        ops::batchnorm_activation_train_forward(activation_, out, param("scales"), param("biases"),
                                                param("rolling_mean"), param("rolling_variance"),
                                                0.01f, buf, out.data);
        return;
      }
      if (batch_normalize_) {
        ops::BatchNormBuffers buf{batch_mean_.data(), batch_variance_.data(), x_hat_.data()};
        ops::batchnorm_train_forward_reference(out, param("scales"), param("biases"),
                                               param("rolling_mean"), param("rolling_variance"),
                                               0.01f, buf, out.data);
      } else if (!pre_activation_.empty()) {
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
    if (!op_->fused_activation()) ops::activate(activation_, out);
  }

  // The op reads and writes either layout; an activation it does not fuse runs after it,
  // element by element, which is the same in any layout.
  BlockedSupport blocked_support() const override {
    return activation_is_elementwise(activation_) ? BlockedSupport::any : BlockedSupport::none;
  }

  // cuDNN convolution with the folded weights; bias and activation fused into cuDNN's call
  // (relu, linear) or applied in one pass after it (backend/cuda/conv_epilogue.h).
  bool has_cuda_forward() const override { return true; }
  std::vector<std::span<const float>> cuda_parameters() override {
    return {folded_weights_, folded_bias_};
  }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    if (!cudnn_ || cudnn_batch_ != out.shape.n) {
      cudnn_ = std::make_unique<cuda::CudnnConvolution>(
          describe(out.shape.n), cuda::workspace_limit_bytes(workspace_limit_mb_),
          cuda::CudnnConvolution::Directions::forward_only);
      cudnn_batch_ = out.shape.n;
    }
    cudnn_->forward_activation(ctx.input.data, ctx.params[0], ctx.params[1], activation_,
                               out.data, ctx.stream);
  }
#endif

  // Training on the GPU (docs/gpu.md): cuDNN forward, batch norm on batch statistics with x_hat
  // kept, the activation; backward recomputes the pre-activation from x_hat (memory-efficient
  // Mish) as the CPU does, then batch norm, bias, cuDNN backward-filter and backward-data.
  bool has_cuda_backward() const override { return activation_is_elementwise(activation_); }
#if defined(MISHNET_HAVE_CUDA)
  struct CudaTraining final : CudaLayerTraining {
    CudaTraining(bool bn, Activation a, size_t floats, int channels)
        : after(bn, a, floats, channels) {}
    std::unique_ptr<cuda::CudnnConvolution> conv;
    cuda::BatchNormActivationTraining after;  // batch norm / bias and the activation
  };
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t limit) override {
    auto t = std::make_unique<CudaTraining>(batch_normalize_, activation_,
                                            output_shape.per_image() * size_t(batch), filters_);
    const ops::Conv2dDesc d = describe(batch);
    t->conv = std::make_unique<cuda::CudnnConvolution>(d, limit,
                                                       cuda::CudnnConvolution::Directions::all,
                                                       training_precision(d));
    return t;
  }
  // [net] mixed_precision=1: half precision where cuDNN's tensor cores take this convolution;
  // otherwise float32 with one note on stderr (once per process and reason, not per GPU or
  // multi-scale rebuild).
  cuda::ConvPrecision training_precision(const ops::Conv2dDesc& d) const {
    if (!mixed_precision_) return cuda::ConvPrecision::float32;
    const cuda::HalfConvolutionSupport s = cuda::half_convolution_support(cuda::conv_geometry(d));
    if (s.supported) return cuda::ConvPrecision::half;
    const std::string note = cuda::half_fallback_note(index, s.reason);
    if (cuda::first_time_noted(note)) std::cerr << note << "\n";
    return cuda::ConvPrecision::float32;
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const float* biases = ctx.params[param_slot("biases")];
    t.conv->forward(ctx.input.data, ctx.params[param_slot("weights")],
                    batch_normalize_ ? nullptr : biases, out.data, ctx.stream);
    t.after.forward(out, cuda::batchnorm_activation_params(*this, batch_normalize_, ctx.params, {}),
                    ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    t.after.backward(ctx.delta, ctx.output.data,
                     cuda::batchnorm_activation_params(*this, batch_normalize_, ctx.params,
                                                       ctx.grads),
                     ctx.stream);
    const size_t w = param_slot("weights");
    t.conv->backward_filter(ctx.input.data, ctx.delta.data, ctx.grads[w], ctx.stream);
    if (ctx.input_delta.data)
      t.conv->backward_data(ctx.delta.data, ctx.params[w], ctx.input_delta.data, ctx.stream);
  }
#endif

  // The fused batch norm + activation backward takes f' from x_hat, not from the output.
  bool backward_reads_output() const override { return !fused_batchnorm_activation(); }
  // With the fused path the output is act(scales·x_hat + biases): rebuilt from x_hat, one pass.
  // For Mish, Swish and the logistic that pass costs about as much as the memory is worth (a
  // fifth of csdarknet53-omega's step): only with [net] optimized_memory >= 1.
  bool can_recompute_output() const override {
    const bool cheap = activation_ == Activation::linear || activation_ == Activation::relu ||
                       activation_ == Activation::leaky;
    return training_ && fused_batchnorm_activation() && (cheap || rebuild_expensive_);
  }
  bool recompute_reads_inputs() const override { return false; }
  void recompute_output(const ForwardContext&, Tensor& out) override {
    if (!can_recompute_output())
      fail("layer ", index, " [convolutional]: its output cannot be rebuilt (no fused batch norm)");
    ops::batchnorm_activation_apply(activation_, out.shape, x_hat_.data(), param("scales"),
                                    param("biases"), out.data);
  }

  void backward(const BackwardContext& ctx) override {
    Tensor delta = ctx.delta;
    Param* biases = find_param("biases");
    if (fused_batchnorm_activation()) {
      ops::BatchNormBuffers buf{batch_mean_.data(), batch_variance_.data(), x_hat_.data()};
      ops::batchnorm_activation_backward(activation_, delta.shape, delta.data, param("scales"),
                                         biases->data, buf, find_param("scales")->grad,
                                         biases->grad);
    } else if (batch_normalize_) {
      ops::activation_backward_from_batchnorm_reference(activation_, delta.shape, delta.data,
                                                        x_hat_.data(), param("scales"),
                                                        param("biases"), ctx.output.data);
      ops::BatchNormBuffers buf{batch_mean_.data(), batch_variance_.data(), x_hat_.data()};
      ops::batchnorm_backward_reference(delta.shape, delta.data, param("scales"), buf,
                                        find_param("scales")->grad, biases->grad, delta.data);
    } else {
      ops::activation_backward_reference(activation_, delta,
                                         pre_activation_.empty() ? nullptr : pre_activation_.data(),
                                         ctx.output.data);
      ops::bias_backward_reference(delta.shape, delta.data, biases->grad);
    }
    backward_op_->backward_weights(ctx.input.data, delta.data, find_param("weights")->grad);
    if (ctx.input_delta.data)
      backward_op_->backward_data(delta.data, param("weights"), ctx.input_delta.data);
  }

  double bflops() const override {
    return 2.0 * double(params.back().count) * output_shape.h * output_shape.w / 1e9;
  }
  std::string summary_filters() const override {
    return std::to_string(filters_) + (groups_ > 1 ? "/" + std::to_string(groups_) : "");
  }
  std::string summary_geometry() const override {
    std::string g = std::to_string(size_) + "x" + std::to_string(size_) + "/" +
                    (stride_x_ == stride_y_ ? std::to_string(stride_x_)
                                            : std::to_string(stride_x_) + "x" + std::to_string(stride_y_));
    if (dilation_ > 1) g += " d" + std::to_string(dilation_);
    return g;
  }

  // Batch norm and activation in one fused CPU op (the reference backend keeps the separate
  // reference ops, which the fused one is tested against).
  bool fused_batchnorm_activation() const {
    return batch_normalize_ && backend_ != BackendKind::reference &&
           ops::batchnorm_activation_fusable(activation_);
  }

  ops::Conv2dDesc describe(int batch) const {
    ops::Conv2dDesc d;
    d.batch = batch;
    d.in_c = input_shape.c;
    d.in_h = input_shape.h;
    d.in_w = input_shape.w;
    d.out_c = output_shape.c;
    d.out_h = output_shape.h;
    d.out_w = output_shape.w;
    d.kernel_h = d.kernel_w = size_;
    d.stride_h = stride_y_;
    d.stride_w = stride_x_;
    d.pad_h = d.pad_w = padding_;
    d.dilation = dilation_;
    d.groups = groups_;
    d.activation = activation_;
    return d;
  }

 private:
  int filters_ = 1, size_ = 1, stride_x_ = 1, stride_y_ = 1, dilation_ = 1, groups_ = 1;
  int padding_ = 0;
  bool batch_normalize_ = false;
  bool rebuild_expensive_ = false;  // [net] optimized_memory >= 1
  double workspace_limit_mb_ = 1024.0;  // [net] workspace_size_limit_MB
  bool mixed_precision_ = false;        // [net] mixed_precision: half convolutions on the GPU
  Activation activation_ = Activation::logistic;
  std::vector<float> folded_weights_, folded_bias_;
  std::unique_ptr<ops::Conv2dOp> op_;
  // Training
  bool training_ = false;
  std::unique_ptr<ops::Conv2dOp> train_op_;
  std::unique_ptr<ops::Conv2dBackwardOp> backward_op_;
  int train_batch_ = 0;
  std::vector<float> x_hat_, batch_mean_, batch_variance_, pre_activation_, zero_bias_;
  BackendKind backend_ = BackendKind::cpu;
  int op_batch_ = 0;
  bool op_src_blocked_ = false, op_dst_blocked_ = false;  // the layouts op_ was built for
  int batch_hint_ = 1;
#if defined(MISHNET_HAVE_CUDA)
  std::unique_ptr<cuda::CudnnConvolution> cudnn_;
  int cudnn_batch_ = 0;
#endif
};

MISHNET_REGISTER_LAYER("convolutional", ConvolutionalLayer);

}  // namespace mishnet
