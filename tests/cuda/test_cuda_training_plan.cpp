// CPU tests of the GPU training path (no device needed): where each layer trains
// (plan_device_training) for the test network, the repo's cfgs and the public Darknet cfgs; the
// device memory plan; the optimizer's update plan that the GPU applies; [net]
// workspace_size_limit_MB; and the errors of GPU training where it cannot run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/device_training_plan.h"
#include "core/network_cuda_training.h"
#include "cuda/training_cfgs.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"
#include "mishnet/weights.h"
#include "test_util.h"
#include "train/gpu_training.h"
#include "train/param_update.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#endif

namespace mishnet {
namespace {

std::string training_cfg_text(const std::string& net_keys = "") {
  char buf[8192];
  std::snprintf(buf, sizeof buf, test::kTrainingCfg, net_keys.c_str());
  return buf;
}

Network build_text(const std::string& text, int batch = 0) {
  NetworkOptions o;
  o.batch = batch;
  return Network::from_cfg(parse_cfg_text(text, "train.cfg"), o);
}

std::vector<int> layers_at(const DeviceTrainingPlan& p, TrainPlace where) {
  std::vector<int> out;
  for (size_t i = 0; i < p.place.size(); ++i)
    if (p.place[i] == where) out.push_back(int(i));
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "; ";
  return s;
}

TEST(CudaTrainingPlan, TheTestNetworkTrainsOnTheDeviceExceptItsLoss) {
  Network net = build_text(training_cfg_text());
  ASSERT_EQ(net.num_layers(), 17);
  const DeviceTrainingPlan p = plan_device_training(net);
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  // The softmax computes the loss on the host; the cost after it is a pass-through on the device.
  EXPECT_EQ(layers_at(p, TrainPlace::host), (std::vector<int>{15}));
  // The host needs the outputs and gradients that the softmax reads and writes.
  for (int i = 0; i < net.num_layers(); ++i) {
    const bool near_loss = i == 14 || i == 15;
    EXPECT_EQ(p.host_output[size_t(i)], near_loss) << i;
    EXPECT_EQ(p.host_delta[size_t(i)], near_loss) << i;
  }
  // The cfg trains on the CPU (what the GPU test compares against).
  net.set_training(true);
  init_weights(net, test::test_seed());
  std::vector<float> in(net.input_shape().size(), 0.5f), truth(net.truth_floats() * 4, 0.0f);
  for (int b = 0; b < 4; ++b) truth[size_t(b) * net.truth_floats() + size_t(b % 5)] = 1.0f;
  std::mt19937_64 rng(1);
  EXPECT_NO_THROW(net.forward_backward(in.data(), truth.data(), rng));
}

// Every layer of a cfg trains on the device or, without trainable parameters, on the host; the
// host ones are the loss layers.
void expect_trains_on_the_device(const Network& net, const std::string& what, int host_layers) {
  const DeviceTrainingPlan p = plan_device_training(net);
  EXPECT_TRUE(p.problems.empty()) << what << ": " << joined(p.problems);
  const std::vector<int> host = layers_at(p, TrainPlace::host);
  for (int i : host)
    EXPECT_GT(net.layer(i).truth_floats(), 0u)
        << what << ": layer " << i << " [" << net.layer(i).type() << "] trains on the host";
  if (host_layers >= 0) {
    EXPECT_EQ(int(host.size()), host_layers) << what;
  }
}

TEST(CudaTrainingPlan, EveryLayerOfTheRepoCfgsTrainsOnTheDevice) {
  int checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(MISHNET_SOURCE_DIR) + "/cfg")) {
    if (entry.path().extension() != ".cfg") continue;
    NetworkOptions o;
    o.batch = 1;
    Network net = Network::from_cfg_file(entry.path().string(), o);
    expect_trains_on_the_device(net, entry.path().filename().string(), -1);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

struct SharedCase {
  const char* cfg;
  int loss_layers;
};

class CudaTrainingPlanShared : public ::testing::TestWithParam<SharedCase> {};

TEST_P(CudaTrainingPlanShared, EveryLayerTrainsOnTheDeviceExceptTheLoss) {
  MISHNET_REQUIRE_SHARED_CFG(GetParam().cfg);
  NetworkOptions o;
  o.batch = 1;
  o.lenient = true;
  Network net = Network::from_cfg_file(test::shared_cfg(GetParam().cfg), o);
  expect_trains_on_the_device(net, GetParam().cfg, GetParam().loss_layers);
}

// The [yolo] heads compute their loss on the device, so yolov4 and yolov4-tiny train entirely
// there; csdarknet53-omega's [softmax] loss stays on the host.
INSTANTIATE_TEST_SUITE_P(DarknetCfgs, CudaTrainingPlanShared,
                         ::testing::Values(SharedCase{"yolov4.cfg", 0},
                                           SharedCase{"yolov4-tiny.cfg", 0},
                                           SharedCase{"csdarknet53-omega.cfg", 1}));

// [yolo] computes its loss on the device: a conv and a head train without a host layer.
TEST(CudaTrainingPlan, AYoloHeadTrainsOnTheDevice) {
  const std::string cfg = R"([net]
width=32
height=32
channels=3

[convolutional]
filters=21
size=1
activation=linear

[yolo]
classes=2
num=3
anchors=4,4, 8,8, 16,16
)";
  const DeviceTrainingPlan p = plan_device_training(build_text(cfg, 1));
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(layers_at(p, TrainPlace::device), (std::vector<int>{0, 1}));
  EXPECT_EQ(p.host_output, std::vector<bool>(2, false));
  EXPECT_EQ(p.host_delta, std::vector<bool>(2, false));
}

// Crop, local average pooling, reorg, scale_channels, sam, implicit and weighted shortcuts
// (with their learned weights) train on the device; only the loss stays on the host.
TEST(CudaTrainingPlan, TheAttentionNetworkTrainsOnTheDeviceExceptItsLoss) {
  char buf[8192];
  std::snprintf(buf, sizeof buf, test::kAttentionTrainingCfg, "");
  Network net = build_text(buf);
  ASSERT_EQ(net.num_layers(), 25);
  const DeviceTrainingPlan p = plan_device_training(net);
  EXPECT_TRUE(p.problems.empty()) << joined(p.problems);
  EXPECT_EQ(layers_at(p, TrainPlace::host), (std::vector<int>{23}));
  for (int i = 0; i < net.num_layers(); ++i) {
    const bool near_loss = i == 22 || i == 23;
    EXPECT_EQ(p.host_output[size_t(i)], near_loss) << i;
    EXPECT_EQ(p.host_delta[size_t(i)], near_loss) << i;
  }
  for (int i : {15, 17, 18, 19}) EXPECT_FALSE(net.layer(i).params.empty()) << i;
  // The cfg trains on the CPU (what the GPU test compares against).
  net.set_training(true);
  init_weights(net, test::test_seed());
  std::vector<float> in(net.input_shape().size(), 0.5f), truth(net.truth_floats() * 4, 0.0f);
  for (int b = 0; b < 4; ++b) truth[size_t(b) * net.truth_floats() + size_t(b % 5)] = 1.0f;
  std::mt19937_64 rng(1);
  EXPECT_NO_THROW(net.forward_backward(in.data(), truth.data(), rng));
}

// What still cannot train on the device with trainable parameters: a shortcut of more than 16
// inputs (the kernels take the input pointers as parameters) and a convolution whose activation
// works across channels (normalize_channels*). The network is refused, naming each.
TEST(CudaTrainingPlan, LayersWithParametersButNoDeviceBackwardAreRefusedByName) {
  const std::string cfg = R"([net]
width=8
height=8
channels=3

[convolutional]
filters=3
size=3
pad=1
activation=leaky

[convolutional]
filters=3
size=3
pad=1
activation=normalize_channels

[shortcut]
from=-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1
weights_type=per_feature
activation=linear

[shortcut]
from=-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1
activation=linear

[avgpool]

[softmax]

[cost]
)";
  Network net = build_text(cfg, 1);
  const DeviceTrainingPlan p = plan_device_training(net);
  ASSERT_EQ(p.problems.size(), 2u) << joined(p.problems);
  EXPECT_NE(p.problems[0].find("layer 1 [conv]"), std::string::npos) << p.problems[0];
  EXPECT_NE(p.problems[1].find("layer 2 [shortcut]"), std::string::npos) << p.problems[1];
  EXPECT_EQ(p.place[1], TrainPlace::unsupported);
  EXPECT_EQ(p.place[2], TrainPlace::unsupported);
  // Without parameters the same shortcut trains on the host instead.
  EXPECT_EQ(p.place[3], TrainPlace::host);
}

