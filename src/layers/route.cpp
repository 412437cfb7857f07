// [route]: concatenates the channels of earlier layers (`layers`, relative or absolute). With
// `groups`=G and `group_id`=g (the CSP split), it takes channel group g of G from each input:
// channels [g*C/G, (g+1)*C/G). Inputs must share width and height.
#include <string>
#include <vector>

#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/channel_copy.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

namespace {

std::string shape_text(const Shape& s) {
  return std::to_string(s.w) + "x" + std::to_string(s.h) + "x" + std::to_string(s.c);
}

}  // namespace

class RouteLayer final : public Layer {
 public:
  explicit RouteLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    std::vector<int> refs = s.get_ints("layers");
    if (refs.empty()) s.fail_key("layers", "is required: the layers whose outputs to concatenate");
    groups_ = s.get_int("groups", 1);
    group_id_ = s.get_int("group_id", 0);
    if (groups_ < 1) s.fail_key("groups", "must be at least 1");
    if (group_id_ < 0 || group_id_ >= groups_)
      s.fail_key("group_id", "must be in 0.." + std::to_string(groups_ - 1) + " for groups=" +
                                 std::to_string(groups_) + ", got " + std::to_string(group_id_));

    for (int ref : refs) inputs.push_back(ctx.resolve_layer(ref, "layers"));
    const Shape& first = ctx.outputs[size_t(inputs[0])];
    input_shape = first;  // what the summary shows; the route reads all its inputs
    int channels = 0;
    for (int src : inputs) {
      const Shape& in = ctx.outputs[size_t(src)];
      if (in.w != first.w || in.h != first.h)
        s.fail_key("layers", "layer " + std::to_string(inputs[0]) + " (" + shape_text(first) +
                                 ") and layer " + std::to_string(src) + " (" + shape_text(in) +
                                 ") differ in width/height; route concatenates channels of "
                                 "equally sized maps");
      if (in.c % groups_ != 0)
        s.fail_key("groups", "layer " + std::to_string(src) + " has " + std::to_string(in.c) +
                                 " channels, not divisible by groups=" + std::to_string(groups_));
      channels += in.c / groups_;
    }
    output_shape = Shape{1, channels, first.h, first.w};
    for (int src : inputs) parts_.push_back(ctx.outputs[size_t(src)].c / groups_);
  }

  std::vector<ChannelSource> channel_sources() const override {
    std::vector<ChannelSource> sources;
    int offset = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      sources.push_back({inputs[k], group_id_ * parts_[k], parts_[k], offset});
      offset += parts_[k];
    }
    return sources;
  }

  // In nChw16c a run of whole channel blocks is as contiguous per image as in NCHW, with the
  // same offsets and lengths: copy_channels does both when every part and offset is whole.
  BlockedSupport blocked_support() const override {
    for (int part : parts_)
      if (part % 16 != 0 || (group_id_ * part) % 16 != 0) return BlockedSupport::none;
    return BlockedSupport::follows;
  }

  const char* type() const override { return "route"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const int spatial = out.shape.h * out.shape.w;
    int offset = 0;
    for (int src : inputs) {
      const Tensor& in = ctx.outputs[size_t(src)];
      const int part = in.shape.c / groups_;
      ops::copy_channels(out.shape.n, spatial, in.data, in.shape.c, group_id_ * part, out.data,
                         out.shape.c, offset, part);
      offset += part;
    }
  }

  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const int spatial = out.shape.h * out.shape.w;
    int offset = 0;
    for (int src : inputs) {
      const Tensor& in = ctx.outputs[size_t(src)];
      const int part = in.shape.c / groups_;
      cuda::copy_channels(out.shape.n, spatial, in.data, in.shape.c, group_id_ * part, out.data,
                          out.shape.c, offset, part, ctx.stream);
      offset += part;
    }
  }
#endif

  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    forward_cuda_as_inference(ctx, out);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    const int spatial = ctx.delta.shape.h * ctx.delta.shape.w;
    int offset = 0;
    for (int src : inputs) {
      const Tensor& d = ctx.deltas[size_t(src)];
      const int part = ctx.outputs[size_t(src)].shape.c / groups_;
      if (d.data)
        cuda::add_channels(ctx.delta.shape.n, spatial, ctx.delta.data, ctx.delta.shape.c, offset,
                           d.data, d.shape.c, group_id_ * part, part, ctx.stream);
      offset += part;
    }
  }
#endif
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  // Forward again on the same inputs gives the same output (training memory, layer.h).
  bool can_recompute_output() const override { return true; }
  void recompute_output(const ForwardContext& ctx, Tensor& out) override { forward(ctx, out); }

  void backward(const BackwardContext& ctx) override {
    const int spatial = ctx.delta.shape.h * ctx.delta.shape.w;
    int offset = 0;
    for (int src : inputs) {
      const Tensor& d = ctx.deltas[size_t(src)];
      const int part = ctx.outputs[size_t(src)].shape.c / groups_;
      if (d.data)
        ops::add_channels(ctx.delta.shape.n, spatial, ctx.delta.data, ctx.delta.shape.c, offset,
                          d.data, d.shape.c, group_id_ * part, part);
      offset += part;
    }
  }

  // Darknet prints the layers, then group_id/groups when the route splits channels.
  std::string summary_filters() const override {
    return groups_ > 1 ? std::to_string(group_id_) + "/" + std::to_string(groups_) : "";
  }
  std::string summary_geometry() const override {
    std::string text;
    for (int src : inputs) text += (text.empty() ? "" : " ") + std::to_string(src);
    return text;
  }

 private:
  int groups_ = 1, group_id_ = 0;
  std::vector<int> parts_;  // channels taken from each input
};

MISHNET_REGISTER_LAYER("route", RouteLayer);

}  // namespace mishnet
