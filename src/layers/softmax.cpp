// [softmax]: softmax over `groups` equal chunks of each image's values (Darknet's softmax_cpu),
// with a temperature; `spatial=1` takes it across channels at each position instead.
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/softmax.h"
#include "layers/option_checks.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/softmax_op.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

namespace {

class SoftmaxLayer final : public Layer {
 public:
  explicit SoftmaxLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    groups_ = s.get_int("groups", 1);
    temperature_ = s.get_float("temperature", 1.0f);
    // Darknet reads `spatial` as a number and tests it for non-zero.
    spatial_ = s.get_float("spatial", 0.0f) != 0.0f;
    noloss_ = s.get_bool("noloss", false);  // training: no cross-entropy loss from this layer
    if (s.has("tree"))
      s.fail_key("tree", "hierarchical softmax (a .tree file, YOLO9000/ImageNet-9k) is not "
                         "supported by mishnet");
    option_checks::require_positive(s, "temperature", temperature_);
    if (groups_ < 1) s.fail_key("groups", "must be at least 1");
    const size_t per_image = input_shape.per_image();
    if (!spatial_ && per_image % size_t(groups_) != 0)
      s.fail_key("groups", "the input's " + std::to_string(per_image) +
                               " values per image are not divisible by groups=" +
                               std::to_string(groups_));
    output_shape = input_shape;
  }

  const char* type() const override { return "softmax"; }
  std::string summary_filters() const override {
    return groups_ > 1 ? std::to_string(groups_) + " groups" : "";
  }

  // Training with truth: cross-entropy -sum(t * log p), one truth value per output.
  size_t truth_floats() const override { return noloss_ ? 0 : output_shape.per_image(); }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const int images = out.shape.n;
    compute(ctx, out);
    loss_in_delta_ = ctx.training && ctx.truth && !noloss_;
    if (!loss_in_delta_) return;
    // Softmax and cross-entropy together: dL/dz = (p - t) / temperature. It goes straight into
    // this layer's gradient, which backward() then passes on as the input's gradient.
    double loss = 0.0;
    const size_t n = out.size();
    const float inv_t = 1.0f / temperature_;
    for (size_t i = 0; i < n; ++i) {
      const float t = ctx.truth[i], p = out.data[i];
      loss += kernels::cross_entropy_term(p, t);
      ctx.delta.data[i] = kernels::softmax_cross_entropy_gradient(p, t, inv_t);
    }
    (void)images;
    cost = float(loss);
  }

  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const int images = out.shape.n;
    if (spatial_) {
      cuda::softmax_channels(ctx.input.data, out.data, images, out.shape.c,
                             out.shape.h * out.shape.w, temperature_, ctx.stream);
    } else {
      const int per_image = int(out.shape.per_image());
      cuda::softmax_groups(ctx.input.data, out.data, images, per_image, groups_,
                           per_image / groups_, temperature_, ctx.stream);
    }
  }
#endif

  // Without a loss (noloss=1) the softmax trains on the device (its Jacobian per group); with
  // one it is a loss layer, computed on the host by the GPU training network.
  bool has_cuda_backward() const override { return noloss_; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    forward_cuda_as_inference(ctx, out);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const int images = ctx.output.shape.n;
    if (spatial_) {
      cuda::softmax_channels_backward(ctx.output.data, ctx.delta.data, ctx.input_delta.data,
                                      images, ctx.output.shape.c,
                                      ctx.output.shape.h * ctx.output.shape.w, temperature_,
                                      ctx.stream);
    } else {
      const int per_image = int(ctx.output.shape.per_image());
      cuda::softmax_groups_backward(ctx.output.data, ctx.delta.data, ctx.input_delta.data, images,
                                    per_image, groups_, per_image / groups_, temperature_,
                                    ctx.stream);
    }
  }
#endif

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    const size_t n = ctx.delta.size();
    if (loss_in_delta_) {
      for (size_t i = 0; i < n; ++i) ctx.input_delta.data[i] += ctx.delta.data[i];
      return;
    }
    // Plain softmax Jacobian per group: dz = p * (dy - sum(dy * p)) / temperature.
    const int images = ctx.output.shape.n;
    const int per_image = int(ctx.output.shape.per_image());
    if (spatial_) {
      const int channels = ctx.output.shape.c, plane = ctx.output.shape.h * ctx.output.shape.w;
      for (int b = 0; b < images; ++b)
        for (int i = 0; i < plane; ++i) {
          const size_t base = size_t(b) * size_t(per_image) + size_t(i);
          double dot = 0.0;
          for (int c = 0; c < channels; ++c)
            dot += double(ctx.delta.data[base + size_t(c) * plane]) * ctx.output.data[base + size_t(c) * plane];
          for (int c = 0; c < channels; ++c) {
            size_t k = base + size_t(c) * plane;
            ctx.input_delta.data[k] += ctx.output.data[k] * (ctx.delta.data[k] - float(dot)) / temperature_;
          }
        }
      return;
    }
    const int group = per_image / groups_;
    for (int b = 0; b < images; ++b)
      for (int g = 0; g < groups_; ++g) {
        const size_t base = size_t(b) * size_t(per_image) + size_t(g) * size_t(group);
        double dot = 0.0;
        for (int i = 0; i < group; ++i) dot += double(ctx.delta.data[base + i]) * ctx.output.data[base + i];
        for (int i = 0; i < group; ++i)
          ctx.input_delta.data[base + i] +=
              ctx.output.data[base + i] * (ctx.delta.data[base + i] - float(dot)) / temperature_;
      }
  }

 private:
  void compute(const ForwardContext& ctx, Tensor& out) const {
    const int images = out.shape.n;
    if (spatial_) {
      ops::softmax_channels_reference(ctx.input.data, out.data, images, out.shape.c,
                                      out.shape.h * out.shape.w, temperature_);
    } else {
      const int per_image = int(out.shape.per_image());
      ops::softmax_groups_reference(ctx.input.data, out.data, images, per_image, groups_,
                                    per_image / groups_, temperature_);
    }
  }

 private:
  int groups_ = 1;
  float temperature_ = 1.0f;
  bool spatial_ = false;
  bool noloss_ = false;
  bool loss_in_delta_ = false;  // the last forward computed the cross-entropy gradient
};

}  // namespace

MISHNET_REGISTER_LAYER("softmax", SoftmaxLayer);

}  // namespace mishnet