TEST(CudaTrainingPlan, MemoryBlocksAreAlignedDisjointAndGradientsContiguous) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_int_distribution<size_t> size(1, 5000);
  for (int round = 0; round < 100; ++round) {
    std::vector<size_t> floats(size_t(1 + round % 40));
    for (size_t& f : floats) f = size(rng);
    const size_t align = round % 2 ? 64 : 16;
    const DeviceTrainingMemory m = plan_device_training_memory(floats, align);
    ASSERT_EQ(m.output_offset.size(), floats.size());
    ASSERT_EQ(m.delta_offset.size(), floats.size());
    std::vector<std::pair<size_t, size_t>> blocks;
    for (size_t i = 0; i < floats.size(); ++i) {
      EXPECT_EQ(m.output_offset[i] % align, 0u);
      EXPECT_EQ(m.delta_offset[i] % align, 0u);
      EXPECT_GE(m.delta_offset[i], m.delta_begin);
      EXPECT_LE(m.delta_offset[i] + floats[i], m.delta_end);
      EXPECT_LE(m.output_offset[i] + floats[i], m.delta_begin);
      blocks.emplace_back(m.output_offset[i], floats[i]);
      blocks.emplace_back(m.delta_offset[i], floats[i]);
    }
    EXPECT_EQ(m.total, m.delta_end);
    std::sort(blocks.begin(), blocks.end());
    for (size_t k = 1; k < blocks.size(); ++k)
      EXPECT_LE(blocks[k - 1].first + blocks[k - 1].second, blocks[k].first) << "overlap";
  }
}

