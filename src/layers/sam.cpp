// [sam]: spatial attention (Darknet's sam_layer.c): the element-wise product of this layer's
// input and the output of layer `from` (same shape), then `activation` (default linear).
// Forward and backward (CPU and GPU) in layers/broadcast_product.h.
//
// Darknet's backward overwrites the gradient of `from` instead of adding to it (a later reader
// of `from` loses its share) and takes the activation's gradient from the output only (wrong
// for swish/mish); mishnet adds, and uses the exact gradient of every activation.
#include <string>

#include "layers/broadcast_product.h"

namespace mishnet {

namespace {

std::string dims(const Shape& s) {
  return std::to_string(s.w) + "x" + std::to_string(s.h) + "x" + std::to_string(s.c);
}

class SamLayer final : public BroadcastProductLayer {
 public:
  explicit SamLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    from_ = ctx.resolve_layer(s.require_int("from"), "from");
    activation_ = parse_activation_option(s, "linear");
    const Shape from = ctx.outputs[size_t(from_)];
    if (!(from == input_shape))
      s.fail_key("from", "layer " + std::to_string(from_) + " outputs " + dims(from) +
                             " but the input is " + dims(input_shape) +
                             ": [sam] multiplies two tensors of the same shape");
    output_shape = from;
    inputs = {ctx.index - 1, from_};
  }

  const char* type() const override { return "sam"; }

  std::string summary_filters() const override { return std::to_string(from_); }

 private:
  ops::Broadcast mode() const override { return ops::Broadcast::elementwise; }
};

}  // namespace

MISHNET_REGISTER_LAYER("sam", SamLayer);

}  // namespace mishnet
