// Every CUDA op against the reference op it mirrors, forward and backward. These need a
// device: without one (or without a CUDA build) each is reported as SKIPPED with the reason.
// Inputs come from fixed seeds; tolerances allow for float sums in another order and for the
// GPU's own expf/logf (a few ulp from glibc's).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cuda_test_util.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cublas_inner_product.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/cudnn_convolution.h"
#include "backend/cuda/gather_kernels.h"
#include "kernels/optimizer.h"
#include "kernels/softmax.h"
#include "ops/activation_op.h"
#include "ops/batchnorm_training.h"
#include "ops/accumulate.h"
#include "ops/batch_broadcast.h"
#include "ops/broadcast_multiply.h"
#include "ops/crop.h"
#include "ops/channel_copy.h"
#include "ops/conv2d_backward.h"
#include "ops/detection_heads.h"
#include "ops/dropout.h"
#include "ops/inner_product.h"
#include "ops/pool2d.h"
#include "ops/reorg.h"
#include "ops/shortcut.h"
#include "ops/softmax_op.h"
#include "ops/upsample.h"
#endif

namespace mishnet {
namespace {

#if defined(MISHNET_HAVE_CUDA)

using test::expect_close;
using test::to_device;
using test::uniform_values;

constexpr float kRtol = 2e-5f, kAtol = 2e-6f;  // element-wise math: a few ulp

TEST(CudaOps, ActivationsForwardAndBackwardMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const Shape shape{2, 5, 3, 4};
  // Values across the interesting ranges: tails, kinks, zero.
  std::vector<float> x = uniform_values(shape.size(), 11, -12.0f, 12.0f);
  x[0] = 0.0f;
  x[1] = -2.0f;
  x[2] = 1.0f;
  x[3] = 25.0f;
  x[4] = -90.0f;
  const std::vector<float> dy = uniform_values(shape.size(), 12);
  for (int ai = 0; ai < int(Activation::count); ++ai) {
    const Activation a = Activation(ai);
    SCOPED_TRACE(activation_name(a));
    std::vector<float> y_ref = x;
    ops::activate_reference(a, Tensor{y_ref.data(), shape});
    auto dx = to_device(x);
    cuda::DeviceArray<float> dy_dev(shape.size());
    cuda::activation_forward(a, shape, dx.data(), dy_dev.data());
    expect_close(dy_dev.to_host(), y_ref, 1e-4f, 1e-5f, "forward");

    std::vector<float> grad_ref = dy;
    ops::activation_backward_reference(a, Tensor{grad_ref.data(), shape}, x.data(), y_ref.data());
    auto grad = to_device(dy);
    cuda::activation_backward(a, shape, grad.data(), dx.data(), dy_dev.data());
    expect_close(grad.to_host(), grad_ref, 1e-4f, 1e-5f, "backward");
  }
}

struct BatchNormData {
  explicit BatchNormData(Shape s = Shape{3, 4, 5, 6}) : shape(s) {}
  Shape shape;
  size_t c = size_t(shape.c);
  std::vector<float> x = uniform_values(shape.size(), 21, -3.0f, 5.0f);
  std::vector<float> scales = uniform_values(c, 22, 0.5f, 1.5f);
  std::vector<float> biases = uniform_values(c, 23);
  std::vector<float> rolling_mean = uniform_values(c, 24);
  std::vector<float> rolling_variance = uniform_values(c, 25, 0.5f, 2.0f);
};

TEST(CudaOps, BatchNormInferenceMatchesTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  BatchNormData b;
  std::vector<float> want(b.x.size());
  ops::batchnorm_inference_reference(Tensor{b.x.data(), b.shape}, b.scales.data(), b.biases.data(),
                                     b.rolling_mean.data(), b.rolling_variance.data(), want.data());
  auto x = to_device(b.x), s = to_device(b.scales), bi = to_device(b.biases),
       m = to_device(b.rolling_mean), v = to_device(b.rolling_variance);
  cuda::DeviceArray<float> y(b.x.size());
  cuda::batchnorm_inference(b.shape, x.data(), s.data(), bi.data(), m.data(), v.data(), y.data());
  expect_close(y.to_host(), want, kRtol, kAtol, "y");
}

// Three shapes: one chunk per channel (90 values), many chunks per channel (16384 values in
// 16 chunks, several passes of each thread), many channels (channel_chunks.h).
TEST(CudaOps, BatchNormTrainingForwardAndBackwardMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  for (const Shape shape : {Shape{3, 4, 5, 6}, Shape{4, 3, 64, 64}, Shape{2, 300, 9, 9}}) {
    SCOPED_TRACE(std::to_string(shape.c) + " channels of " + std::to_string(shape.n * shape.h * shape.w));
    BatchNormData b(shape);
    const size_t n = b.x.size(), c = size_t(b.shape.c);
    // Reference.
    std::vector<float> mean(c), variance(c), x_hat(n), y(n);
    std::vector<float> rm = b.rolling_mean, rv = b.rolling_variance;
    ops::BatchNormBuffers buf{mean.data(), variance.data(), x_hat.data()};
    ops::batchnorm_train_forward_reference(Tensor{b.x.data(), b.shape}, b.scales.data(),
                                           b.biases.data(), rm.data(), rv.data(), 0.01f, buf, y.data());
    const std::vector<float> dy = uniform_values(n, 26);
    std::vector<float> dscales(c, 0.5f), dbiases(c, -0.5f), dx(n);
    ops::batchnorm_backward_reference(b.shape, dy.data(), b.scales.data(), buf, dscales.data(),
                                      dbiases.data(), dx.data());
    // GPU.
    auto gx = to_device(b.x), gs = to_device(b.scales), gb = to_device(b.biases),
         grm = to_device(b.rolling_mean), grv = to_device(b.rolling_variance);
    cuda::DeviceArray<float> gmean(c), gvar(c), gxh(n), gy(n);
    cuda::batchnorm_train_forward(b.shape, gx.data(), gs.data(), gb.data(), grm.data(), grv.data(),
                                  0.01f, gmean.data(), gvar.data(), gxh.data(), gy.data());
    expect_close(gmean.to_host(), mean, 1e-5f, 1e-6f, "mean");
    expect_close(gvar.to_host(), variance, 1e-5f, 1e-6f, "variance");
    expect_close(gxh.to_host(), x_hat, 1e-4f, 1e-5f, "x_hat");
    expect_close(gy.to_host(), y, 1e-4f, 1e-5f, "y");
    expect_close(grm.to_host(), rm, 1e-5f, 1e-6f, "rolling mean");
    expect_close(grv.to_host(), rv, 1e-5f, 1e-6f, "rolling variance");

    auto gdy = to_device(dy), gds = to_device(std::vector<float>(c, 0.5f)),
         gdb = to_device(std::vector<float>(c, -0.5f));
    cuda::DeviceArray<float> gdx(n);
    cuda::batchnorm_backward(b.shape, gdy.data(), gs.data(), gvar.data(), gxh.data(), gds.data(),
                             gdb.data(), gdx.data());
    expect_close(gds.to_host(), dscales, 1e-4f, 1e-5f, "dscales");
    expect_close(gdb.to_host(), dbiases, 1e-4f, 1e-5f, "dbiases");
    expect_close(gdx.to_host(), dx, 1e-3f, 1e-5f, "dx");

    // In place (dx aliasing dy), as layers call it.
    cuda::batchnorm_backward(b.shape, gdy.data(), gs.data(), gvar.data(), gxh.data(), gds.data(),
                             gdb.data(), gdy.data());
    expect_close(gdy.to_host(), dx, 1e-3f, 1e-5f, "dx in place");
  }
}

TEST(CudaOps, ActivationBackwardFromBatchNormAndBiasMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  BatchNormData b;
  const size_t n = b.x.size(), c = size_t(b.shape.c);
  const std::vector<float> x_hat = uniform_values(n, 31, -2.0f, 2.0f);
  const std::vector<float> dy = uniform_values(n, 32);
  for (Activation a : {Activation::mish, Activation::leaky, Activation::swish, Activation::logistic,
                       Activation::gelu_erf, Activation::hard_mish}) {
    SCOPED_TRACE(activation_name(a));
    std::vector<float> y(n);
    for (size_t i = 0; i < n; ++i) {
      const int ch = int((i / (size_t(b.shape.h) * b.shape.w)) % c);
      std::vector<float> one = {b.scales[size_t(ch)] * x_hat[i] + b.biases[size_t(ch)]};
      ops::activate_reference(a, Tensor{one.data(), Shape{1, 1, 1, 1}});
      y[i] = one[0];
    }
    std::vector<float> want = dy;
    ops::activation_backward_from_batchnorm_reference(a, b.shape, want.data(), x_hat.data(),
                                                      b.scales.data(), b.biases.data(), y.data());
    auto g = to_device(dy), gxh = to_device(x_hat), gs = to_device(b.scales),
         gb = to_device(b.biases), gy = to_device(y);
    cuda::activation_backward_from_batchnorm(a, b.shape, g.data(), gxh.data(), gs.data(),
                                             gb.data(), gy.data());
    expect_close(g.to_host(), want, 1e-4f, 1e-5f, "delta");
  }

  std::vector<float> with_bias = b.x;
  ops::add_bias_reference(Tensor{with_bias.data(), b.shape}, b.biases.data());
  auto gx = to_device(b.x), gb = to_device(b.biases);
  cuda::add_bias(b.shape, gx.data(), gb.data());
  expect_close(gx.to_host(), with_bias, kRtol, kAtol, "add_bias");

  std::vector<float> dbias(c, 1.0f);
  ops::bias_backward_reference(b.shape, dy.data(), dbias.data());
  auto gdy = to_device(dy), gdbias = to_device(std::vector<float>(c, 1.0f));
  cuda::bias_backward(b.shape, gdy.data(), gdbias.data());
  expect_close(gdbias.to_host(), dbias, 1e-4f, 1e-5f, "bias_backward");

  // Many chunks per channel (channel_chunks.h).
  const Shape big{4, 3, 64, 64};
  const std::vector<float> big_dy = uniform_values(big.size(), 33);
  std::vector<float> big_db(3, 0.25f);
  ops::bias_backward_reference(big, big_dy.data(), big_db.data());
  auto gbig = to_device(big_dy), gbig_db = to_device(std::vector<float>(3, 0.25f));
  cuda::bias_backward(big, gbig.data(), gbig_db.data());
  expect_close(gbig_db.to_host(), big_db, 1e-4f, 1e-4f, "bias_backward, 16 chunks per channel");
}

TEST(CudaOps, RouteChannelCopiesMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const int batch = 2, spatial = 12, src_c = 5, dst_c = 9;
  const std::vector<float> src = uniform_values(size_t(batch) * src_c * spatial, 41);
  std::vector<float> dst = uniform_values(size_t(batch) * dst_c * spatial, 42);
  auto gsrc = to_device(src), gdst = to_device(dst);
  ops::copy_channels(batch, spatial, src.data(), src_c, 1, dst.data(), dst_c, 4, 3);
  cuda::copy_channels(batch, spatial, gsrc.data(), src_c, 1, gdst.data(), dst_c, 4, 3);
  expect_close(gdst.to_host(), dst, 0.0f, 0.0f, "copy_channels");

  std::vector<float> dsrc = uniform_values(src.size(), 43);
  auto gdsrc = to_device(dsrc);
  ops::add_channels(batch, spatial, dst.data(), dst_c, 4, dsrc.data(), src_c, 1, 3);
  cuda::add_channels(batch, spatial, gdst.data(), dst_c, 4, gdsrc.data(), src_c, 1, 3);
  expect_close(gdsrc.to_host(), dsrc, kRtol, kAtol, "add_channels");
}

TEST(CudaOps, UpsampleAndDownsampleMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const int planes = 6, h = 5, w = 7, stride = 2;
  const float scale = 0.75f;
  const std::vector<float> small = uniform_values(size_t(planes) * h * w, 51);
  const std::vector<float> big = uniform_values(small.size() * stride * stride, 52);
  auto gsmall = to_device(small), gbig = to_device(big);

  std::vector<float> up(big.size());
  ops::upsample_nearest_forward(planes, h, w, stride, scale, small.data(), up.data());
  cuda::DeviceArray<float> gup(big.size());
  cuda::upsample_nearest_forward(planes, h, w, stride, scale, gsmall.data(), gup.data());
  expect_close(gup.to_host(), up, kRtol, kAtol, "upsample forward");

  std::vector<float> dsmall(small.size(), 0.25f);
  ops::upsample_nearest_backward(planes, h, w, stride, scale, big.data(), dsmall.data());
  auto gdsmall = to_device(std::vector<float>(small.size(), 0.25f));
  cuda::upsample_nearest_backward(planes, h, w, stride, scale, gbig.data(), gdsmall.data());
  expect_close(gdsmall.to_host(), dsmall, 1e-5f, 1e-6f, "upsample backward");

  std::vector<float> down(small.size());
  ops::downsample_sum_forward(planes, h, w, stride, scale, big.data(), down.data());
  cuda::DeviceArray<float> gdown(small.size());
  cuda::downsample_sum_forward(planes, h, w, stride, scale, gbig.data(), gdown.data());
  expect_close(gdown.to_host(), down, 1e-5f, 1e-6f, "downsample forward");

  std::vector<float> dbig(big.size(), -0.5f);
  ops::downsample_sum_backward(planes, h, w, stride, scale, small.data(), dbig.data());
  auto gdbig = to_device(std::vector<float>(big.size(), -0.5f));
  cuda::downsample_sum_backward(planes, h, w, stride, scale, gsmall.data(), gdbig.data());
  expect_close(gdbig.to_host(), dbig, kRtol, kAtol, "downsample backward");
}

TEST(CudaOps, ShortcutMatchesTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  ops::ShortcutDesc d;
  d.batch = 2;
  d.channels = 4;
  d.spatial = 6;
  // Same size, fewer channels, more channels (Darknet's flat-index rule).
  d.from_sizes = {24, 12, 36};
  const std::vector<float> in = uniform_values(size_t(d.batch) * 24, 61);
  std::vector<std::vector<float>> from;
  for (size_t j = 0; j < d.from_sizes.size(); ++j)
    from.push_back(uniform_values(size_t(d.batch) * size_t(d.from_sizes[j]), 62 + uint32_t(j)));
  const std::vector<float> delta = uniform_values(in.size(), 70);
  for (auto weights : {ops::ShortcutWeights::none, ops::ShortcutWeights::per_feature,
                       ops::ShortcutWeights::per_channel}) {
    d.weights = weights;
    d.normalization = ops::ShortcutNormalization::softmax;
    const std::vector<float> raw = uniform_values(d.weights_count(), 71);
    const std::vector<float> ew = ops::shortcut_effective_weights(d, raw.data());
    std::vector<const float*> from_ptrs;
    for (auto& f : from) from_ptrs.push_back(f.data());
    std::vector<float> out(in.size());
    ops::shortcut_forward(d, in.data(), from_ptrs.data(), raw.empty() ? nullptr : raw.data(),
                          out.data());

    auto gin = to_device(in);
    std::vector<cuda::DeviceArray<float>> gfrom;
    std::vector<const float*> gfrom_ptrs;
    for (auto& f : from) gfrom.push_back(to_device(f));
    for (auto& f : gfrom) gfrom_ptrs.push_back(f.data());
    cuda::DeviceArray<float> gew;
    if (!ew.empty()) gew = to_device(ew);
    cuda::DeviceArray<float> gout(in.size());
    cuda::shortcut_forward(d, gin.data(), gfrom_ptrs.data(), ew.empty() ? nullptr : gew.data(),
                           gout.data());
    expect_close(gout.to_host(), out, 1e-5f, 1e-6f, "forward");

    std::vector<float> d_in(in.size(), 0.5f);
    std::vector<std::vector<float>> d_from;
    std::vector<float*> d_from_ptrs;
    for (auto& f : from) d_from.push_back(std::vector<float>(f.size(), -0.5f));
    for (auto& f : d_from) d_from_ptrs.push_back(f.data());
    ops::shortcut_backward(d, delta.data(), in.data(), from_ptrs.data(),
                           raw.empty() ? nullptr : raw.data(), d_in.data(), d_from_ptrs.data(),
                           nullptr);
    auto gdelta = to_device(delta), gd_in = to_device(std::vector<float>(in.size(), 0.5f));
    std::vector<cuda::DeviceArray<float>> gd_from;
    std::vector<float*> gd_from_ptrs;
    for (auto& f : from) gd_from.push_back(to_device(std::vector<float>(f.size(), -0.5f)));
    for (auto& f : gd_from) gd_from_ptrs.push_back(f.data());
    cuda::shortcut_backward_inputs(d, gdelta.data(), ew.empty() ? nullptr : gew.data(),
                                   gd_in.data(), gd_from_ptrs.data());
    expect_close(gd_in.to_host(), d_in, 1e-5f, 1e-6f, "d_in");
    for (size_t j = 0; j < from.size(); ++j)
      expect_close(gd_from[j].to_host(), d_from[j], 1e-5f, 1e-6f, "d_from");
  }
}

// The learned weights of a weighted shortcut on the device: the effective weights from the raw
// ones, and the raw weights' gradient (through each normalisation) added to a gradient.
TEST(CudaOps, ShortcutWeightGradientMatchesTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  ops::ShortcutDesc d;
  d.batch = 3;
  d.channels = 4;
  d.spatial = 6;
  d.from_sizes = {24, 12, 36};  // same size, fewer channels, more channels
  const std::vector<float> in = uniform_values(size_t(d.batch) * 24, 81);
  std::vector<std::vector<float>> from;
  for (size_t j = 0; j < d.from_sizes.size(); ++j)
    from.push_back(uniform_values(size_t(d.batch) * size_t(d.from_sizes[j]), 82 + uint32_t(j)));
  const std::vector<float> delta = uniform_values(in.size(), 90);
  std::vector<const float*> from_ptrs;
  for (auto& f : from) from_ptrs.push_back(f.data());
  auto gin = to_device(in), gdelta = to_device(delta);
  std::vector<cuda::DeviceArray<float>> gfrom;
  std::vector<const float*> gfrom_ptrs;
  for (auto& f : from) gfrom.push_back(to_device(f));
  for (auto& f : gfrom) gfrom_ptrs.push_back(f.data());
  for (auto weights : {ops::ShortcutWeights::per_feature, ops::ShortcutWeights::per_channel})
    for (auto normalization : {ops::ShortcutNormalization::none, ops::ShortcutNormalization::relu,
                               ops::ShortcutNormalization::softmax}) {
      d.weights = weights;
      d.normalization = normalization;
      SCOPED_TRACE("weights " + std::to_string(int(weights)) + " normalization " +
                   std::to_string(int(normalization)));
      const std::vector<float> raw = uniform_values(d.weights_count(), 91);
      const std::vector<float> ew = ops::shortcut_effective_weights(d, raw.data());
      auto graw = to_device(raw);
      cuda::DeviceArray<float> gew(ew.size());
      cuda::shortcut_effective_weights(d, graw.data(), gew.data());
      expect_close(gew.to_host(), ew, 1e-6f, 1e-7f, "effective weights");

      std::vector<float> d_weights(raw.size(), 0.25f);
      ops::shortcut_backward(d, delta.data(), in.data(), from_ptrs.data(), raw.data(), nullptr,
                             nullptr, d_weights.data());
      auto gd_weights = to_device(std::vector<float>(raw.size(), 0.25f));
      cuda::DeviceArray<double> scratch(size_t(d.inputs()) * size_t(d.channels));
      cuda::shortcut_backward_weights(d, gdelta.data(), gin.data(), gfrom_ptrs.data(),
                                      graw.data(), gew.data(), scratch.data(), gd_weights.data());
      expect_close(gd_weights.to_host(), d_weights, 1e-5f, 1e-6f, "d_weights");
    }
}

ops::Pool2dDesc pool_desc(int size, int stride, int padding) {
  ops::Pool2dDesc d;
  d.batch = 2;
  d.channels = 3;
  d.in_h = 9;
  d.in_w = 8;
  d.size = size;
  d.stride_x = d.stride_y = stride;
  d.padding = padding;
  d.out_h = ops::pool2d_output_extent(d.in_h, size, stride, padding);
  d.out_w = ops::pool2d_output_extent(d.in_w, size, stride, padding);
  return d;
}

TEST(CudaOps, PoolingForwardAndBackwardMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  // Darknet's shapes: 2/2, 3/1 padded (overlapping windows), 5/1 (the SPP block), 3/2.
  for (auto [size, stride, padding] : {std::tuple{2, 2, 0}, std::tuple{3, 1, 2},
                                       std::tuple{5, 1, 4}, std::tuple{3, 2, 1}}) {
    SCOPED_TRACE("size " + std::to_string(size) + " stride " + std::to_string(stride));
    const ops::Pool2dDesc d = pool_desc(size, stride, padding);
    const size_t in_n = size_t(d.batch) * d.channels * d.in_h * d.in_w;
    const size_t out_n = size_t(d.batch) * d.channels * d.out_h * d.out_w;
    std::vector<float> src = uniform_values(in_n, 81);
    src[3] = src[4];  // a tie: the first wins on both
    const std::vector<float> ddst = uniform_values(out_n, 82);
    auto gsrc = to_device(src), gddst = to_device(ddst);

    std::vector<float> dst(out_n);
    std::vector<int32_t> argmax(out_n);
    ops::maxpool2d_forward(d, src.data(), dst.data(), argmax.data());
    cuda::DeviceArray<float> gdst(out_n);
    cuda::DeviceArray<int32_t> gargmax(out_n);
    cuda::maxpool2d_forward(d, gsrc.data(), gdst.data(), gargmax.data());
    expect_close(gdst.to_host(), dst, 0.0f, 0.0f, "maxpool forward");
    EXPECT_EQ(gargmax.to_host(), argmax);

    std::vector<float> dsrc(in_n, 0.5f);
    ops::maxpool_backward(d.batch, int(out_n / d.batch), int(in_n / d.batch), ddst.data(),
                          argmax.data(), dsrc.data());
    auto gdsrc = to_device(std::vector<float>(in_n, 0.5f));
    cuda::maxpool2d_backward(d, gddst.data(), gargmax.data(), gdsrc.data());
    expect_close(gdsrc.to_host(), dsrc, 1e-5f, 1e-6f, "maxpool backward");

    ops::avgpool2d_forward(d, src.data(), dst.data());
    cuda::avgpool2d_forward(d, gsrc.data(), gdst.data());
    expect_close(gdst.to_host(), dst, 1e-5f, 1e-6f, "avgpool forward");

    std::fill(dsrc.begin(), dsrc.end(), 0.5f);
    ops::avgpool2d_backward(d, ddst.data(), dsrc.data());
    auto gdsrc2 = to_device(std::vector<float>(in_n, 0.5f));
    cuda::avgpool2d_backward(d, gddst.data(), gdsrc2.data());
    expect_close(gdsrc2.to_host(), dsrc, 1e-5f, 1e-6f, "avgpool backward");
  }

  const int batch = 3, channels = 4, spatial = 49;
  const std::vector<float> src = uniform_values(size_t(batch) * channels * spatial, 83);
  std::vector<float> dst(size_t(batch) * channels);
  ops::global_avgpool_forward(batch, channels, spatial, src.data(), dst.data());
  auto gsrc = to_device(src);
  cuda::DeviceArray<float> gdst(dst.size());
  cuda::global_avgpool_forward(batch, channels, spatial, gsrc.data(), gdst.data());
  expect_close(gdst.to_host(), dst, 1e-5f, 1e-6f, "global avgpool forward");
  std::vector<float> dsrc(src.size(), 1.0f);
  ops::global_avgpool_backward(batch, channels, spatial, dst.data(), dsrc.data());
  auto gdsrc = to_device(std::vector<float>(src.size(), 1.0f));
  cuda::global_avgpool_backward(batch, channels, spatial, gdst.data(), gdsrc.data());
  expect_close(gdsrc.to_host(), dsrc, 1e-5f, 1e-6f, "global avgpool backward");
}

TEST(CudaOps, MaxpoolDepthReorgBroadcastAndDropoutMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  {
    const int batch = 2, channels = 12, h = 3, w = 4, out_c = 4;
    const size_t in_n = size_t(batch) * channels * h * w, out_n = size_t(batch) * out_c * h * w;
    const std::vector<float> src = uniform_values(in_n, 141), ddst = uniform_values(out_n, 142);
    std::vector<float> dst(out_n), dsrc(in_n, 0.5f);
    std::vector<int32_t> argmax(out_n);
    ops::maxpool_depth_forward(batch, channels, h, w, out_c, src.data(), dst.data(), argmax.data());
    ops::maxpool_backward(batch, int(out_n / batch), int(in_n / batch), ddst.data(), argmax.data(),
                          dsrc.data());
    auto gsrc = to_device(src), gddst = to_device(ddst), gdsrc = to_device(std::vector<float>(in_n, 0.5f));
    cuda::DeviceArray<float> gdst(out_n);
    cuda::DeviceArray<int32_t> gargmax(out_n);
    cuda::maxpool_depth_forward(batch, channels, h, w, out_c, gsrc.data(), gdst.data(), gargmax.data());
    cuda::maxpool_depth_backward(batch, channels, h, w, out_c, gddst.data(), gargmax.data(), gdsrc.data());
    expect_close(gdst.to_host(), dst, 0.0f, 0.0f, "maxpool_depth forward");
    EXPECT_EQ(gargmax.to_host(), argmax);
    expect_close(gdsrc.to_host(), dsrc, 1e-6f, 1e-7f, "maxpool_depth backward");
  }
  {
    ops::ReorgGeometry g;
    g.batch = 2;
    g.channels = 8;
    g.height = 3;
    g.width = 5;
    g.stride = 2;
    const size_t n = size_t(g.batch) * g.channels * g.height * g.width;
    const std::vector<float> space = uniform_values(n, 143);
    std::vector<float> depth(n, 1.0f), back(n, 2.0f);
    ops::reorg_space_to_depth_reference(g, space.data(), depth.data(), true);
    ops::reorg_depth_to_space_reference(g, depth.data(), back.data(), false);
    auto gspace = to_device(space), gdepth = to_device(std::vector<float>(n, 1.0f));
    cuda::DeviceArray<float> gback(n);
    cuda::reorg_space_to_depth(g, gspace.data(), gdepth.data(), true);
    cuda::reorg_depth_to_space(g, gdepth.data(), gback.data(), false);
    expect_close(gdepth.to_host(), depth, 0.0f, 0.0f, "reorg space to depth (accumulate)");
    expect_close(gback.to_host(), back, 0.0f, 0.0f, "reorg depth to space");
  }
  {
    const Shape shape{2, 3, 4, 5};
    const std::vector<float> x = uniform_values(shape.size(), 144), dy = uniform_values(shape.size(), 145);
    for (auto [mode, factors] : {std::pair{ops::Broadcast::elementwise, shape.size()},
                                 std::pair{ops::Broadcast::per_channel, size_t(6)},
                                 std::pair{ops::Broadcast::per_position, size_t(40)}}) {
      const std::vector<float> s = uniform_values(factors, 146);
      std::vector<float> xs = x, y(shape.size()), dx(shape.size(), 0.5f), ds(factors, -0.5f);
      ops::broadcast_multiply_reference(Tensor{xs.data(), shape}, s.data(), mode, y.data());
      ops::broadcast_multiply_backward_reference(shape, mode, dy.data(), x.data(), s.data(),
                                                 dx.data(), ds.data());
      auto gx = to_device(x), gs = to_device(s), gdy = to_device(dy),
           gdx = to_device(std::vector<float>(shape.size(), 0.5f)),
           gds = to_device(std::vector<float>(factors, -0.5f));
      cuda::DeviceArray<float> gy(shape.size());
      cuda::broadcast_multiply(shape, mode, gx.data(), gs.data(), gy.data());
      cuda::broadcast_multiply_backward(shape, mode, gdy.data(), gx.data(), gs.data(), gdx.data(),
                                        gds.data());
      expect_close(gy.to_host(), y, 0.0f, 0.0f, "broadcast multiply");
      expect_close(gdx.to_host(), dx, 1e-6f, 1e-7f, "broadcast multiply dx");
      expect_close(gds.to_host(), ds, 1e-5f, 1e-6f, "broadcast multiply ds");
    }
  }
  {
    const size_t n = 500;
    std::mt19937_64 rng(7);
    std::vector<uint8_t> keep(n);
    ops::dropout_draw_mask(rng, 0.3f, n, keep.data());
    const std::vector<float> in = uniform_values(n, 147), dout = uniform_values(n, 148);
    const float scale = 1.0f / 0.7f;
    std::vector<float> out(n), din(n, 0.25f);
    ops::dropout_forward(n, in.data(), keep.data(), scale, out.data());
    ops::dropout_backward(n, dout.data(), keep.data(), scale, din.data());
    cuda::DeviceArray<uint8_t> gkeep(keep);
    auto gin = to_device(in), gdout = to_device(dout), gdin = to_device(std::vector<float>(n, 0.25f));
    cuda::DeviceArray<float> gout(n);
    cuda::dropout_forward(n, gin.data(), gkeep.data(), scale, gout.data());
    cuda::dropout_backward(n, gdout.data(), gkeep.data(), scale, gdin.data());
    expect_close(gout.to_host(), out, 0.0f, 0.0f, "dropout forward");
    expect_close(gdin.to_host(), din, 0.0f, 0.0f, "dropout backward");
  }
}

TEST(CudaOps, CropImplicitAndAccumulateMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const Shape shape{2, 3, 7, 9};
  const std::vector<float> x = uniform_values(shape.size(), 161);
  ops::CropWindow win;
  win.top = 1;
  win.left = 2;
  win.out_h = 5;
  win.out_w = 6;
  win.flip = true;
  win.scale = 2.0f;
  win.shift = -1.0f;
  const size_t out_n = size_t(shape.n) * shape.c * win.out_h * win.out_w;
  const std::vector<float> dy = uniform_values(out_n, 162);
  std::vector<float> xs = x, y(out_n), dx(x.size(), 0.5f);
  ops::crop_reference(Tensor{xs.data(), shape}, win, y.data());
  ops::crop_backward_reference(shape, win, dy.data(), dx.data());
  auto gx = to_device(x), gdy = to_device(dy), gdx = to_device(std::vector<float>(x.size(), 0.5f));
  cuda::DeviceArray<float> gy(out_n);
  cuda::crop(shape, gx.data(), win, gy.data());
  cuda::crop_backward(shape, win, gdy.data(), gdx.data());
  expect_close(gy.to_host(), y, 0.0f, 0.0f, "crop");
  expect_close(gdx.to_host(), dx, 1e-6f, 1e-7f, "crop backward");

  const size_t count = 50;
  const int batch = 3;
  const std::vector<float> one = uniform_values(count, 163), many = uniform_values(count * batch, 164);
  std::vector<float> repeated(count * batch), summed(count, 1.0f), acc = one;
  ops::broadcast_over_batch_reference(one.data(), count, batch, repeated.data());
  ops::sum_over_batch_reference(many.data(), count, batch, summed.data());
  ops::accumulate_reference(many.data(), count, acc.data());
  auto gone = to_device(one), gmany = to_device(many), gsummed = to_device(std::vector<float>(count, 1.0f)),
       gacc = to_device(one);
  cuda::DeviceArray<float> grepeated(count * batch);
  cuda::broadcast_over_batch(gone.data(), count, batch, grepeated.data());
  cuda::sum_over_batch(gmany.data(), count, batch, gsummed.data());
  cuda::accumulate(gmany.data(), count, gacc.data());
  expect_close(grepeated.to_host(), repeated, 0.0f, 0.0f, "broadcast over batch");
  expect_close(gsummed.to_host(), summed, 1e-6f, 1e-7f, "sum over batch");
  expect_close(gacc.to_host(), acc, 0.0f, 0.0f, "accumulate");
}

TEST(CudaOps, SoftmaxAndCrossEntropyMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const int images = 3, groups = 2, group_size = 10, image_size = groups * group_size;
  const std::vector<float> src = uniform_values(size_t(images) * image_size, 91, -5.0f, 5.0f);
  std::vector<float> p(src.size());
  ops::softmax_groups_reference(src.data(), p.data(), images, image_size, groups, group_size, 2.0f);
  auto gsrc = to_device(src);
  cuda::DeviceArray<float> gp(src.size());
  cuda::softmax_groups(gsrc.data(), gp.data(), images, image_size, groups, group_size, 2.0f);
  expect_close(gp.to_host(), p, 1e-5f, 1e-7f, "softmax groups");

  std::vector<float> pc(src.size());
  ops::softmax_channels_reference(src.data(), pc.data(), images, 4, 5, 1.0f);
  cuda::softmax_channels(gsrc.data(), gp.data(), images, 4, 5, 1.0f);
  expect_close(gp.to_host(), pc, 1e-5f, 1e-7f, "softmax channels");

  // One-hot truth per group; the layer's formulas (layers/softmax.cpp) through kernels/softmax.h.
  std::vector<float> truth(src.size(), 0.0f);
  for (int g = 0; g < images * groups; ++g) truth[size_t(g) * group_size + size_t(g % group_size)] = 1.0f;
  double loss = 0.0;
  std::vector<float> delta(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    loss += kernels::cross_entropy_term(p[i], truth[i]);
    delta[i] = kernels::softmax_cross_entropy_gradient(p[i], truth[i], 0.5f);
  }
  auto gp2 = to_device(p), gt = to_device(truth);
  cuda::DeviceArray<float> gdelta(src.size());
  const double gloss = cuda::softmax_cross_entropy(gp2.data(), gt.data(), gdelta.data(), src.size(), 2.0f);
  EXPECT_NEAR(gloss, loss, 1e-5 * loss);
  expect_close(gdelta.to_host(), delta, 0.0f, 0.0f, "cross-entropy delta");
}

TEST(CudaOps, SoftmaxBackwardAndInputConversionMatchTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const int images = 2, groups = 3, group_size = 7, image_size = groups * group_size;
  const std::vector<float> z = uniform_values(size_t(images) * image_size, 151, -4.0f, 4.0f),
                           dy = uniform_values(z.size(), 152);
  std::vector<float> p(z.size());
  ops::softmax_groups_reference(z.data(), p.data(), images, image_size, groups, group_size, 1.5f);
  std::vector<float> dx(z.size(), 0.5f);
  for (int g = 0; g < images * groups; ++g)
    cuda::softmax_backward_strided(p.data() + size_t(g) * group_size, dy.data() + size_t(g) * group_size,
                                   dx.data() + size_t(g) * group_size, group_size, 1, 1.5f);
  auto gp = to_device(p), gdy = to_device(dy), gdx = to_device(std::vector<float>(z.size(), 0.5f));
  cuda::softmax_groups_backward(gp.data(), gdy.data(), gdx.data(), images, image_size, groups,
                                group_size, 1.5f);
  expect_close(gdx.to_host(), dx, 1e-5f, 1e-7f, "softmax groups backward");

  // Channels: 3 channels x 7 positions per image.
  std::vector<float> dxc(z.size(), 0.5f);
  for (int b = 0; b < images; ++b)
    for (int q = 0; q < 7; ++q) {
      const size_t base = size_t(b) * image_size + size_t(q);
      cuda::softmax_backward_strided(p.data() + base, dy.data() + base, dxc.data() + base, 3, 7, 1.5f);
    }
  auto gdxc = to_device(std::vector<float>(z.size(), 0.5f));
  cuda::softmax_channels_backward(gp.data(), gdy.data(), gdxc.data(), images, 3, 7, 1.5f);
  expect_close(gdxc.to_host(), dxc, 1e-5f, 1e-7f, "softmax channels backward");

  const int batch = 2, h = 5, w = 6, channels = 3;
  std::vector<uint8_t> bytes(size_t(batch) * h * w * channels);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t((i * 53) % 256);
  std::vector<float> planar(bytes.size());
  for (size_t i = 0; i < planar.size(); ++i)
    planar[i] = cuda::planar_value_from_interleaved(bytes.data(), h, w, channels, i);
  cuda::DeviceArray<uint8_t> gbytes(bytes);
  cuda::DeviceArray<float> gplanar(planar.size());
  cuda::planar_from_interleaved(gbytes.data(), gplanar.data(), batch, h, w, channels);
  expect_close(gplanar.to_host(), planar, 0.0f, 0.0f, "input conversion");
}

TEST(CudaOps, OptimizerUpdatesMatchTheCpuArithmetic) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const size_t n = 1000;
  const std::vector<float> w0 = uniform_values(n, 101), v0 = uniform_values(n, 102, 0.0f, 1.0f),
                           g = uniform_values(n, 103, -10.0f, 10.0f);
  const kernels::SgdStep sgd{0.001f / 64, 0.0005f * 64, 0.9f};
  std::vector<float> w = w0, v = v0;
  for (size_t i = 0; i < n; ++i) kernels::sgd_update(sgd, w[i], v[i], g[i]);
  auto gw = to_device(w0), gv = to_device(v0), gg = to_device(g);
  cuda::sgd_update(sgd, gw.data(), gv.data(), gg.data(), n);
  expect_close(gw.to_host(), w, 1e-6f, 1e-7f, "sgd w");
  expect_close(gv.to_host(), v, 1e-6f, 1e-7f, "sgd v");

