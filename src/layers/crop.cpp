// [crop]: Darknet's crop layer (crop_layer.c), a crop_height x crop_width window of every
// channel with y = 2x - 1 (y = x with noadjust=1).
//
// Inference takes the centre window ((h - crop_height)/2, (w - crop_width)/2), never flipped.
// Training does what Darknet's CPU forward does: one random window per batch (shared by its
// images) and, with flip=1, a left-right mirror with probability 1/2. Darknet's GPU forward
// also rotates (angle) and jitters colours (saturation, exposure, shift) in training: mishnet
// does not, and refuses to train with those set rather than train differently.
//
// Darknet's backward is empty (layers before a crop never learn there); mishnet passes the
// true gradient. A crop is normally the first layer, where the two agree.
#include "ops/crop.h"

#include <random>
#include <string>

#include "mishnet/error.h"
#include "mishnet/layer.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

namespace {

class CropLayer final : public Layer {
 public:
  explicit CropLayer(const BuildContext& ctx) : file_(ctx.section.file), line_(ctx.section.line) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    crop_h_ = s.get_int("crop_height", 1);
    crop_w_ = s.get_int("crop_width", 1);
    flip_ = s.get_int("flip", 0) != 0;
    angle_ = s.get_float("angle", 0.0f);
    saturation_ = s.get_float("saturation", 1.0f);
    exposure_ = s.get_float("exposure", 1.0f);
    shift_ = s.get_float("shift", 0.0f);
    noadjust_ = s.get_int("noadjust", 0) != 0;

    if (crop_h_ < 1 || crop_h_ > input_shape.h)
      s.fail_key("crop_height", "must be in [1, " + std::to_string(input_shape.h) +
                                    "] (the input height), got " + std::to_string(crop_h_));
    if (crop_w_ < 1 || crop_w_ > input_shape.w)
      s.fail_key("crop_width", "must be in [1, " + std::to_string(input_shape.w) +
                                   "] (the input width), got " + std::to_string(crop_w_));
    output_shape = Shape{1, input_shape.c, crop_h_, crop_w_};
  }

  const char* type() const override { return "crop"; }

  void set_training(bool on, int /*batch*/) override {
    if (!on) return;
    if (angle_ != 0.0f || saturation_ != 1.0f || exposure_ != 1.0f || shift_ != 0.0f)
      fail_at(file_, line_, "[crop] layer ", index,
              ": training with angle, saturation, exposure or shift (Darknet's GPU-only crop "
              "augmentations) is not supported; set them to 0, 1, 1, 0 (inference ignores them)");
  }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    window_ = ctx.training ? training_window(ctx.rng) : centre_window();
    ops::crop_reference(ctx.input, window_, out.data);
  }

  // Inference takes the centre window, never flipped. Training draws the window on the host
  // from the run's generator, as the CPU forward does (the same window for a seed).
  bool has_cuda_forward() const override { return true; }
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    cuda::crop(ctx.input.shape, ctx.input.data, centre_window(), out.data, ctx.stream);
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    window_ = training_window(ctx.rng);
    cuda::crop(ctx.input.shape, ctx.input.data, window_, out.data, ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    cuda::crop_backward(ctx.input_delta.shape, window_, ctx.delta.data, ctx.input_delta.data,
                        ctx.stream);
  }
#endif

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    ops::crop_backward_reference(ctx.input_delta.shape, window_, ctx.delta.data,
                                 ctx.input_delta.data);
  }

  std::string summary_geometry() const override {
    return std::to_string(crop_w_) + "x" + std::to_string(crop_h_);
  }

 private:
  // Darknet's CPU training crop: a random window (shared by the batch), mirrored with
  // probability 1/2 when flip=1.
  ops::CropWindow training_window(std::mt19937_64* rng) const {
    if (!rng) fail("[crop] layer ", index, ": training forward without a random generator");
    ops::CropWindow w = centre_window();
    w.top = std::uniform_int_distribution<int>(0, input_shape.h - crop_h_)(*rng);
    w.left = std::uniform_int_distribution<int>(0, input_shape.w - crop_w_)(*rng);
    w.flip = flip_ && std::bernoulli_distribution(0.5)(*rng);
    return w;
  }

  ops::CropWindow centre_window() const {
    ops::CropWindow w;
    w.top = (input_shape.h - crop_h_) / 2;
    w.left = (input_shape.w - crop_w_) / 2;
    w.out_h = crop_h_;
    w.out_w = crop_w_;
    w.flip = false;
    w.scale = noadjust_ ? 1.0f : 2.0f;
    w.shift = noadjust_ ? 0.0f : -1.0f;
    return w;
  }

  std::string file_;
  int line_ = 0;
  int crop_h_ = 1, crop_w_ = 1;
  bool flip_ = false, noadjust_ = false;
  float angle_ = 0.0f, saturation_ = 1.0f, exposure_ = 1.0f, shift_ = 0.0f;
  ops::CropWindow window_;  // of the last forward, for backward
};

}  // namespace

MISHNET_REGISTER_LAYER("crop", CropLayer);

}  // namespace mishnet
