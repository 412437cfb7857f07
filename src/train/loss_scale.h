// Dynamic loss scaling for mixed-precision training ([net] mixed_precision=1), as host logic
// only: the GPU training path multiplies the loss layers' deltas by scale(), checks the
// gradients for inf/nan and reports the result here, which says whether to apply the step.
//
// Rules (the usual dynamic scheme of NVIDIA's mixed-precision guide):
//  - start at kInitialScale (65536 = 2^16);
//  - a step whose gradients overflowed (any inf/nan) is skipped: the scale halves, never below
//    kMinScale (1), and the good-step counter restarts at 0;
//  - after kGrowthInterval (2000) consecutive good steps the scale doubles (at most kMaxScale,
//    2^24, so that the scale and 1/scale stay exact, finite powers of two) and the counter
//    restarts at 0.
// Every scale is a power of two, so multiplying by scale() and by inv_scale() is exact in
// float32 (no rounding of the gradients from the scaling itself).
#pragma once

namespace mishnet {

class LossScaler {
 public:
  static constexpr float kInitialScale = 65536.0f;
  static constexpr float kMinScale = 1.0f;
  static constexpr float kMaxScale = 16777216.0f;  // 2^24
  static constexpr int kGrowthInterval = 2000;

  // `initial_scale` must be a power of two in [kMinScale, kMaxScale] and `growth_interval` at
  // least 1 (fail() otherwise); tests use a short interval.
  explicit LossScaler(float initial_scale = kInitialScale,
                      int growth_interval = kGrowthInterval);

  float scale() const { return scale_; }
  float inv_scale() const { return 1.0f / scale_; }
  int good_steps() const { return good_steps_; }
  int growth_interval() const { return growth_interval_; }

  // Records one step's gradient check. Returns true when the update is to be applied (no
  // overflow), false when the step must be skipped (the gradients are to be zeroed).
  // Changes the scale as described above: the next step uses the new scale().
  bool record_step(bool overflow);
  // The state of a checkpoint (Trainer::save): `scale` a power of two in [kMinScale,
  // kMaxScale], 0 <= good_steps < growth_interval(); fail() otherwise.
  void restore(float scale, int good_steps);

 private:
  float scale_;
  int good_steps_ = 0;
  int growth_interval_;
};

}  // namespace mishnet
