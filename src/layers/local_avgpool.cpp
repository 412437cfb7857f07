// [local_avgpool] (alias [local_avg]): windowed average with [maxpool]'s geometry (size,
// stride, stride_x, stride_y, padding; padding/2 before). Like Darknet's forward (and cuDNN's
// COUNT_EXCLUDE_PADDING that Darknet's GPU build uses), a window averages only the cells inside
// the input. The backward pass is that function's exact gradient; Darknet's CPU backward
// divides by size*size at the borders instead.
#include <memory>
#include <string>

#include "layers/pool_options.h"
#include "mishnet/layer.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif
#include "ops/pool2d.h"

namespace mishnet {

class LocalAvgpoolLayer final : public Layer {
 public:
  explicit LocalAvgpoolLayer(const BuildContext& ctx) {
    input_shape = ctx.input;
    window_ = parse_pool_window(ctx.section);
    desc_ = describe_pool(ctx.section, window_, input_shape);
    output_shape = Shape{1, input_shape.c, desc_.out_h, desc_.out_w};
  }

  const char* type() const override { return "local_avg"; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    ops::Pool2dDesc d = desc_;
    d.batch = ctx.input.shape.n;
    if (ctx.training) {  // the reference, whose gradient avgpool2d_backward is
      ops::avgpool2d_forward(d, ctx.input.data, out.data);
      return;
    }
    if (!op_ || op_batch_ != d.batch) {
      op_ = ops::make_pool2d_inference(d, ops::PoolKind::average, backend_);
      op_batch_ = d.batch;
    }
    op_->forward(ctx.input.data, out.data);
  }

  bool has_cuda_forward() const override { return true; }
  // The training forward is the reference op, which the inference kernel computes too
  // (CudaGather.PoolingBodiesMatchTheReferenceOps).
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    ops::Pool2dDesc d = desc_;
    d.batch = ctx.input.shape.n;
    cuda::avgpool2d_forward(d, ctx.input.data, out.data, ctx.stream);
  }
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override {
    forward_cuda_as_inference(ctx, out);
  }
  void backward_cuda(const CudaBackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    ops::Pool2dDesc d = desc_;
    d.batch = ctx.delta.shape.n;
    cuda::avgpool2d_backward(d, ctx.delta.data, ctx.input_delta.data, ctx.stream);
  }
#endif

  void prepare(BackendKind backend) override {
    if (backend == BackendKind::cuda) return;  // the CPU op stays for a later CPU run
    if (backend != backend_) op_.reset();
    backend_ = backend;
  }

  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    ops::Pool2dDesc d = desc_;
    d.batch = ctx.delta.shape.n;
    ops::avgpool2d_backward(d, ctx.delta.data, ctx.input_delta.data);
  }

  // Darknet builds it with make_maxpool_layer, which counts size^2 per output and channel.
  double bflops() const override {
    return double(window_.size) * window_.size * input_shape.c * output_shape.h * output_shape.w /
           1e9;
  }
  std::string summary_geometry() const override { return pool_geometry_text(window_); }

 private:
  PoolWindow window_;
  ops::Pool2dDesc desc_;
  BackendKind backend_ = BackendKind::cpu;
  std::unique_ptr<ops::Pool2dInferenceOp> op_;
  int op_batch_ = 0;
};

MISHNET_REGISTER_LAYER("local_avgpool", LocalAvgpoolLayer);
// Darknet's parser also accepts [local_avg]; the cfg parser passes unknown names through.
MISHNET_REGISTER_LAYER("local_avg", LocalAvgpoolLayer);

}  // namespace mishnet
