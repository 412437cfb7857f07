// [shortcut]: out = activation(w_0 * previous + sum_j w_(j+1) * from_j). `from` names one or
// more earlier layers; `weights_type` = none | per_feature (= per_layer: one weight per input)
// | per_channel (one per input and channel), `weights_normalization` = none | relu (= avg_relu)
// | softmax across the inputs. The weights follow the layer in .weights, input-major, and start
// at 1. Inputs of another shape follow Darknet's flat-index rule (see ops/shortcut.h).
#include "ops/shortcut.h"

#include <iostream>
#include <string>
#include <vector>

#include "layers/option_checks.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/activation_op.h"
// Declarations only (no CUDA types): has_cuda_forward reads kMaxShortcutInputs in every build.
#include "backend/cuda/cuda_ops.h"
#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

namespace {

std::string shape_text(const Shape& s) {
  return std::to_string(s.w) + "x" + std::to_string(s.h) + "x" + std::to_string(s.c);
}

}  // namespace

class ShortcutLayer final : public Layer {
 public:
  explicit ShortcutLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    output_shape = input_shape;
    activation_ = parse_activation_option(s, "linear");
    desc_.weights = option_checks::parse_choice<ops::ShortcutWeights>(
        s, "weights_type", "none",
        {{"none", ops::ShortcutWeights::none},
         {"per_feature", ops::ShortcutWeights::per_feature},
         {"per_layer", ops::ShortcutWeights::per_feature},
         {"per_channel", ops::ShortcutWeights::per_channel}});
    desc_.normalization = option_checks::parse_choice<ops::ShortcutNormalization>(
        s, "weights_normalization", "none",
        {{"none", ops::ShortcutNormalization::none},
         {"relu", ops::ShortcutNormalization::relu},
         {"avg_relu", ops::ShortcutNormalization::relu},
         {"softmax", ops::ShortcutNormalization::softmax}});

    std::vector<int> refs = s.get_ints("from");
    if (refs.empty()) s.fail_key("from", "is required: the layer(s) to add to the previous one");
    inputs.push_back(ctx.index - 1);
    for (int ref : refs) {
      const int src = ctx.resolve_layer(ref, "from");
      from_.push_back(src);
      inputs.push_back(src);
      const Shape& f = ctx.outputs[size_t(src)];
      desc_.from_sizes.push_back(int(f.per_image()));
      // Darknet adds flat CHW positions; with another width/height they do not line up.
      if (f.w != input_shape.w || f.h != input_shape.h)
        std::cerr << "warning: " << s.file << ':' << s.line << ": [shortcut] adds layer " << src
                  << " (" << shape_text(f) << ") to " << shape_text(input_shape)
                  << " by flat position, as Darknet does\n";
    }
    desc_.channels = input_shape.c;
    desc_.spatial = input_shape.h * input_shape.w;
    if (desc_.weights_count() > 0)
      declare_param("weights", desc_.weights_count()).init_value = 1.0f;
  }

  const char* type() const override { return "shortcut"; }

  // Unweighted sums of equal shapes are element by element, the same in any layout.
  BlockedSupport blocked_support() const override {
    if (desc_.weights != ops::ShortcutWeights::none || !activation_is_elementwise(activation_))
      return BlockedSupport::none;
    for (int size : desc_.from_sizes)
      if (size_t(size) != input_shape.per_image()) return BlockedSupport::none;
    return BlockedSupport::follows;
  }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    ops::ShortcutDesc d = desc_;
    d.batch = out.shape.n;
    std::vector<const float*> from;
    for (int src : from_) from.push_back(ctx.outputs[size_t(src)].data);
    ops::shortcut_forward(d, ctx.input.data, from.data(), weights(), out.data);
    if (ctx.training && activation_needs(activation_) == ActivationNeeds::input)
      pre_activation_.assign(out.data, out.data + out.size());
    ops::activate(activation_, out);
  }

  // The kernel takes the `from` pointers as parameters: at most kMaxShortcutInputs of them.
  bool has_cuda_forward() const override {
    return from_.size() <= size_t(cuda::kMaxShortcutInputs);
  }
  std::vector<std::span<const float>> cuda_parameters() override {
    if (params.empty()) return {};
    effective_weights_ = ops::shortcut_effective_weights(desc_, weights());
    return {effective_weights_};
  }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    ops::ShortcutDesc d = desc_;
    d.batch = out.shape.n;
    const float* from[cuda::kMaxShortcutInputs] = {};
    for (size_t j = 0; j < from_.size(); ++j) from[j] = ctx.outputs[size_t(from_[j])].data;
    cuda::shortcut_forward(d, ctx.input.data, from, params.empty() ? nullptr : ctx.params[0],
                           out.data, ctx.stream);
    if (activation_ != Activation::linear)
      cuda::activation_forward(activation_, out.shape, out.data, out.data, ctx.stream);
  }
#endif

  // Training on the GPU: the raw weights live (and are updated) on the device, so the effective
  // weights are computed there in each forward and kept for backward.
  bool has_cuda_backward() const override { return has_cuda_forward(); }
