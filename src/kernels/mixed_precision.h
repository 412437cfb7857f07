// Element-wise math of mixed-precision training, for host and device: the check of the scaled
// gradients for overflow (inf/nan) and their unscaling by 1/scale before the optimizer step.
// The CPU test (tests/train/test_loss_scale.cpp) checks these functions; a device reduction is
// to apply gradient_overflows per element and OR the flags.
#pragma once
#include <math.h>
#include <stddef.h>

#include "kernels/host_device.h"

namespace mishnet::kernels {

// True for inf and nan: a scaled gradient that overflowed float16 (or float32).
MISHNET_HD bool gradient_overflows(float g) { return !isfinite(g); }

// The gradient of the unscaled loss: scaled gradient times 1/scale (exact for power-of-two
// scales, see train/loss_scale.h).
MISHNET_HD float unscale_gradient(float g, float inv_scale) { return g * inv_scale; }

// Host reference of the whole step on an array: true when any element overflows, in which case
// the array is left unchanged (the caller skips the update and zeroes the gradients); otherwise
// every element is unscaled in place.
inline bool check_and_unscale(float* g, size_t n, float inv_scale) {
  for (size_t i = 0; i < n; ++i)
    if (gradient_overflows(g[i])) return true;
  for (size_t i = 0; i < n; ++i) g[i] = unscale_gradient(g[i], inv_scale);
  return false;
}

}  // namespace mishnet::kernels
