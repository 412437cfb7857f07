// Softmax over n values spaced `stride` apart, for host and device (one thread per group on the
// GPU). Darknet's formula: subtract the largest value, divide by the temperature.
#pragma once
#include <float.h>
#include <math.h>

#include "kernels/host_device.h"

namespace mishnet::kernels {

MISHNET_HD void softmax_strided(const float* in, float* out, int n, int stride,
                                float temperature) {
  float largest = -FLT_MAX;
  for (int i = 0; i < n; ++i)
    if (in[i * stride] > largest) largest = in[i * stride];
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    float e = expf(in[i * stride] / temperature - largest / temperature);
    sum += e;
    out[i * stride] = e;
  }
  for (int i = 0; i < n; ++i) out[i * stride] /= sum;
}

// Softmax with cross-entropy (the [softmax] layer with truth): one value's loss term,
// -t * log p with p clamped to 1e-30 (NaN passes through, so divergence shows), summed in double
// by the caller, and dL/dz = (p - t) / temperature.
MISHNET_HD double cross_entropy_term(float p, float t) {
  if (t == 0.0f) return 0.0;
  return -double(t) * double(logf(p < 1e-30f ? 1e-30f : p));
}

MISHNET_HD float softmax_cross_entropy_gradient(float p, float t, float inv_temperature) {
  return (p - t) * inv_temperature;
}

}  // namespace mishnet::kernels
