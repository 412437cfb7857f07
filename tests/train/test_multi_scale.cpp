// Multi-scale training ([yolo] random=): Darknet's sizes, the schedule as a function of
// (seed, iteration), and the network rebuilt at a new size with its parameters.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/multi_scale.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet {
namespace {

MultiScale darknet_416(int64_t max_batches) {
  MultiScale m;
  m.base = {416, 416};
  m.coefficient = 1.4f;
  m.resize_step = 32;
  m.max_batches = max_batches;
  return m;
}

// random=1 at 416: Darknet's range is 320 ... 608 in steps of 32; every size of it occurs, a
// size holds for 10 iterations, the first 10 and the last 100 iterations use 608.
TEST(MultiScale, DarknetRangeAndSchedule) {
  const MultiScale m = darknet_416(100000);
  EXPECT_EQ(m.largest(), (InputSize{608, 608}));
  EXPECT_EQ(m.smallest(), (InputSize{320, 320}));
  const uint64_t seed = test::test_seed();
  std::set<int> seen;
  for (int64_t it = 0; it < 20000; ++it) {
    const InputSize s = m.size_at(seed, it);
    ASSERT_EQ(s.width, s.height) << it;
    ASSERT_EQ(s.width % 32, 0) << it;
    ASSERT_GE(s.width, 320) << it;
    ASSERT_LE(s.width, 608) << it;
    if (it % 10 != 0) {
      ASSERT_EQ(s, m.size_at(seed, it - 1)) << "a size holds for 10 iterations: " << it;
    }
    seen.insert(s.width);
  }
  EXPECT_EQ(seen, (std::set<int>{320, 352, 384, 416, 448, 480, 512, 544, 576, 608}));
  for (int64_t it : {0, 5, 9, 99900, 99950, 99999}) EXPECT_EQ(m.size_at(seed, it), m.largest()) << it;
  // A function of (seed, iteration): the same answers again; another seed gives another schedule.
  int differ = 0;
  for (int64_t it = 10; it < 2000; it += 10) {
    EXPECT_EQ(m.size_at(seed, it), m.size_at(seed, it + 3));
    differ += m.size_at(seed, it) != m.size_at(seed + 1, it);
  }
  EXPECT_GT(differ, 50);
}

TEST(MultiScale, OffKeepsTheBaseAndNonSquareScalesBothSides) {
  MultiScale off;
  off.base = {96, 64};
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(off.size_at(7, 12345), (InputSize{96, 64}));
  EXPECT_EQ(off.largest(), (InputSize{96, 64}));

  MultiScale m = off;
  m.coefficient = 2.0f;
  m.resize_step = 16;
  m.max_batches = 1000000;
  // round(2 * 96 / 16 + 1) * 16 = 208, round(2 * 64 / 16 + 1) * 16 = 144.
  EXPECT_EQ(m.largest(), (InputSize{208, 144}));
  for (int64_t it = 10; it < 5000; it += 10) {
    const InputSize s = m.size_at(3, it);
    // One draw scales both sides: the aspect stays within one step of the cfg's.
    const double scale = double(s.width) / 96.0;
    EXPECT_NEAR(double(s.height), scale * 64.0, 16.0) << s.width << 'x' << s.height;
    EXPECT_LE(s.width, 208);
    EXPECT_GE(s.width, 48);
  }
}

const char* kYoloCfg = R"([net]
batch=2
subdivisions=1
width=64
height=64
channels=3
max_batches=1000
resize_step=16

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=mish

[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 20,20, 30,30
classes=2
num=3
random=RANDOM
)";

Cfg yolo_cfg(const std::string& random) {
  std::string text = kYoloCfg;
  text.replace(text.find("RANDOM"), 6, random);
  return parse_cfg_text(text, "yolo-test.cfg");
}

TEST(MultiScale, FromNetworkReadsRandomAndResizeStep) {
  Network off = Network::from_cfg(yolo_cfg("0"));
  EXPECT_FALSE(MultiScale::from_network(off, 1000).enabled());

  const MultiScale one = MultiScale::from_network(Network::from_cfg(yolo_cfg("1")), 500);
  EXPECT_TRUE(one.enabled());
  EXPECT_FLOAT_EQ(one.coefficient, 1.4f);  // random=1 is Darknet's 1.4
  EXPECT_EQ(one.resize_step, 16);
  EXPECT_EQ(one.base, (InputSize{64, 64}));
  EXPECT_EQ(one.max_batches, 500);

  EXPECT_FLOAT_EQ(MultiScale::from_network(Network::from_cfg(yolo_cfg("1.6")), 500).coefficient, 1.6f);
  EXPECT_ERROR_CONTAINS(MultiScale::from_network(Network::from_cfg(yolo_cfg("0.5")), 500), "yolo-test.cfg");
}

TEST(MultiScale, ResizeKeepsParametersAndTrainingMode) {
  const Cfg cfg = yolo_cfg("1");
  Network net = Network::from_cfg(cfg);
  for (size_t i = 0; i < net.num_params(); ++i) net.param_data()[i] = float(i % 97) * 0.01f;
  net.seen = 1234;
  net.set_training(true);
  resize_training_network(net, cfg, NetworkOptions{}, InputSize{96, 80});
  EXPECT_EQ(net.input_shape(), (Shape{2, 3, 80, 96}));
  EXPECT_TRUE(net.training());
  EXPECT_EQ(net.seen, 1234u);
  for (size_t i = 0; i < net.num_params(); ++i) ASSERT_EQ(net.param_data()[i], float(i % 97) * 0.01f) << i;
  EXPECT_EQ(net.layer(1).output_shape, (Shape{1, 21, 40, 48}));
}

TEST(MultiScale, ResizeRefusesANetworkWhoseParametersDependOnTheSize) {
  const Cfg cfg = parse_cfg_text(R"([net]
batch=1
width=32
height=32
channels=1

[connected]
output=4
activation=linear
)", "dense.cfg");
  Network net = Network::from_cfg(cfg);
  net.set_training(true);
  EXPECT_ERROR_CONTAINS(resize_training_network(net, cfg, NetworkOptions{}, InputSize{64, 64}),
                        "dense.cfg: multi-scale training (random=) cannot train at 64x64");
}

}  // namespace
}  // namespace mishnet