  const kernels::AdamStep adam{0.001f, 1.0f / 64, 0.0005f, 0.9f, 0.999f, 0.1f, 0.001f, 1e-7f};
  std::vector<float> aw = w0, m = v0, s = v0;
  for (size_t i = 0; i < n; ++i) kernels::adam_update(adam, aw[i], m[i], s[i], g[i]);
  auto gaw = to_device(w0), gm = to_device(v0), gs = to_device(v0);
  cuda::adam_update(adam, gaw.data(), gm.data(), gs.data(), gg.data(), n);
  expect_close(gaw.to_host(), aw, 1e-6f, 1e-7f, "adam w");
  expect_close(gm.to_host(), m, 1e-6f, 1e-7f, "adam m");
  expect_close(gs.to_host(), s, 1e-6f, 1e-7f, "adam s");
}

TEST(CudaOps, YoloAndRegionActivationsMatchTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  ops::HeadDesc d;
  d.batch = 2;
  d.anchors = 3;
  d.entries = 5 + 4;
  d.spatial = 13 * 13;
  const std::vector<float> src =
      uniform_values(size_t(d.batch) * d.anchors * d.entries * d.spatial, 111, -8.0f, 8.0f);
  for (bool new_coords : {false, true}) {
    std::vector<float> want(src.size());
    ops::yolo_activate_reference(d, src.data(), want.data(), 1.05f, new_coords);
    auto gsrc = to_device(src);
    cuda::DeviceArray<float> gdst(src.size());
    cuda::yolo_activate(d, gsrc.data(), gdst.data(), 1.05f, new_coords);
    expect_close(gdst.to_host(), want, kRtol, kAtol, new_coords ? "new_coords" : "logistic");
  }
  for (bool softmax : {false, true}) {
    std::vector<float> want(src.size());
    ops::region_activate_reference(d, src.data(), want.data(), softmax);
    auto gsrc = to_device(src);
    cuda::DeviceArray<float> gdst(src.size());
    cuda::region_activate(d, gsrc.data(), gdst.data(), softmax);
    expect_close(gdst.to_host(), want, 1e-5f, 1e-6f, softmax ? "region softmax" : "region");
  }
}

struct ConvCase {
  int batch, in_c, hw, out_c, k, stride, pad, dilation, groups;
};

ops::Conv2dDesc conv_desc(const ConvCase& c) {
  ops::Conv2dDesc d;
  d.batch = c.batch;
  d.in_c = c.in_c;
  d.in_h = d.in_w = c.hw;
  d.out_c = c.out_c;
  d.kernel_h = d.kernel_w = c.k;
  d.stride_h = d.stride_w = c.stride;
  d.pad_h = d.pad_w = c.pad;
  d.dilation = c.dilation;
  d.groups = c.groups;
  d.out_h = d.out_w = (c.hw + 2 * c.pad - c.dilation * (c.k - 1) - 1) / c.stride + 1;
  return d;
}

TEST(CudaOps, CudnnConvolutionMatchesTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  for (const ConvCase& c : {ConvCase{2, 3, 17, 8, 3, 1, 1, 1, 1}, ConvCase{2, 8, 16, 16, 3, 2, 1, 1, 1},
                            ConvCase{1, 16, 9, 8, 1, 1, 0, 1, 1}, ConvCase{2, 8, 12, 8, 3, 1, 1, 1, 8},
                            ConvCase{2, 8, 12, 12, 3, 1, 2, 2, 4}}) {
    const ops::Conv2dDesc d = conv_desc(c);
    SCOPED_TRACE("in " + std::to_string(c.in_c) + " k " + std::to_string(c.k) + " stride " +
                 std::to_string(c.stride) + " groups " + std::to_string(c.groups));
    const size_t x_n = size_t(d.batch) * d.in_c * d.in_h * d.in_w;
    const size_t y_n = size_t(d.batch) * d.out_c * d.out_h * d.out_w;
    const std::vector<float> x = uniform_values(x_n, 121), w = uniform_values(d.weights_count(), 122),
                             bias = uniform_values(size_t(d.out_c), 123), dy = uniform_values(y_n, 124);
    std::vector<float> y(y_n);
    ops::conv2d_reference(d, x.data(), w.data(), bias.data(), y.data());
    std::vector<float> dx(x_n, 0.5f), dw(w.size(), -0.5f);
    ops::conv2d_backward_data_reference(d, dy.data(), w.data(), dx.data());
    ops::conv2d_backward_weights_reference(d, x.data(), dy.data(), dw.data());

    cuda::CudnnConvolution conv(d, size_t(64) << 20);
    auto gx = to_device(x), gw = to_device(w), gb = to_device(bias), gdy = to_device(dy);
    cuda::DeviceArray<float> gy(y_n);
    conv.forward(gx.data(), gw.data(), gb.data(), gy.data());
    expect_close(gy.to_host(), y, 1e-4f, 1e-4f, "forward");
    auto gdx = to_device(std::vector<float>(x_n, 0.5f)), gdw = to_device(std::vector<float>(w.size(), -0.5f));
    conv.backward_data(gdy.data(), gw.data(), gdx.data());
    conv.backward_filter(gx.data(), gdy.data(), gdw.data());
    expect_close(gdx.to_host(), dx, 1e-4f, 1e-4f, "backward data");
    expect_close(gdw.to_host(), dw, 1e-4f, 1e-4f, "backward filter");
  }
}

TEST(CudaOps, CudnnConvolutionHonoursAZeroWorkspaceLimit) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const ops::Conv2dDesc d = conv_desc({2, 16, 20, 32, 3, 1, 1, 1, 1});
  cuda::CudnnConvolution conv(d, 0);
  EXPECT_EQ(conv.workspace_bytes(), 0u);
}

