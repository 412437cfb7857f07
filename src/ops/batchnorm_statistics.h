// Batch statistics of one channel of an NCHW tensor, shared by the reference batch norm and the
// fused CPU op so that both normalise with bit-identical mean and variance.
#pragma once
#include <cmath>
#include <cstddef>

#include "kernels/batchnorm.h"
#include "mishnet/shape.h"
#include "ops/batchnorm_training.h"

namespace mishnet::ops {

struct ChannelStatistics {
  float mean = 0;
  double squared_deviations = 0;  // sum over batch and pixels of (x - mean)^2
  double count = 0;               // batch * height * width

  // Biased: what normalises the batch (as cuDNN).
  float variance() const { return float(squared_deviations / count); }
};

// Sums per plane in float (vectorised), across planes in double: accurate and fast.
inline ChannelStatistics channel_statistics(const Tensor& x, int c) {
  const Shape s = x.shape;
  const size_t hw = size_t(s.h) * size_t(s.w);
  ChannelStatistics st;
  st.count = double(s.n) * double(hw);
  double sum = 0.0;
  for (int b = 0; b < s.n; ++b) {
    const float* p = x.data + (size_t(b) * s.c + c) * hw;
    float part = 0.0f;
#pragma omp simd reduction(+ : part)
    for (size_t i = 0; i < hw; ++i) part += p[i];
    sum += part;
  }
  st.mean = float(sum / st.count);
  const float mean = st.mean;
  for (int b = 0; b < s.n; ++b) {
    const float* p = x.data + (size_t(b) * s.c + c) * hw;
    float part = 0.0f;
#pragma omp simd reduction(+ : part)
    for (size_t i = 0; i < hw; ++i) part += (p[i] - mean) * (p[i] - mean);
    st.squared_deviations += part;
  }
  return st;
}

// Records the batch statistics of channel c in buf (mean, biased variance) and moves the rolling
// statistics towards them by `momentum` (Darknet: 0.01), the variance with its unbiased value.
// Returns 1/sqrt(variance + eps), what normalises the channel.
inline float record_channel_statistics(const ChannelStatistics& st, int c, float momentum,
                                       const BatchNormBuffers& buf, float* rolling_mean,
                                       float* rolling_variance) {
  const float var = st.variance();
  buf.mean[c] = st.mean;
  buf.variance[c] = var;
  const double unbiased = st.count > 1 ? st.squared_deviations / (st.count - 1) : double(var);
  rolling_mean[c] = (1.0f - momentum) * rolling_mean[c] + momentum * st.mean;
  rolling_variance[c] = (1.0f - momentum) * rolling_variance[c] + momentum * float(unbiased);
  return 1.0f / std::sqrt(var + kernels::kBatchNormEpsilon);
}

}  // namespace mishnet::ops
