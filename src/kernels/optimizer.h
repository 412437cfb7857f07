// Per-element parameter updates with Darknet's semantics (src/train/optimizer.cpp), for host and
// device: the CPU optimizer and the CUDA update kernels compute the same thing.
#pragma once
#include <math.h>

#include "kernels/host_device.h"

namespace mishnet::kernels {

// SGD with momentum. Darknet: updates += -decay*batch*w; w += lr/batch*updates;
// updates *= momentum, with updates holding the negative gradient sum. Here v holds the
// gradient-sign sum: the same arithmetic.
struct SgdStep {
  float step;          // learning rate / batch
  float decay;         // decay * batch for "weights" blocks, 0 otherwise
  float momentum;
};

MISHNET_HD void sgd_update(const SgdStep& p, float& w, float& v, float g) {
  const float vi = v + g + p.decay * w;
  w -= p.step * vi;
  v = p.momentum * vi;
}

// Adam on the per-image gradient g / batch plus decay * w, with bias corrections c1 = 1 - b1^t
// and c2 = 1 - b2^t for step t.
struct AdamStep {
  float lr;
  float inv_batch;
  float decay;  // for "weights" blocks, 0 otherwise
  float b1, b2;
  float c1, c2;
  float eps;
};

MISHNET_HD void adam_update(const AdamStep& p, float& w, float& m, float& s, float g) {
  const float gi = g * p.inv_batch + p.decay * w;
  m = p.b1 * m + (1.0f - p.b1) * gi;
  s = p.b2 * s + (1.0f - p.b2) * gi * gi;
  w -= p.lr * (m / p.c1) / (sqrtf(s / p.c2) + p.eps);
}

}  // namespace mishnet::kernels