// Inference convolutions choose only a forward algorithm: no larger workspace for backward
// algorithms they never run, and a backward call is an error.
TEST(CudaOps, CudnnConvolutionForwardOnly) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const ops::Conv2dDesc d = conv_desc({2, 16, 20, 32, 3, 1, 1, 1, 1});
  cuda::CudnnConvolution all(d, size_t(64) << 20);
  cuda::CudnnConvolution forward(d, size_t(64) << 20,
                                 cuda::CudnnConvolution::Directions::forward_only);
  EXPECT_EQ(forward.forward_algorithm(), all.forward_algorithm());
  EXPECT_LE(forward.workspace_bytes(), all.workspace_bytes());
  EXPECT_ERROR_CONTAINS(forward.backward_data(nullptr, nullptr, nullptr), "forward-only");
  EXPECT_ERROR_CONTAINS(forward.backward_filter(nullptr, nullptr, nullptr), "forward-only");
}

TEST(CudaOps, CublasInnerProductMatchesTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  ops::InnerProductDesc d;
  d.batch = 4;
  d.inputs = 37;
  d.outputs = 11;
  const std::vector<float> src = uniform_values(size_t(d.batch) * d.inputs, 131),
                           w = uniform_values(d.weights_count(), 132),
                           bias = uniform_values(size_t(d.outputs), 133),
                           ddst = uniform_values(size_t(d.batch) * d.outputs, 134);
  std::vector<float> dst(ddst.size()), dsrc(src.size(), 0.5f), dw(w.size(), -0.5f);
  ops::inner_product_reference(d, src.data(), w.data(), bias.data(), dst.data());
  ops::inner_product_backward_data_reference(d, ddst.data(), w.data(), dsrc.data());
  ops::inner_product_backward_weights_reference(d, src.data(), ddst.data(), dw.data());
  auto gsrc = to_device(src), gw = to_device(w), gb = to_device(bias), gddst = to_device(ddst);
  cuda::DeviceArray<float> gdst(dst.size());
  cuda::inner_product_forward(d, gsrc.data(), gw.data(), gb.data(), gdst.data());
  expect_close(gdst.to_host(), dst, 1e-4f, 1e-5f, "forward");
  auto gdsrc = to_device(std::vector<float>(src.size(), 0.5f)), gdw = to_device(std::vector<float>(w.size(), -0.5f));
  cuda::inner_product_backward_data(d, gddst.data(), gw.data(), gdsrc.data());
  cuda::inner_product_backward_weights(d, gsrc.data(), gddst.data(), gdw.data());
  expect_close(gdsrc.to_host(), dsrc, 1e-4f, 1e-5f, "backward data");
  expect_close(gdw.to_host(), dw, 1e-4f, 1e-5f, "backward weights");
}

#else

TEST(CudaOps, BuiltWithoutCuda) { GTEST_SKIP() << "built without CUDA (MISHNET_CUDA=OFF or no nvcc)"; }

#endif

}  // namespace
}  // namespace mishnet
