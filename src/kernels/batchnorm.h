// Batch-norm arithmetic shared by inference folding, training and the CUDA kernels.
#pragma once
#include <cmath>

#include "kernels/host_device.h"

namespace mishnet::kernels {

// Darknet normalises with 1e-6 (training and unfused inference) and folds with 1e-5; OpenCV DNN
// uses 1e-6. mishnet uses 1e-6 everywhere, so inference equals training-mode evaluation and
// OpenCV parity is tight. (docs/formats.md)
constexpr float kBatchNormEpsilon = 1e-6f;

// y = scale * (x - mean) / sqrt(var + eps) + bias  ==  x * multiplier + offset
MISHNET_HD float batchnorm_multiplier(float scale, float variance) {
  return scale / sqrtf(variance + kBatchNormEpsilon);
}

}  // namespace mishnet::kernels
