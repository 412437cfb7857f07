// The epilogue of GPU inference convolutions (backend/cuda/conv_epilogue.h): which activations
// cuDNN fuses, and the one-pass bias + activation body the other activations use, checked on
// the CPU against the reference convolution and activation; the GPU test runs the real calls.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/cuda/conv_epilogue.h"
#include "cuda_test_util.h"
#include "ops/activation_op.h"
#include "ops/conv2d.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cudnn_convolution.h"
#endif

namespace mishnet {
namespace {

using cuda::ConvEpilogue;
using test::expect_close;
using test::uniform_values;

ops::Conv2dDesc small_conv(int batch, int in_c, int hw, int out_c, int k, int stride) {
  ops::Conv2dDesc d;
  d.batch = batch;
  d.in_c = in_c;
  d.in_h = d.in_w = hw;
  d.out_c = out_c;
  d.kernel_h = d.kernel_w = k;
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = k / 2;
  d.out_h = d.out_w = (hw + 2 * (k / 2) - k) / stride + 1;
  return d;
}

TEST(CudaGeometry, ConvEpilogueFusesOnlyWhatCudnnAllows) {
  const int precomp = cuda::kCudnnImplicitPrecompGemm, other = 6;  // 6: WINOGRAD_NONFUSED
  EXPECT_EQ(cuda::choose_conv_epilogue(Activation::relu, true, other), ConvEpilogue::cudnn_fused_relu);
  EXPECT_EQ(cuda::choose_conv_epilogue(Activation::relu, true, precomp), ConvEpilogue::cudnn_fused_relu);
  // cuDNN's fused call always adds a bias.
  EXPECT_EQ(cuda::choose_conv_epilogue(Activation::relu, false, other),
            ConvEpilogue::bias_activation_kernel);
  // Identity only with the implicit precomputed GEMM.
  EXPECT_EQ(cuda::choose_conv_epilogue(Activation::linear, true, precomp),
            ConvEpilogue::cudnn_fused_identity);
  EXPECT_EQ(cuda::choose_conv_epilogue(Activation::linear, true, other),
            ConvEpilogue::bias_activation_kernel);
  EXPECT_EQ(cuda::choose_conv_epilogue(Activation::linear, false, other), ConvEpilogue::none);
  // Every other element-wise activation: one pass after the convolution.
  for (Activation a : {Activation::mish, Activation::leaky, Activation::logistic, Activation::swish,
                       Activation::relu6, Activation::hard_mish, Activation::tanh})
    EXPECT_EQ(cuda::choose_conv_epilogue(a, true, precomp), ConvEpilogue::bias_activation_kernel)
        << activation_name(a);
  // Across channels: bias with the convolution, then the activation kernel.
  EXPECT_EQ(cuda::choose_conv_epilogue(Activation::normalize_channels_softmax, true, precomp),
            ConvEpilogue::bias_then_activation);
}

// The kernel's per-element body, run for every element on the CPU after a bias-free reference
// convolution, equals the reference convolution with bias followed by the reference activation.
TEST(CudaGeometry, BiasActivationBodyMatchesTheReference) {
  const ops::Conv2dDesc d = small_conv(2, 5, 9, 7, 3, 1);
  const size_t x_n = size_t(d.batch) * d.in_c * d.in_h * d.in_w;
  const size_t y_n = size_t(d.batch) * d.out_c * d.out_h * d.out_w;
  const size_t spatial = size_t(d.out_h) * d.out_w;
  const std::vector<float> x = uniform_values(x_n, 301), w = uniform_values(d.weights_count(), 302),
                           bias = uniform_values(size_t(d.out_c), 303, -2.0f, 2.0f);
  for (Activation a : {Activation::mish, Activation::leaky, Activation::relu, Activation::linear,
                       Activation::swish}) {
    SCOPED_TRACE(activation_name(a));
    std::vector<float> want(y_n), conv(y_n);
    ops::conv2d_reference(d, x.data(), w.data(), bias.data(), want.data());
    ops::activate_reference(a, Tensor{want.data(), Shape{d.batch, d.out_c, d.out_h, d.out_w}});
    ops::conv2d_reference(d, x.data(), w.data(), nullptr, conv.data());
    std::vector<float> got(y_n);
    for (size_t i = 0; i < y_n; ++i)
      got[i] = cuda::bias_activate_element(a, conv.data(), bias.data(), i, d.out_c, spatial);
    expect_close(got, want, 1e-6f, 1e-6f, "with bias");
    // Without a bias the body is the activation alone.
    std::vector<float> plain = conv;
    ops::activate_reference(a, Tensor{plain.data(), Shape{d.batch, d.out_c, d.out_h, d.out_w}});
    for (size_t i = 0; i < y_n; ++i)
      got[i] = cuda::bias_activate_element(a, conv.data(), nullptr, i, d.out_c, spatial);
    expect_close(got, plain, 0.0f, 0.0f, "without bias");
  }
}

#if defined(MISHNET_HAVE_CUDA)
// Every epilogue on the device against the reference: cuDNN's fused relu and identity (the
// implicit precomputed GEMM forced, the only algorithm cuDNN fuses identity with), the one-pass
// kernel (linear on another algorithm, mish, leaky), and an activation across channels. Every
// branch must have run.
TEST(CudaOps, FusedConvolutionBiasActivationMatchesTheReference) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  std::vector<bool> seen(5, false);
  for (const ops::Conv2dDesc& d : {small_conv(2, 8, 13, 16, 3, 1), small_conv(1, 16, 10, 8, 1, 1),
                                   small_conv(2, 8, 16, 16, 3, 2)}) {
    const size_t x_n = size_t(d.batch) * d.in_c * d.in_h * d.in_w;
    const size_t y_n = size_t(d.batch) * d.out_c * d.out_h * d.out_w;
    const std::vector<float> x = uniform_values(x_n, 311), w = uniform_values(d.weights_count(), 312),
                             bias = uniform_values(size_t(d.out_c), 313);
    for (const int algorithm : {-1, cuda::kCudnnImplicitPrecompGemm, 0}) {  // -1: cuDNN's choice
      const size_t limit = size_t(64) << 20;
      cuda::CudnnConvolution conv(d, limit, cuda::CudnnConvolution::Directions::forward_only);
      if (algorithm >= 0) conv.force_forward_algorithm(algorithm);  // 0: IMPLICIT_GEMM
      for (Activation a : {Activation::relu, Activation::linear, Activation::mish, Activation::leaky,
                           Activation::normalize_channels_softmax}) {
        seen[size_t(conv.epilogue(a, true))] = true;
        SCOPED_TRACE(std::string(activation_name(a)) + " algorithm " + std::to_string(algorithm) +
                     " epilogue " + std::to_string(int(conv.epilogue(a, true))));
        std::vector<float> want(y_n);
        ops::conv2d_reference(d, x.data(), w.data(), bias.data(), want.data());
        ops::activate_reference(a, Tensor{want.data(), Shape{d.batch, d.out_c, d.out_h, d.out_w}});
        auto gx = test::to_device(x), gw = test::to_device(w), gb = test::to_device(bias);
        cuda::DeviceArray<float> gy(y_n);
        conv.forward_activation(gx.data(), gw.data(), gb.data(), a, gy.data());
        expect_close(gy.to_host(), want, 1e-4f, 1e-4f, "forward_activation");
      }
    }
  }
  for (ConvEpilogue e : {ConvEpilogue::cudnn_fused_relu, ConvEpilogue::cudnn_fused_identity,
                         ConvEpilogue::bias_activation_kernel, ConvEpilogue::bias_then_activation})
    EXPECT_TRUE(seen[size_t(e)]) << "epilogue " << int(e) << " never ran";
}
#endif

}  // namespace
}  // namespace mishnet
