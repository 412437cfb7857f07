#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "mishnet/cfg.h"
#include "mishnet/optimizer.h"
#include "test_util.h"

namespace mishnet {
namespace {

NetConfig config(const std::string& extra) {
  Cfg cfg = parse_cfg_text("[net]\nwidth=8\nheight=8\nlearning_rate=0.1\n" + extra, "lr.cfg");
  return NetConfig::parse(cfg.sections[0]);
}

TEST(LearningRate, BurnInFollowsPower) {
  NetConfig c = config("burn_in=100\npower=4\n");
  EXPECT_FLOAT_EQ(learning_rate_at(c, 0), 0.0f);
  EXPECT_FLOAT_EQ(learning_rate_at(c, 50), 0.1f * 0.0625f);
  EXPECT_FLOAT_EQ(learning_rate_at(c, 100), 0.1f);
}

TEST(LearningRate, StepsAndScales) {
  NetConfig c = config("policy=steps\nsteps=10,20\nscales=.1,.5\n");
  EXPECT_FLOAT_EQ(learning_rate_at(c, 9), 0.1f);
  EXPECT_FLOAT_EQ(learning_rate_at(c, 10), 0.01f);
  EXPECT_FLOAT_EQ(learning_rate_at(c, 19), 0.01f);
  EXPECT_FLOAT_EQ(learning_rate_at(c, 20), 0.005f);
}

TEST(LearningRate, StepExpPolySigmoidRandom) {
  EXPECT_FLOAT_EQ(learning_rate_at(config("policy=step\nstep=5\nscale=0.5\n"), 11), 0.025f);
  EXPECT_NEAR(learning_rate_at(config("policy=exp\ngamma=0.9\n"), 2), 0.081f, 1e-7);
  EXPECT_NEAR(learning_rate_at(config("policy=poly\npower=2\nmax_batches=100\n"), 50), 0.025f, 1e-7);
  EXPECT_NEAR(learning_rate_at(config("policy=sigmoid\ngamma=1\nstep=10\n"), 10), 0.05f, 1e-7);
  EXPECT_NEAR(learning_rate_at(config("policy=random\npower=1\n"), 3, 0.25f), 0.025f, 1e-7);
}

TEST(LearningRate, SgdrRestartsWithLongerCycles) {
  NetConfig c = config("policy=sgdr\nsgdr_cycle=10\nsgdr_mult=2\n");
  EXPECT_NEAR(learning_rate_at(c, 0), 0.1f, 1e-7);
  EXPECT_NEAR(learning_rate_at(c, 5), 0.05f, 1e-6);
  EXPECT_NEAR(learning_rate_at(c, 10), 0.0f, 1e-6);   // end of the first cycle
  EXPECT_NEAR(learning_rate_at(c, 11), 0.1f * 0.5 * (1 + std::cos(M_PI / 20)), 1e-6);
  EXPECT_NEAR(learning_rate_at(c, 20), 0.05f, 1e-6);  // middle of the second (20 long)
}

TEST(LearningRate, UnknownPolicyAndMismatchedStepsAreErrors) {
  EXPECT_ERROR_CONTAINS(config("policy=cosine\n"), "lr.cfg:5: [net] 'policy': unknown learning-rate policy");
  EXPECT_ERROR_CONTAINS(config("policy=steps\nsteps=1,2\nscales=.1\n"), "same number of entries");
}

TEST(TrainState, RoundTripAndCorruption) {
  std::string dir = test::scratch_dir("train_state");
  TrainState s;
  s.iteration = 42;
  s.seed = 7;
  s.param_count = 3;
  s.optimizer = "adam";
  s.optimizer_steps = 42;
  s.velocity = {1, 2, 3};
  s.second = {4, 5, 6};
  s.average_loss = 0.5;
  save_train_state(s, dir + "/a.state");
  TrainState t = load_train_state(dir + "/a.state");
  EXPECT_EQ(t.iteration, 42);
  EXPECT_EQ(t.optimizer, "adam");
  EXPECT_EQ(t.velocity, s.velocity);
  EXPECT_EQ(t.second, s.second);
  EXPECT_EQ(state_path_for("backup/x_last.weights"), "backup/x_last.state");
  std::filesystem::resize_file(dir + "/a.state", 60);
  EXPECT_ERROR_CONTAINS(load_train_state(dir + "/a.state"), "file ends inside");
}

// Version 2 holds the mixed-precision loss scale; version 1 files (no loss scale) still load.
TEST(TrainState, LossScaleRoundTripsAndVersion1StillLoads) {
  const std::string dir = test::scratch_dir("train_state_v2");
  TrainState s;
  s.iteration = 9;
  s.seed = 3;
  s.param_count = 2;
  s.optimizer = "sgd";
  s.velocity = {1, 2};
  s.loss_scale = 8192.0f;
  s.loss_scale_good_steps = 17;
  save_train_state(s, dir + "/b.state");
  const TrainState t = load_train_state(dir + "/b.state");
  EXPECT_EQ(t.loss_scale, 8192.0f);
  EXPECT_EQ(t.loss_scale_good_steps, 17);
  EXPECT_EQ(t.velocity, s.velocity);

  // A version 1 file, byte by byte as sessions before the loss scale wrote it.
  std::string v1 = "MISHSTA1";
  const auto append = [&v1](const auto& v) {
    v1.append(reinterpret_cast<const char*>(&v), sizeof(v));
  };
  append(int64_t(9));      // iteration
  append(uint64_t(3));     // seed
  append(uint64_t(2));     // parameters
  append(uint8_t(0));      // sgd
  append(int64_t(9));      // optimizer steps
  append(double(0.25));    // average loss
  append(uint64_t(2));     // momentum
  append(1.0f);
  append(2.0f);
  append(uint64_t(0));     // no second moment
  {
    std::ofstream f(dir + "/v1.state", std::ios::binary);
    f << v1;
  }
  const TrainState old = load_train_state(dir + "/v1.state");
  EXPECT_EQ(old.iteration, 9);
  EXPECT_EQ(old.average_loss, 0.25);
  EXPECT_EQ(old.velocity, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(old.loss_scale, 0.0f) << "no loss scale in a version 1 file";
}

}  // namespace
}  // namespace mishnet
