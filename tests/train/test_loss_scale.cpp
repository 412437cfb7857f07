// Dynamic loss scaling (train/loss_scale.h), the shared unscale/overflow math
// (kernels/mixed_precision.h) and the [net] mixed_precision key. Deterministic: no randomness.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/mixed_precision.h"
#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/net_config.h"
#include "test_util.h"
#include "train/loss_scale.h"

namespace mishnet {
namespace {

TEST(LossScale, StartsAt65536WithNoGoodSteps) {
  LossScaler s;
  EXPECT_EQ(s.scale(), 65536.0f);
  EXPECT_EQ(s.inv_scale(), 1.0f / 65536.0f);
  EXPECT_EQ(s.good_steps(), 0);
  EXPECT_EQ(s.growth_interval(), 2000);
}

TEST(LossScale, OverflowHalvesSkipsAndResetsTheCounter) {
  LossScaler s;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(s.record_step(false));
  EXPECT_EQ(s.good_steps(), 10);
  EXPECT_FALSE(s.record_step(true));  // skip the step
  EXPECT_EQ(s.scale(), 32768.0f);
  EXPECT_EQ(s.good_steps(), 0);
  EXPECT_FALSE(s.record_step(true));  // consecutive overflows keep halving
  EXPECT_EQ(s.scale(), 16384.0f);
  EXPECT_EQ(s.good_steps(), 0);
}

TEST(LossScale, DoublesAfter2000ConsecutiveGoodSteps) {
  LossScaler s;
  for (int i = 0; i < 1999; ++i) ASSERT_TRUE(s.record_step(false));
  EXPECT_EQ(s.scale(), 65536.0f);  // not yet
  EXPECT_EQ(s.good_steps(), 1999);
  EXPECT_TRUE(s.record_step(false));  // the 2000th good step: applied, and the scale grows
  EXPECT_EQ(s.scale(), 131072.0f);
  EXPECT_EQ(s.good_steps(), 0);
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(s.record_step(false));
  EXPECT_EQ(s.scale(), 262144.0f);
}

TEST(LossScale, AnOverflowRestartsTheCountTowardsGrowth) {
  LossScaler s;
  for (int i = 0; i < 1999; ++i) ASSERT_TRUE(s.record_step(false));
  EXPECT_FALSE(s.record_step(true));
  EXPECT_EQ(s.scale(), 32768.0f);
  for (int i = 0; i < 1999; ++i) ASSERT_TRUE(s.record_step(false));
  EXPECT_EQ(s.scale(), 32768.0f);  // 1999 good steps since the overflow: no growth yet
  EXPECT_TRUE(s.record_step(false));
  EXPECT_EQ(s.scale(), 65536.0f);
}

TEST(LossScale, NeverBelowOneAndNeverAboveTwoTo24) {
  LossScaler s(4.0f, 3);
  EXPECT_FALSE(s.record_step(true));
  EXPECT_EQ(s.scale(), 2.0f);
  EXPECT_FALSE(s.record_step(true));
  EXPECT_EQ(s.scale(), 1.0f);
  EXPECT_FALSE(s.record_step(true));  // at the minimum: still skipped, the scale stays 1
  EXPECT_EQ(s.scale(), 1.0f);
  EXPECT_EQ(s.inv_scale(), 1.0f);
  EXPECT_EQ(s.good_steps(), 0);

  LossScaler top(LossScaler::kMaxScale / 2.0f, 1);
  EXPECT_TRUE(top.record_step(false));
  EXPECT_EQ(top.scale(), LossScaler::kMaxScale);
  EXPECT_TRUE(top.record_step(false));  // capped
  EXPECT_EQ(top.scale(), LossScaler::kMaxScale);
  EXPECT_EQ(top.good_steps(), 0);
}

TEST(LossScale, EveryScaleIsAPowerOfTwoSoUnscalingIsExact) {
  LossScaler s(1.0f, 1);
  for (int i = 0; i < 30; ++i) {
    s.record_step(i % 3 == 2);
    EXPECT_EQ(s.scale() * s.inv_scale(), 1.0f);
    const float g = 0.123456789f;
    EXPECT_EQ(kernels::unscale_gradient(g * s.scale(), s.inv_scale()), g);
  }
}

TEST(LossScale, BadInitialScaleOrIntervalIsAnError) {
  EXPECT_THROW(LossScaler(0.5f), Error);
  EXPECT_THROW(LossScaler(3.0f), Error);
  EXPECT_THROW(LossScaler(2.0f * LossScaler::kMaxScale), Error);
  EXPECT_THROW(LossScaler(std::numeric_limits<float>::infinity()), Error);
  EXPECT_THROW(LossScaler(65536.0f, 0), Error);
}

TEST(MixedPrecisionKernels, OverflowCheckAndUnscale) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(kernels::gradient_overflows(0.0f));
  EXPECT_FALSE(kernels::gradient_overflows(-65504.0f));
  EXPECT_FALSE(kernels::gradient_overflows(std::numeric_limits<float>::max()));
  EXPECT_TRUE(kernels::gradient_overflows(inf));
  EXPECT_TRUE(kernels::gradient_overflows(-inf));
  EXPECT_TRUE(kernels::gradient_overflows(nan));

