// [scale_channels]: multiplies the output of layer `from` by this layer's input, broadcast
// (Darknet's scale_channels_layer.c; squeeze-and-excitation):
//   scale_wh=0: the input is 1x1xC, one factor per channel of `from` (C channels);
//   scale_wh=1: the input is WxHx1, one factor per pixel of `from` (WxH), for every channel.
// Then `activation` (default linear). The output has the shape of `from`. Forward and backward
// (CPU and GPU) in layers/broadcast_product.h.
#include <string>

#include "layers/broadcast_product.h"

namespace mishnet {

namespace {

std::string dims(const Shape& s) {
  return std::to_string(s.w) + "x" + std::to_string(s.h) + "x" + std::to_string(s.c);
}

class ScaleChannelsLayer final : public BroadcastProductLayer {
 public:
  explicit ScaleChannelsLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    from_ = ctx.resolve_layer(s.require_int("from"), "from");
    scale_wh_ = s.get_int("scale_wh", 0) != 0;
    activation_ = parse_activation_option(s, "linear");
    const Shape from = ctx.outputs[size_t(from_)];
    if (!scale_wh_ && !(input_shape.w == 1 && input_shape.h == 1 && input_shape.c == from.c))
      s.fail_key("from", "the input (" + dims(input_shape) + ") must be 1x1x" +
                             std::to_string(from.c) + " to scale the channels of layer " +
                             std::to_string(from_) + " (" + dims(from) + ")");
    if (scale_wh_ && !(input_shape.c == 1 && input_shape.w == from.w && input_shape.h == from.h))
      s.fail_key("from", "with scale_wh=1 the input (" + dims(input_shape) + ") must be " +
                             std::to_string(from.w) + "x" + std::to_string(from.h) +
                             "x1 to scale the pixels of layer " + std::to_string(from_) + " (" +
                             dims(from) + ")");
    output_shape = from;
    inputs = {ctx.index - 1, from_};
  }

  const char* type() const override { return "scale_channels"; }

  std::string summary_filters() const override { return std::to_string(from_); }
  std::string summary_geometry() const override { return scale_wh_ ? "wh" : "c"; }

 private:
  ops::Broadcast mode() const override {
    return scale_wh_ ? ops::Broadcast::per_position : ops::Broadcast::per_channel;
  }

  bool scale_wh_ = false;
};

}  // namespace

MISHNET_REGISTER_LAYER("scale_channels", ScaleChannelsLayer);

}  // namespace mishnet
