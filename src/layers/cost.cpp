// [cost]: the training loss at the end of a classifier. In inference Darknet skips it (the
// network output is the layer before), so here it passes its input through unchanged.
//
// Training: after a [softmax] that computes cross-entropy (the classifier cfgs), the loss is
// the softmax's and [cost] passes gradients through. Darknet adds a second (t - p) term from
// the cost layer on top of the cross-entropy gradient, doubling it; mishnet counts the loss
// once. Elsewhere [cost] is the loss itself: sse 0.5*scale*sum((x-t)^2), L1 scale*sum|x-t|,
// smooth (Huber with delta 1), masked = sse over truth values that are not -1234 (Darknet's
// SECRET_NUM), each with its exact gradient.
#include <algorithm>
#include <cmath>

#include "mishnet/error.h"
#include <string>

#include "layers/option_checks.h"
#include "mishnet/layer.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

namespace {

enum class CostType { sse, masked, smooth, l1, seg, wgan };

class CostLayer final : public Layer {
 public:
  explicit CostLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    cost_type_ = option_checks::parse_choice<CostType>(s, "type", "sse",
                                                        {{"sse", CostType::sse},
                                                         {"masked", CostType::masked},
                                                         {"smooth", CostType::smooth},
                                                         {"L1", CostType::l1},
                                                         {"seg", CostType::seg},
                                                         {"wgan", CostType::wgan}});
    scale_ = s.get_float("scale", 1.0f);
    ratio_ = s.get_float("ratio", 0.0f);
    noobject_scale_ = s.get_float("noobject_scale", 1.0f);
    thresh_ = s.get_float("thresh", 0.0f);
    option_checks::require_range(s, "ratio", ratio_, 0, 1);
    output_shape = input_shape;
    if (ctx.index > 0) {
      // The layer before computes the loss when it is a softmax with a loss of its own.
      const CfgSection* prev = ctx.previous_section;
      after_softmax_loss_ = prev && prev->type == "softmax" && prev->get_int("noloss", 0) == 0;
    }
  }

  size_t truth_floats() const override { return after_softmax_loss_ ? 0 : output_shape.per_image(); }

  // A device copy: identity in inference: the loss is training-only.
  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    cuda::copy_on_device(out.data, ctx.input.data, out.size() * sizeof(float), ctx.stream);
  }
#endif

  // After a softmax with its own loss the cost is a pass-through and trains on the device; with
  // a loss of its own it is a loss layer, computed on the host by the GPU training network.
  bool has_cuda_backward() const override { return after_softmax_loss_; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    cuda::copy_on_device(out.data, ctx.input.data, out.size() * sizeof(float), ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    cuda::accumulate(ctx.delta.data, ctx.delta.size(), ctx.input_delta.data, ctx.stream);
  }
#endif

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    for (size_t i = 0; i < ctx.delta.size(); ++i) ctx.input_delta.data[i] += ctx.delta.data[i];
  }

  const char* type() const override { return "cost"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    std::copy(ctx.input.data, ctx.input.data + out.size(), out.data);
    if (!ctx.training || !ctx.truth || after_softmax_loss_) return;
    if (cost_type_ == CostType::seg || cost_type_ == CostType::wgan)
      fail("layer ", index, " [cost]: type ", cost_type_ == CostType::seg ? "seg" : "wgan",
           " cannot be trained by mishnet");
    double loss = 0.0;
    for (size_t i = 0; i < out.size(); ++i) {
      const float x = out.data[i], t = ctx.truth[i], d = x - t;
      float g = 0.0f;
      switch (cost_type_) {
        case CostType::masked:
          if (t == -1234.0f) break;
          [[fallthrough]];
        case CostType::sse: loss += 0.5 * d * d; g = d; break;
        case CostType::l1: loss += std::fabs(d); g = d > 0 ? 1.0f : (d < 0 ? -1.0f : 0.0f); break;
        case CostType::smooth:
          if (std::fabs(d) < 1.0f) { loss += 0.5 * d * d; g = d; }
          else { loss += std::fabs(d) - 0.5; g = d > 0 ? 1.0f : -1.0f; }
          break;
        default: break;
      }
      ctx.delta.data[i] = scale_ * g;
    }
    cost = float(scale_ * loss);
  }

  CostType cost_type() const { return cost_type_; }

 private:
  CostType cost_type_ = CostType::sse;
  bool after_softmax_loss_ = false;
  float scale_ = 1.0f, ratio_ = 0.0f, noobject_scale_ = 1.0f, thresh_ = 0.0f;
};

}  // namespace

MISHNET_REGISTER_LAYER("cost", CostLayer);

}  // namespace mishnet
