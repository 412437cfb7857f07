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

}  // namespace mishnet::kernels
