#include "train/loss_scale.h"

#include <cmath>

#include "mishnet/error.h"

namespace mishnet {

namespace {

bool is_power_of_two(float x) {
  int e = 0;
  return std::isfinite(x) && x > 0.0f && std::frexp(x, &e) == 0.5f;
}

}  // namespace

LossScaler::LossScaler(float initial_scale, int growth_interval)
    : scale_(initial_scale), growth_interval_(growth_interval) {
  if (!(initial_scale >= kMinScale && initial_scale <= kMaxScale) ||
      !is_power_of_two(initial_scale))
    fail("loss scaling: the initial scale ", initial_scale,
         " must be a power of two between 1 and 2^24");
  if (growth_interval < 1)
    fail("loss scaling: the growth interval must be at least 1 step, got ", growth_interval);
}

bool LossScaler::record_step(bool overflow) {
  if (overflow) {
    scale_ = scale_ * 0.5f < kMinScale ? kMinScale : scale_ * 0.5f;
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ >= growth_interval_) {
    scale_ = scale_ * 2.0f > kMaxScale ? kMaxScale : scale_ * 2.0f;
    good_steps_ = 0;
  }
  return true;
}

void LossScaler::restore(float scale, int good_steps) {
  if (!(scale >= kMinScale && scale <= kMaxScale) || !is_power_of_two(scale))
    fail("loss scaling: a saved scale of ", scale, " is not a power of two between 1 and 2^24");
  if (good_steps < 0 || good_steps >= growth_interval_)
    fail("loss scaling: a saved count of ", good_steps, " good steps is outside 0..",
         growth_interval_ - 1);
  scale_ = scale;
  good_steps_ = good_steps;
}

}  // namespace mishnet
