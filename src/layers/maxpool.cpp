// [maxpool] (alias [max]): windowed max with Darknet's padding (padding/2 before, the rest
// after; default size-1, which keeps stride-1 SPP pools the same size), or with
// maxpool_depth=1 the max across channel groups. Training keeps each output's argmax for the
// backward pass (ties go to the first, as Darknet).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/pool_options.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"
#include "ops/pool2d.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

class MaxpoolLayer final : public Layer {
 public:
  explicit MaxpoolLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    window_ = parse_pool_window(s);
    maxpool_depth_ = s.get_int("maxpool_depth", 0) != 0;
    out_channels_ = s.get_int("out_channels", 1);
    for (const char* k : {"antialiasing", "maxpool_zero_nonmax"})
      if (s.get_int(k, 0) != 0) s.fail_key(k, "is not supported by mishnet");

    if (maxpool_depth_) {
      if (out_channels_ < 1 || out_channels_ > input_shape.c)
        s.fail_key("out_channels", "must be in 1.." + std::to_string(input_shape.c) +
                                       " (the input channels) with maxpool_depth=1, got " +
                                       std::to_string(out_channels_));
      output_shape = Shape{1, out_channels_, input_shape.h, input_shape.w};
    } else {
      desc_ = describe_pool(s, window_, input_shape);
      output_shape = Shape{1, input_shape.c, desc_.out_h, desc_.out_w};
    }
  }

  const char* type() const override { return "max"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    int32_t* argmax = nullptr;
    if (ctx.training) {
      argmax_.resize(out.size());
      argmax = argmax_.data();
    }
    const Shape& in = ctx.input.shape;
    if (maxpool_depth_) {
      ops::maxpool_depth_forward(in.n, in.c, in.h, in.w, out_channels_, ctx.input.data, out.data,
                                 argmax);
    } else if (!ctx.training) {
      if (!op_ || op_batch_ != in.n || op_blocked_ != output_blocked) {
        ops::Pool2dDesc d = desc_;
        d.batch = in.n;
        d.blocked = op_blocked_ = output_blocked;
        op_ = ops::make_pool2d_inference(d, ops::PoolKind::max, backend_);
        op_batch_ = in.n;
      }
      op_->forward(ctx.input.data, out.data);
    } else {
      ops::Pool2dDesc d = desc_;
      d.batch = in.n;
      ops::maxpool2d_forward(d, ctx.input.data, out.data, argmax);
    }
  }

  // The windowed max runs on nChw16c as it is (oneDNN's pooling); maxpool_depth mixes channels.
  BlockedSupport blocked_support() const override {
    return maxpool_depth_ ? BlockedSupport::none : BlockedSupport::follows;
  }

  // Windowed max (SPP sizes, stride_x/stride_y, Darknet's padding) and maxpool_depth.
  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const Shape& in = ctx.input.shape;
    if (maxpool_depth_) {
      cuda::maxpool_depth_forward(in.n, in.c, in.h, in.w, out_channels_, ctx.input.data, out.data,
                                  nullptr, ctx.stream);
      return;
    }
    ops::Pool2dDesc d = desc_;
    d.batch = in.n;
    cuda::maxpool2d_forward(d, ctx.input.data, out.data, nullptr, ctx.stream);
  }
#endif

  // Training on the GPU: the forward keeps each output's argmax on the device (in the state), the
  // backward gathers through it (deterministic) or, for maxpool_depth, scatters (race-free).
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  struct CudaTraining final : CudaLayerTraining {
    cuda::DeviceArray<int32_t> argmax;
  };
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t) override {
    auto t = std::make_unique<CudaTraining>();
    t->argmax = cuda::DeviceArray<int32_t>(output_shape.per_image() * size_t(batch));
    return t;
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const Shape& in = ctx.input.shape;
    if (maxpool_depth_) {
      cuda::maxpool_depth_forward(in.n, in.c, in.h, in.w, out_channels_, ctx.input.data, out.data,
                                  t.argmax.data(), ctx.stream);
      return;
    }
    ops::Pool2dDesc d = desc_;
    d.batch = in.n;
    cuda::maxpool2d_forward(d, ctx.input.data, out.data, t.argmax.data(), ctx.stream);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    auto& t = static_cast<CudaTraining&>(*ctx.state);
    const Shape& in = ctx.input_delta.shape;
    if (maxpool_depth_) {
      cuda::maxpool_depth_backward(in.n, in.c, in.h, in.w, out_channels_, ctx.delta.data,
                                   t.argmax.data(), ctx.input_delta.data, ctx.stream);
      return;
    }
    ops::Pool2dDesc d = desc_;
    d.batch = in.n;
    cuda::maxpool2d_backward(d, ctx.delta.data, t.argmax.data(), ctx.input_delta.data, ctx.stream);
  }
#endif

  void prepare(BackendKind backend) override {
    if (backend == BackendKind::cuda) return;  // the CPU op stays for a later CPU run
    if (backend != backend_) op_.reset();
    backend_ = backend;
  }

  // Backward routes gradients through the argmax indices kept by the training forward.
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  // Forward again on the same inputs gives the same output and argmax (training memory).
  bool can_recompute_output() const override { return true; }
  void recompute_output(const ForwardContext& ctx, Tensor& out) override { forward(ctx, out); }

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    if (argmax_.size() != ctx.delta.size())
      fail("layer ", index, " [maxpool]: backward without a training forward pass");
    ops::maxpool_backward(ctx.delta.shape.n, int(output_shape.per_image()),
                          int(input_shape.per_image()), ctx.delta.data, argmax_.data(),
                          ctx.input_delta.data);
  }

  void set_training(bool on, int /*batch*/) override {
    if (!on) argmax_ = {};
  }

  // Darknet counts size^2 comparisons per output and input channel (maxpool_layer.c).
  double bflops() const override {
    return double(window_.size) * window_.size * input_shape.c * output_shape.h * output_shape.w /
           1e9;
  }
  std::string summary_filters() const override {
    return maxpool_depth_ ? std::to_string(out_channels_) : "";
  }
  std::string summary_geometry() const override {
    return maxpool_depth_ ? "depth" : pool_geometry_text(window_);
  }

 private:
  PoolWindow window_;
  ops::Pool2dDesc desc_;
  bool maxpool_depth_ = false;
  int out_channels_ = 1;
  std::vector<int32_t> argmax_;
  // Inference only: training needs maxpool2d_forward's argmax for the backward pass.
  BackendKind backend_ = BackendKind::cpu;
  std::unique_ptr<ops::Pool2dInferenceOp> op_;
  int op_batch_ = 0;
  bool op_blocked_ = false;  // the layout op_ was built for
};

MISHNET_REGISTER_LAYER("maxpool", MaxpoolLayer);

}  // namespace mishnet
