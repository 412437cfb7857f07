// How an inference convolution on the GPU applies its bias and activation (the "epilogue"):
// inside cuDNN's fused convolution + bias + activation call where cuDNN allows it, otherwise in
// one element-wise pass after the convolution. Plain host logic (no cuDNN types), tested on the
// CPU (CudaGeometry.ConvEpilogue*); cudnn_convolution.cpp carries it out.
#pragma once
#include <cstddef>

#include "kernels/activations.h"
#include "kernels/host_device.h"
#include "mishnet/activation.h"

namespace mishnet::cuda {

enum class ConvEpilogue {
  none,                    // linear, no bias: the convolution alone
  cudnn_fused_relu,        // cudnnConvolutionBiasActivationForward with CUDNN_ACTIVATION_RELU
  cudnn_fused_identity,    // the same call with CUDNN_ACTIVATION_IDENTITY (bias only)
  bias_activation_kernel,  // convolution, then y = f(y + bias) in one pass (bias may be absent)
  bias_then_activation,    // convolution + bias, then an activation across channels
};

// cudnnConvolutionFwdAlgo_t's CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM (checked against
// cuDNN's header where the header is included).
inline constexpr int kCudnnImplicitPrecompGemm = 1;

// cuDNN fuses only ReLU and identity, identity only with the implicit precomputed GEMM
// algorithm, and always adds a bias (cuDNN 9 documentation of
// cudnnConvolutionBiasActivationForward). Darknet's relu is max(0, x), cuDNN's too.
inline ConvEpilogue choose_conv_epilogue(Activation a, bool has_bias, int forward_algorithm) {
  if (!activation_is_elementwise(a)) return ConvEpilogue::bias_then_activation;
  if (a == Activation::relu && has_bias) return ConvEpilogue::cudnn_fused_relu;
  if (a == Activation::linear) {
    if (!has_bias) return ConvEpilogue::none;
    if (forward_algorithm == kCudnnImplicitPrecompGemm) return ConvEpilogue::cudnn_fused_identity;
  }
  return ConvEpilogue::bias_activation_kernel;
}

// The per-element body of bias_activation_kernel: element i of an NCHW tensor with `channels`
// channels of `spatial` pixels gets its channel's bias, then the activation.
MISHNET_HD float bias_activate_element(Activation a, const float* y, const float* bias,
                                              size_t i, int channels, size_t spatial) {
  const float v = bias ? y[i] + bias[(i / spatial) % size_t(channels)] : y[i];
  return kernels::activate(a, v);
}

}  // namespace mishnet::cuda