#if defined(MISHNET_HAVE_CUDA)
  struct CudaTraining final : CudaLayerTraining {
    cuda::DeviceArray<float> pre_activation;
    cuda::DeviceArray<float> effective_weights;
    cuda::DeviceArray<double> weight_gradient_per_channel;  // scratch of the weight gradient
  };
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t) override {
    auto t = std::make_unique<CudaTraining>();
    if (activation_needs(activation_) == ActivationNeeds::input)
      t->pre_activation = cuda::DeviceArray<float>(output_shape.per_image() * size_t(batch));
    if (!params.empty()) {
      t->effective_weights = cuda::DeviceArray<float>(desc_.weights_count());
      t->weight_gradient_per_channel =
          cuda::DeviceArray<double>(size_t(desc_.inputs()) * size_t(desc_.channels));
    }
    return t;
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    ops::ShortcutDesc d = desc_;
    d.batch = out.shape.n;
    const float* from[cuda::kMaxShortcutInputs] = {};
    for (size_t j = 0; j < from_.size(); ++j) from[j] = ctx.outputs[size_t(from_[j])].data;
    if (!params.empty())
      cuda::shortcut_effective_weights(d, ctx.params[0], t.effective_weights.data(), ctx.stream);
    cuda::shortcut_forward(d, ctx.input.data, from, t.effective_weights.data(), out.data,
                           ctx.stream);
    if (t.pre_activation.size() > 0)
      cuda::copy_on_device(t.pre_activation.data(), out.data, out.size() * sizeof(float),
                           ctx.stream);
    if (activation_ != Activation::linear)
      cuda::activation_forward(activation_, out.shape, out.data, out.data, ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    if (activation_ != Activation::linear)
      cuda::activation_backward(activation_, ctx.delta.shape, ctx.delta.data,
                                t.pre_activation.size() > 0 ? t.pre_activation.data() : nullptr,
                                ctx.output.data, ctx.stream);
    ops::ShortcutDesc d = desc_;
    d.batch = ctx.delta.shape.n;
    float* d_from[cuda::kMaxShortcutInputs] = {};
    for (size_t j = 0; j < from_.size(); ++j) d_from[j] = ctx.deltas[size_t(from_[j])].data;
    cuda::shortcut_backward_inputs(d, ctx.delta.data, t.effective_weights.data(),
                                   ctx.input_delta.data, d_from, ctx.stream);
    if (params.empty()) return;
    const float* from[cuda::kMaxShortcutInputs] = {};
    for (size_t j = 0; j < from_.size(); ++j) from[j] = ctx.outputs[size_t(from_[j])].data;
    cuda::shortcut_backward_weights(d, ctx.delta.data, ctx.input.data, from, ctx.params[0],
                                    t.effective_weights.data(),
                                    t.weight_gradient_per_channel.data(), ctx.grads[0],
                                    ctx.stream);
  }
#endif

  // Input values matter only for the gradient of learned weights; the output only for an
  // activation whose derivative Darknet takes from it.
  bool backward_reads_inputs() const override { return !params.empty(); }
  bool backward_reads_output() const override {
    return activation_needs(activation_) == ActivationNeeds::output;
  }
  // Forward again on the same inputs gives the same output (training memory, layer.h).
  bool can_recompute_output() const override { return true; }
  void recompute_output(const ForwardContext& ctx, Tensor& out) override { forward(ctx, out); }

  void backward(const BackwardContext& ctx) override {
    const bool needs_input = activation_needs(activation_) == ActivationNeeds::input;
    if (needs_input && pre_activation_.size() != ctx.delta.size())
      fail("layer ", index, " [shortcut]: backward without a training forward pass");
    ops::activation_backward_reference(
        activation_, ctx.delta, needs_input ? pre_activation_.data() : nullptr, ctx.output.data);
    ops::ShortcutDesc d = desc_;
    d.batch = ctx.delta.shape.n;
    std::vector<const float*> from;
    std::vector<float*> d_from;
    for (int src : from_) {
      from.push_back(ctx.outputs[size_t(src)].data);
      d_from.push_back(ctx.deltas[size_t(src)].data);
    }
    float* d_weights = params.empty() ? nullptr : params[0].grad;
    ops::shortcut_backward(d, ctx.delta.data, ctx.input.data, from.data(), weights(),
                           ctx.input_delta.data, d_from.data(), d_weights);
  }

  void set_training(bool on, int /*batch*/) override {
    if (!on) pre_activation_ = {};
  }

  // Darknet counts one operation per output and `from` layer, twice with weights.
  double bflops() const override {
    double ops_count = double(output_shape.per_image()) * double(from_.size());
    return (desc_.weights == ops::ShortcutWeights::none ? ops_count : 2 * ops_count) / 1e9;
  }
  std::string summary_geometry() const override {
    std::string text;
    for (int src : from_) text += (text.empty() ? "" : " ") + std::to_string(src);
    return text;
  }

 private:
  const float* weights() const { return params.empty() ? nullptr : params[0].data; }

  Activation activation_ = Activation::linear;
  ops::ShortcutDesc desc_;
  std::vector<int> from_;
  std::vector<float> pre_activation_;
  std::vector<float> effective_weights_;  // uploaded for the CUDA forward
};

MISHNET_REGISTER_LAYER("shortcut", ShortcutLayer);

}  // namespace mishnet
