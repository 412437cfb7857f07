// [dropout]: identity in inference; in training each element is dropped with `probability`
// (default 0.2) and the survivors scaled by 1/(1-p), with the mask drawn from the run's
// generator and kept for the backward pass. Darknet's dropblock variant is not supported.
//
// Darknet runs dropout in place on the previous layer's output, so in training a [route] to
// that layer sees the dropped values; here the previous output is left untouched.
#include "ops/dropout.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "layers/option_checks.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

class DropoutLayer final : public Layer {
 public:
  explicit DropoutLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    output_shape = input_shape;
    probability_ = s.get_float("probability", 0.2f);
    if (!(probability_ >= 0.0f && probability_ < 1.0f))
      s.fail_key("probability", "must be in [0, 1), got " + option_checks::number(probability_));
    if (s.get_int("dropblock", 0) != 0)
      s.fail_key("dropblock", "is not supported by mishnet (plain dropout only)");
    // Sizes of the dropblock variant: meaningless without it.
    for (const char* k : {"dropblock_size_rel", "dropblock_size_abs"}) s.accept(k);
    // Darknet computes the scale in double and stores it as float.
    scale_ = float(1.0 / (1.0 - double(probability_)));
  }

  const char* type() const override { return "dropout"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const size_t n = out.size();
    if (!ctx.training) {
      std::copy(ctx.input.data, ctx.input.data + n, out.data);
      return;
    }
    if (!ctx.rng) fail("layer ", index, " [dropout]: training forward without a random generator");
    keep_.resize(n);
    ops::dropout_draw_mask(*ctx.rng, probability_, n, keep_.data());
    ops::dropout_forward(n, ctx.input.data, keep_.data(), scale_, out.data);
  }

  // A device copy: identity in inference.
  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    cuda::copy_on_device(out.data, ctx.input.data, out.size() * sizeof(float), ctx.stream);
  }
#endif

  // Training on the GPU: the mask is drawn on the host from the run's generator, exactly as the
  // CPU forward draws it (same seed, same mask), and uploaded.
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  struct CudaTraining final : CudaLayerTraining {
    std::vector<uint8_t> host_keep;
    cuda::DeviceArray<uint8_t> keep;
  };
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t) override {
    auto t = std::make_unique<CudaTraining>();
    const size_t n = output_shape.per_image() * size_t(batch);
    t->host_keep.assign(n, 0);
    t->keep = cuda::DeviceArray<uint8_t>(n);
    return t;
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    if (!ctx.rng) fail("layer ", index, " [dropout]: training forward without a random generator");
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const size_t n = out.size();
    if (t.host_keep.size() != n)
      fail("layer ", index, " [dropout]: device state for ", t.host_keep.size(), " values, output has ", n);
    ops::dropout_draw_mask(*ctx.rng, probability_, n, t.host_keep.data());
    // From pageable memory the copy is staged before the call returns: host_keep may be redrawn.
    cuda::copy_to_device(t.keep.data(), t.host_keep.data(), n, ctx.stream);
    cuda::dropout_forward(n, ctx.input.data, t.keep.data(), scale_, out.data, ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    cuda::dropout_backward(ctx.delta.size(), ctx.delta.data, t.keep.data(), scale_,
                           ctx.input_delta.data, ctx.stream);
  }
#endif

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    if (keep_.size() != ctx.delta.size())
      fail("layer ", index, " [dropout]: backward without a training forward pass");
    ops::dropout_backward(ctx.delta.size(), ctx.delta.data, keep_.data(), scale_,
                          ctx.input_delta.data);
  }

  void set_training(bool on, int /*batch*/) override {
    if (!on) keep_ = {};
  }

  std::string summary_geometry() const override {
    char text[32];
    std::snprintf(text, sizeof text, "p=%.2f", double(probability_));
    return text;
  }

 private:
  float probability_ = 0.2f;
  float scale_ = 1.25f;
  std::vector<uint8_t> keep_;
};

MISHNET_REGISTER_LAYER("dropout", DropoutLayer);

}  // namespace mishnet
