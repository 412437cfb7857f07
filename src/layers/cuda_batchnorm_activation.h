// [convolutional] and [connected] in GPU training, after their linear part: batch norm on the
// batch's statistics (x_hat kept) or, without it, the pre-activation kept when the activation's
// gradient needs it; then the activation. The backward is their CPU backward's: the activation
// through the pre-activation recomputed from x_hat (memory-efficient Mish), batch norm, or the
// bias. One copy for both layers (docs/gpu.md, "Training on the GPU").
#pragma once
#if defined(MISHNET_HAVE_CUDA)
#include <cstddef>
#include <vector>

#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#include "mishnet/activation.h"
#include "mishnet/layer.h"
#include "mishnet/shape.h"

namespace mishnet::cuda {

// The parameters of the step, device pointers (grads: the layer's gradient blocks).
struct BatchNormActivationParams {
  const float* scales = nullptr;  // null without batch norm
  const float* biases = nullptr;
  float* rolling_mean = nullptr;
  float* rolling_variance = nullptr;
  float* dscales = nullptr;
  float* dbiases = nullptr;
};

// The blocks of `layer` ("biases", and with batch norm "scales", "rolling_mean",
// "rolling_variance") in the device copies of its params and grads (grads may be empty: the
// forward needs none).
inline BatchNormActivationParams batchnorm_activation_params(const Layer& layer,
                                                             bool batch_normalize,
                                                             const std::vector<float*>& params,
                                                             const std::vector<float*>& grads) {
  BatchNormActivationParams p;
  p.biases = params[layer.param_slot("biases")];
  if (!grads.empty()) p.dbiases = grads[layer.param_slot("biases")];
  if (batch_normalize) {
    p.scales = params[layer.param_slot("scales")];
    p.rolling_mean = params[layer.param_slot("rolling_mean")];
    p.rolling_variance = params[layer.param_slot("rolling_variance")];
    if (!grads.empty()) p.dscales = grads[layer.param_slot("scales")];
  }
  return p;
}

class BatchNormActivationTraining {
 public:
  // `floats`: the layer's output size, batch included; `channels`: its channel count.
  BatchNormActivationTraining(bool batch_normalize, Activation a, size_t floats, int channels)
      : batch_normalize_(batch_normalize), activation_(a) {
    if (batch_normalize) {
      x_hat_ = DeviceArray<float>(floats);
      mean_ = DeviceArray<float>(size_t(channels));
      variance_ = DeviceArray<float>(size_t(channels));
    } else if (activation_needs(a) == ActivationNeeds::input) {
      pre_activation_ = DeviceArray<float>(floats);
    }
  }

  // `y` holds the linear part (with its bias when there is no batch norm) and becomes the
  // layer's output.
  void forward(Tensor& y, const BatchNormActivationParams& p, StreamHandle stream) {
    if (batch_normalize_)
      batchnorm_train_forward(y.shape, y.data, p.scales, p.biases, p.rolling_mean,
                              p.rolling_variance, 0.01f, mean_.data(), variance_.data(),
                              x_hat_.data(), y.data, stream);
    else if (pre_activation_.size() > 0)
      copy_on_device(pre_activation_.data(), y.data, y.size() * sizeof(float), stream);
    if (activation_ != Activation::linear)
      activation_forward(activation_, y.shape, y.data, y.data, stream);
  }

  // delta: dL/d(output) in, dL/d(linear part) out; adds dL/dscales and dL/dbiases. `output`:
  // the layer's output of the forward.
  void backward(const Tensor& delta, const float* output, const BatchNormActivationParams& p,
                StreamHandle stream) {
    if (batch_normalize_) {
      activation_backward_from_batchnorm(activation_, delta.shape, delta.data, x_hat_.data(),
                                         p.scales, p.biases, output, stream);
      batchnorm_backward(delta.shape, delta.data, p.scales, variance_.data(), x_hat_.data(),
                         p.dscales, p.dbiases, delta.data, stream);
      return;
    }
    if (activation_ != Activation::linear)
      activation_backward(activation_, delta.shape, delta.data,
                          pre_activation_.size() > 0 ? pre_activation_.data() : nullptr, output,
                          stream);
    bias_backward(delta.shape, delta.data, p.dbiases, stream);
  }

 private:
  bool batch_normalize_;
  Activation activation_;
  DeviceArray<float> x_hat_, mean_, variance_, pre_activation_;
};

}  // namespace mishnet::cuda
#endif