// The plan the GPU applies is what the CPU optimizer applies: same blocks, same step values;
// dont_update layers, non-trainable blocks and train_only_bn's weights are left out.
TEST(CudaTrainingPlan, TheUpdatePlanIsWhatTheCpuOptimizerApplies) {
  for (const bool adam : {false, true}) {
    Network a = build_text(training_cfg_text(adam ? "adam=1" : ""));
    a.layer(2).dont_update = true;
    a.layer(3).learning_rate_scale = 0.5f;
    a.layer(7).train_only_bn = true;
    a.set_training(true);
    init_weights(a, test::test_seed());
    std::mt19937_64 rng(test::test_seed());
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (size_t k = 0; k < a.num_params(); ++k) a.grad_data()[k] = u(rng);
    Optimizer step_opt(a), plan_opt(a);
    const std::vector<float> before(a.param_data(), a.param_data() + a.num_params());
    const std::vector<ParamUpdate> plan = plan_update(plan_opt, a, 0.01f, 4);
    step_opt.step(a, 0.01f, 4);
    EXPECT_EQ(plan_opt.steps_done, step_opt.steps_done);
    // Exactly the changed floats are covered by the plan.
    std::vector<bool> covered(a.num_params(), false);
    for (const ParamUpdate& p : plan)
      for (size_t k = 0; k < p.count; ++k) covered[p.offset + k] = true;
    for (size_t k = 0; k < a.num_params(); ++k)
      if (!covered[k]) {
        EXPECT_EQ(a.param_data()[k], before[k]) << k;
      }
    for (int li : {2}) {
      const Layer& l = a.layer(li);
      for (const Param& p : l.params) EXPECT_FALSE(covered[size_t(p.data - a.param_data())]);
    }
    for (const Param& p : a.layer(7).params) {
      const bool expect = p.name == "biases" || p.name == "scales";
      EXPECT_EQ(covered[size_t(p.data - a.param_data())], expect) << p.name;
    }
    for (const ParamUpdate& p : plan) {
      const Layer* owner = nullptr;
      const Param* block = nullptr;
      for (int li = 0; li < a.num_layers(); ++li)
        for (const Param& q : a.layer(li).params)
          if (size_t(q.data - a.param_data()) == p.offset) {
            owner = &a.layer(li);
            block = &q;
          }
      ASSERT_NE(block, nullptr);
      EXPECT_TRUE(block->trainable) << block->name;
      EXPECT_EQ(block->count, p.count);
      const float lr = 0.01f * owner->learning_rate_scale;
      if (!adam) {
        EXPECT_FLOAT_EQ(p.sgd.step, lr / 4.0f);
        EXPECT_FLOAT_EQ(p.sgd.momentum, 0.9f);
        EXPECT_FLOAT_EQ(p.sgd.decay, block->name == "weights" ? 0.0005f * 4.0f : 0.0f);
      } else {
        EXPECT_FLOAT_EQ(p.adam.lr, lr);
        EXPECT_FLOAT_EQ(p.adam.inv_batch, 0.25f);
        EXPECT_FLOAT_EQ(p.adam.decay, block->name == "weights" ? 0.0005f : 0.0f);
      }
    }
  }
}

