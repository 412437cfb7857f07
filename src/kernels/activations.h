// Activation values and derivatives, for host and device. See ../shared/spec/ACTIVATIONS.md.
// (Minimal set; the full list is being written.)
#pragma once
#include <cmath>

#include "kernels/host_device.h"
#include "mishnet/activation.h"

namespace mishnet::kernels {

// Stable float32 Mish (ACTIVATIONS.md §1.6).
MISHNET_HD float mish(float x) {
  if (x >= 20.0f) return x;
  if (x <= -100.0f) return -0.0f;
  float e = expf(x);
  float n = e * (e + 2.0f);
  float d = n + 2.0f;
  return x <= -0.6f ? x * n / d : x - 2.0f * x / d;
}

MISHNET_HD float logistic(float x) { return 1.0f / (1.0f + expf(-x)); }

MISHNET_HD float activate(Activation a, float x) {
  switch (a) {
    case Activation::linear: return x;
    case Activation::logistic: return logistic(x);
    case Activation::relu: return x > 0 ? x : 0.0f;
    case Activation::leaky: return x > 0 ? x : 0.1f * x;
    case Activation::tanh: return tanhf(x);
    case Activation::swish: return x * logistic(x);
    case Activation::mish: return mish(x);
    default: return x;
  }
}

}  // namespace mishnet::kernels
