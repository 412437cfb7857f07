// Darknet's normalize_channels activations act across the channels of one pixel: `channels`
// values spaced `stride` apart. Forward and exact backward, for host and device (one CPU loop
// iteration or one GPU thread per pixel).
#pragma once
#include <math.h>

#include "kernels/host_device.h"

namespace mishnet::kernels {

// Darknet adds this to the denominator of every normalize_channels variant.
constexpr float kNormalizeChannelsEpsilon = 0.0001f;

// y_k = relu(x_k) / (eps + sum of relu(x)), in place.
MISHNET_HD void normalize_channels_forward(float* x, int channels, long stride) {
  float sum = kNormalizeChannelsEpsilon;
  for (int k = 0; k < channels; ++k)
    if (x[k * stride] > 0.0f) sum += x[k * stride];
  for (int k = 0; k < channels; ++k) {
    const float v = x[k * stride];
    x[k * stride] = v > 0.0f ? v / sum : 0.0f;
  }
}

// y_k = e^(x_k - m) / (eps + sum e^(x - m)), m = 0 or the pixel's maximum, in place. Like
// Darknet's GPU kernel, a value that is not finite (e^x overflows without the max) becomes 0.
MISHNET_HD void normalize_channels_softmax_forward(float* x, int channels, long stride,
                                                   bool subtract_max) {
  float m = 0.0f;
  if (subtract_max && channels > 0) {
    m = x[0];
    for (int k = 1; k < channels; ++k) m = fmaxf(m, x[k * stride]);
  }
  float sum = kNormalizeChannelsEpsilon;
  for (int k = 0; k < channels; ++k) sum += expf(x[k * stride] - m);
  for (int k = 0; k < channels; ++k) {
    const float v = expf(x[k * stride] - m) / sum;
    x[k * stride] = isfinite(v) ? v : 0.0f;
  }
}

// Exact vector-Jacobian products (not Darknet's approximations), delta in place.
// normalize_channels: y_k = r_k / s, r = relu(x), s = eps + sum r:
// dx_j = [x_j > 0] (d_j - sum_k y_k d_k) / s. Reads the input x.
MISHNET_HD void normalize_channels_backward(float* d, const float* x, int channels, long stride) {
  float s = kNormalizeChannelsEpsilon;
  for (int k = 0; k < channels; ++k)
    if (x[k * stride] > 0.0f) s += x[k * stride];
  float yd = 0.0f;
  for (int k = 0; k < channels; ++k)
    if (x[k * stride] > 0.0f) yd += x[k * stride] / s * d[k * stride];
  for (int k = 0; k < channels; ++k)
    d[k * stride] = x[k * stride] > 0.0f ? (d[k * stride] - yd) / s : 0.0f;
}

// The softmax variants: dy_k/dx_j = y_k (δ_kj - y_j) holds with the eps in the denominator too
// (with the max subtracted, eps·e^m adds a term of relative size eps/sum, ignored). Reads y.
MISHNET_HD void normalize_channels_softmax_backward(float* d, const float* y, int channels,
                                                    long stride) {
  float yd = 0.0f;
  for (int k = 0; k < channels; ++k) yd += y[k * stride] * d[k * stride];
  for (int k = 0; k < channels; ++k) d[k * stride] = y[k * stride] * (d[k * stride] - yd);
}

}  // namespace mishnet::kernels