TEST(CudaTrainingPlan, FootprintCountsOutputsGradientsAndOptimizerBuffers) {
  for (const bool adam : {false, true}) {
    Network net = build_text(training_cfg_text(adam ? "adam=1" : ""), 4);
    size_t floats = 0;
    for (int i = 0; i < net.num_layers(); ++i)
      floats += (net.layer(i).output_shape.per_image() * 4 + 63) / 64 * 64;
    const DeviceTrainingFootprint f = device_training_footprint(net, false);
    EXPECT_EQ(f.activations, 2 * floats * sizeof(float));  // outputs and gradients
    EXPECT_EQ(f.parameters, net.num_params() * sizeof(float) * (adam ? 4u : 3u));
    // With reuse the gradients take less than the outputs (tests/cuda/test_cuda_gradient_plan.cpp).
    const DeviceTrainingFootprint r = device_training_footprint(net);
    EXPECT_GT(r.activations, floats * sizeof(float));
    EXPECT_LT(r.activations, 2 * floats * sizeof(float));
    EXPECT_EQ(r.parameters, f.parameters);
  }
}

TEST(CudaTrainingPlan, WorkspaceSizeLimitIsReadFromNet) {
  EXPECT_DOUBLE_EQ(build_text(training_cfg_text()).config().workspace_size_limit_MB, 1024.0);
  EXPECT_DOUBLE_EQ(build_text(training_cfg_text("workspace_size_limit_MB=64")).config().workspace_size_limit_MB,
                   64.0);
  EXPECT_ERROR_CONTAINS(build_text(training_cfg_text("workspace_size_limit_MB=-1")),
                        "workspace_size_limit_MB");
}

// Without a CUDA build or a device, GPU training fails with the reason, never runs elsewhere.
TEST(CudaTrainingPlan, WithoutADeviceGpuTrainingFailsWithTheReason) {
#if defined(MISHNET_HAVE_CUDA)
  if (cuda::device_available()) GTEST_SKIP() << "a device exists: the no-device errors are not reachable";
  EXPECT_ERROR_CONTAINS(check_training_gpus("0"), "no CUDA device");
  EXPECT_ERROR_CONTAINS(check_training_gpus("0,x"), "is not a GPU index");
  Network net = build_text(training_cfg_text());
  net.set_training(true);
  EXPECT_ANY_THROW(CudaTrainingNetwork(net, 0));
#else
  EXPECT_ERROR_CONTAINS(check_training_gpus("0"), "built without CUDA");
  Network net = build_text(training_cfg_text());
  net.set_training(true);
  EXPECT_ERROR_CONTAINS(CudaTrainingNetwork(net, 0), "built without CUDA");
#endif
}

}  // namespace
}  // namespace mishnet
