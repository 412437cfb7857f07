// Element-wise pieces of the [yolo] training loss (src/layers/yolo_loss.cpp), for host and device.
#pragma once
#include <math.h>

#include "kernels/host_device.h"

namespace mishnet::kernels {

// Binary cross-entropy of logistic(z) against target t, from the logit (no overflow):
// -t*log(p) - (1-t)*log(1-p) = max(z,0) - z*t + log(1 + exp(-|z|)). Its derivative in z is
// logistic(z) - t.
MISHNET_HD double bce_with_logit(double z, double t) {
  return (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
}

// Entropy of a binary target t; 0 outside (0,1). Subtracted from bce_with_logit, it makes a loss
// that is 0 when the prediction equals a soft target, with the same gradient.
MISHNET_HD double binary_entropy(double t) {
  if (t <= 0 || t >= 1) return 0;
  return -(t * log(t) + (1 - t) * log1p(-t));
}

// Focal loss (gamma 2) of the true class from its logit: -(1-p)^2 * log(p). Its derivative in z is
// (1-p)^2 * (2*p*log(p) + p - 1).
MISHNET_HD double focal_with_logit(double z) {
  const double p = 1 / (1 + exp(-z));
  const double log_p = -((-z > 0 ? -z : 0) + log1p(exp(-fabs(z))));  // -softplus(-z)
  return -(1 - p) * (1 - p) * log_p;
}

// Darknet's focal factor of delta_yolo_class, from the true class's probability p:
// -(1-p)*(2*p*log(p) + p - 1). Every class delta of the anchor is multiplied by alpha times it.
MISHNET_HD float yolo_focal_factor(float p) {
  const float pt = p + 0.000000000000001F;
  return -(1 - pt) * (2 * pt * logf(pt) + pt - 1);
}

// Class target with label smoothing as Darknet writes it: 1 or 0, pulled towards 0.5 by eps.
MISHNET_HD float yolo_class_target(bool is_class, float eps) {
  float y = is_class ? 1.f : 0.f;
  if (eps != 0) y = float(y * (1 - eps) + 0.5 * eps);
  return y;
}

}  // namespace mishnet::kernels