  std::vector<float> g{1024.0f, -2048.0f, 0.0f, 3.0f};
  EXPECT_FALSE(kernels::check_and_unscale(g.data(), g.size(), 1.0f / 1024.0f));
  EXPECT_EQ(g, (std::vector<float>{1.0f, -2.0f, 0.0f, 3.0f / 1024.0f}));

  for (float bad : {inf, -inf, nan}) {
    std::vector<float> h{1024.0f, bad, 2048.0f};
    EXPECT_TRUE(kernels::check_and_unscale(h.data(), h.size(), 1.0f / 1024.0f));
    EXPECT_EQ(h[0], 1024.0f);  // left unchanged: the step is skipped
    EXPECT_EQ(h[2], 2048.0f);
  }
}

NetConfig net_config(const std::string& extra) {
  Cfg cfg = parse_cfg_text("[net]\nwidth=8\nheight=8\n" + extra, "mp.cfg");
  return NetConfig::parse(cfg.sections[0]);
}

TEST(MixedPrecisionOption, DefaultsToOffAndAcceptsZeroOrOne) {
  EXPECT_FALSE(net_config("").mixed_precision);
  EXPECT_FALSE(net_config("mixed_precision=0\n").mixed_precision);
  EXPECT_TRUE(net_config("mixed_precision=1\n").mixed_precision);
}

TEST(MixedPrecisionOption, OtherValuesNameFileLineAndKey) {
  for (const char* bad : {"2", "-1", "yes", "0.5"}) {
    try {
      net_config(std::string("mixed_precision=") + bad + "\n");
      ADD_FAILURE() << "mixed_precision=" << bad << " was accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("mp.cfg:4"), std::string::npos) << msg;
      EXPECT_NE(msg.find("mixed_precision"), std::string::npos) << msg;
    }
  }
}

// A checkpoint's loss scale comes back as saved; values no scaler can have are refused.
TEST(LossScale, RestoreTakesACheckpointsStateAndRefusesOthers) {
  LossScaler s(65536.0f, 4);
  s.restore(1024.0f, 3);
  EXPECT_EQ(s.scale(), 1024.0f);
  EXPECT_EQ(s.good_steps(), 3);
  EXPECT_TRUE(s.record_step(false));
  EXPECT_EQ(s.scale(), 2048.0f) << "the fourth good step doubles it";
  EXPECT_ERROR_CONTAINS(s.restore(1000.0f, 0), "not a power of two");
  EXPECT_ERROR_CONTAINS(s.restore(65536.0f * 1024.0f, 0), "not a power of two between 1 and 2^24");
  EXPECT_ERROR_CONTAINS(s.restore(1024.0f, 4), "outside 0..3");
  EXPECT_ERROR_CONTAINS(s.restore(1024.0f, -1), "outside 0..3");
}

}  // namespace
}  // namespace mishnet
