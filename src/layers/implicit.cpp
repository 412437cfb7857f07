// [implicit]: learned implicit knowledge (YOLOR; Darknet's representation_layer.c). The output
// is the layer's own parameters, filters x atoms x 1 (c x h x w), the same for every image; it
// reads no layer. Other layers combine it ([shortcut] adds it, [scale_channels] multiplies).
//
// Keys: filters (128), atoms (1), mean (0), std (0.2). Darknet initialises the weights to
// mean + uniform(-std, std); `mishnet init` sets them to `mean` (Param has no spread), and a
// .weights file overrides both. Darknet only knows [implicit]: YOLOR's PyTorch sections
// [implicit_add] / [implicit_mul] are not Darknet cfg and are not accepted.
#include <string>

#include "layers/option_checks.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/batch_broadcast.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

namespace {

class ImplicitLayer final : public Layer {
 public:
  explicit ImplicitLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    const float mean = s.get_float("mean", 0.0f);
    const float std_dev = s.get_float("std", 0.2f);
    filters_ = s.get_int("filters", 128);
    atoms_ = s.get_int("atoms", 1);
    if (filters_ < 1) s.fail_key("filters", "must be at least 1, got " + std::to_string(filters_));
    if (atoms_ < 1) s.fail_key("atoms", "must be at least 1, got " + std::to_string(atoms_));
    option_checks::require_non_negative(s, "std", std_dev);
    output_shape = Shape{1, filters_, atoms_, 1};
    declare_param("weights", output_shape.per_image()).init_value = mean;
    // `inputs` stays the default (index-1): nothing is read from it, and naming no layer at all
    // is not something the network's bookkeeping has a way to say.
  }

  const char* type() const override { return "implicit"; }

  void forward(const ForwardContext& /*ctx*/, Tensor& out) override {
    ops::broadcast_over_batch_reference(params[0].data, params[0].count, out.shape.n, out.data);
  }

  bool has_cuda_forward() const override { return true; }
  bool has_cuda_backward() const override { return true; }
  std::vector<std::span<const float>> cuda_parameters() override {
    return {std::span<const float>(params[0].data, params[0].count)};
  }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    cuda::broadcast_over_batch(ctx.params[0], params[0].count, out.shape.n, out.data, ctx.stream);
  }
  // ctx.params[0]: the raw values, trained on the device.
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    cuda::broadcast_over_batch(ctx.params[0], params[0].count, out.shape.n, out.data, ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    cuda::sum_over_batch(ctx.delta.data, params[0].count, ctx.delta.shape.n, ctx.grads[0],
                         ctx.stream);
  }
#endif

  // Nothing flows to the input: the output does not depend on it.
  void backward(const BackwardContext& ctx) override {
    Param& w = params[0];
    if (!w.grad) fail("[implicit] layer ", index, ": backward needs Network::set_training(true)");
    ops::sum_over_batch_reference(ctx.delta.data, w.count, ctx.delta.shape.n, w.grad);
  }

  std::string summary_filters() const override { return std::to_string(filters_); }
  std::string summary_geometry() const override {
    return atoms_ > 1 ? "x" + std::to_string(atoms_) : "";
  }

 private:
  int filters_ = 128, atoms_ = 1;
};

}  // namespace

MISHNET_REGISTER_LAYER("implicit", ImplicitLayer);

}  // namespace mishnet
