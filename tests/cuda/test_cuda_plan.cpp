// CPU tests of the CUDA network path (no device needed): which layers have a CUDA forward
// (Network::cuda_layers) for the repo's cfgs, the public Darknet cfgs and the test networks,
// what crosses between host and device around fallbacks (plan_device_execution), the arena the
// device shares with the host, and the errors of a CUDA network where it cannot run.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/device_plan.h"
#include "cuda/network_cfgs.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#endif

namespace mishnet {
namespace {

Network build(const char* text, BackendKind backend = BackendKind::cpu) {
  NetworkOptions o;
  o.backend = backend;
  o.batch = 1;
  return Network::from_cfg(parse_cfg_text(text, "test.cfg"), o);
}

std::vector<int> fallbacks_of(const Network& net) {
  std::vector<int> out;
  const std::vector<bool> on = net.cuda_layers();
  for (int i = 0; i < net.num_layers(); ++i)
    if (!on[size_t(i)]) out.push_back(i);
  return out;
}

std::string describe(const Network& net, const std::vector<int>& layers) {
  std::string s;
  for (int i : layers) s += std::to_string(i) + " [" + net.layer(i).type() + "] ";
  return s;
}

TEST(CudaPlan, EveryLayerOfTheRepoCfgsRunsOnTheDevice) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(MISHNET_SOURCE_DIR) + "/cfg")) {
    if (entry.path().extension() != ".cfg") continue;
    NetworkOptions o;
    o.batch = 1;
    Network net = Network::from_cfg_file(entry.path().string(), o);
    const std::vector<int> cpu = fallbacks_of(net);
    EXPECT_TRUE(cpu.empty()) << entry.path().filename() << ": on the CPU: " << describe(net, cpu);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

class CudaPlanShared : public ::testing::TestWithParam<const char*> {};

TEST_P(CudaPlanShared, EveryLayerRunsOnTheDevice) {
  MISHNET_REQUIRE_SHARED_CFG(GetParam());
  NetworkOptions o;
  o.batch = 1;
  Network net = Network::from_cfg_file(test::shared_cfg(GetParam()), o);
  const std::vector<int> cpu = fallbacks_of(net);
  EXPECT_TRUE(cpu.empty()) << GetParam() << ": on the CPU: " << describe(net, cpu);
}

INSTANTIATE_TEST_SUITE_P(DarknetCfgs, CudaPlanShared,
                         ::testing::Values("yolov4.cfg", "yolov4-tiny.cfg",
                                           "csdarknet53-omega.cfg"));

TEST(CudaPlan, EveryLayerTypeOfTheTestNetworkRunsOnTheDevice) {
  Network net = build(test::kEveryCudaLayerCfg);
  const std::vector<int> cpu = fallbacks_of(net);
  EXPECT_TRUE(cpu.empty()) << describe(net, cpu);
  EXPECT_EQ(net.num_layers(), 40);
  // The cfg is valid and runs on the CPU (what the GPU test compares against).
  init_weights(net, test::test_seed());
  std::vector<float> in(net.input_shape().size(), 0.5f);
  EXPECT_NO_THROW(net.forward(in.data()));
}

TEST(CudaPlan, ShortcutsOfMoreThan16InputsFallBackToTheCpu) {
  Network net = build(test::kFallbackCfg);
  EXPECT_EQ(fallbacks_of(net), (std::vector<int>{1, 3}));
}

// The plan of kFallbackCfg, step by step (see the comments in the cfg).
TEST(CudaPlan, FallbacksDownloadTheirInputsAndUploadWhatDeviceLayersRead) {
  Network net = build(test::kFallbackCfg);
  std::vector<std::vector<int>> inputs;
  std::vector<bool> kept(size_t(net.num_layers()), false);
  for (int i = 0; i < net.num_layers(); ++i) {
    inputs.push_back(net.layer(i).inputs);
    kept[size_t(i)] = i == 3 || i == net.num_layers() - 1;
  }
  const DevicePlan plan = plan_device_execution(net.cuda_layers(), inputs, kept);
  ASSERT_EQ(plan.steps.size(), 6u);
  EXPECT_EQ(plan.fallbacks(), 2);
  EXPECT_TRUE(plan.upload_input);
  EXPECT_EQ(plan.steps[1].download_before, (std::vector<int>{0}));
  EXPECT_TRUE(plan.steps[1].upload_after);
  EXPECT_EQ(plan.steps[3].download_before, (std::vector<int>{2}));
  EXPECT_FALSE(plan.steps[3].upload_after);
  // The kept fallback output (3) is on the host already; the last layer comes down.
  EXPECT_EQ(plan.download_at_end, (std::vector<int>{5}));
}

TEST(CudaPlan, ConsecutiveFallbacksReuseHostCopies) {
  // 0 device, 1 and 2 fallbacks both reading 0, 3 fallback reading the input and 1, 4 device
  // reading 0 and 2; kept: 2 (fallback) and 4.
  const std::vector<bool> on{true, false, false, false, true};
  const std::vector<std::vector<int>> inputs{{-1}, {0}, {0, 1}, {-1, 1}, {0, 2}};
  const std::vector<bool> kept{false, false, true, false, true};
  const DevicePlan plan = plan_device_execution(on, inputs, kept);
  EXPECT_TRUE(plan.upload_input);
  EXPECT_EQ(plan.steps[1].download_before, (std::vector<int>{0}));
  EXPECT_TRUE(plan.steps[2].download_before.empty());  // 0 came down for 1; 1 is a fallback
  EXPECT_TRUE(plan.steps[3].download_before.empty());  // the input is the caller's buffer
  EXPECT_FALSE(plan.steps[1].upload_after);
  EXPECT_TRUE(plan.steps[2].upload_after);   // read by device layer 4
  EXPECT_FALSE(plan.steps[3].upload_after);
  EXPECT_EQ(plan.download_at_end, (std::vector<int>{4}));
}

TEST(CudaPlan, AllOnTheDeviceMovesOnlyTheInputAndTheKeptOutputs) {
  const std::vector<bool> on{true, true, true};
  const std::vector<std::vector<int>> inputs{{-1}, {0}, {1, 0}};
  const DevicePlan plan = plan_device_execution(on, inputs, {false, true, true});
  EXPECT_EQ(plan.fallbacks(), 0);
  EXPECT_TRUE(plan.upload_input);
  for (const DeviceStep& s : plan.steps) {
    EXPECT_TRUE(s.download_before.empty());
    EXPECT_FALSE(s.upload_after);
  }
  EXPECT_EQ(plan.download_at_end, (std::vector<int>{1, 2}));
}

TEST(CudaPlan, AFallbackFirstLayerNeedsNoInputUpload) {
  const DevicePlan plan = plan_device_execution({false, true}, {{-1}, {0}}, {false, true});
  EXPECT_FALSE(plan.upload_input);
  EXPECT_TRUE(plan.steps[0].upload_after);
}

TEST(CudaPlan, RejectsMismatchedOrForwardReferences) {
  EXPECT_ERROR_CONTAINS(plan_device_execution({true}, {}, {true}), "input lists");
  EXPECT_ERROR_CONTAINS(plan_device_execution({true, true}, {{-1}, {1}}, {false, true}),
                        "reads layer 1");
}

// A model of where each output is valid (host, device) that execute_device_plan drives: every
// read must find its tensor where it runs, every copy must start from a valid copy, nothing is
// copied that is already there or never read there, and kept outputs end on the host.
class ValidityModel final : public DeviceSteps {
 public:
  ValidityModel(const std::vector<std::vector<int>>& inputs, const std::vector<bool>& kept)
      : inputs_(inputs), kept_(kept), host_(inputs.size(), false), device_(inputs.size(), false) {}

  void upload_input() override {
    EXPECT_FALSE(input_on_device_) << "input uploaded twice";
    input_on_device_ = true;
  }
  void run_on_device(int i) override {
    for (int src : inputs_[size_t(i)]) {
      if (src < 0) {
        EXPECT_TRUE(input_on_device_) << "layer " << i << " reads the input";
      } else {
        EXPECT_TRUE(device_[size_t(src)]) << "device layer " << i << " reads " << src;
      }
    }
    device_[size_t(i)] = true;
  }
  void download(int j) override {
    EXPECT_TRUE(device_[size_t(j)]) << "download of " << j << " before it exists";
    EXPECT_FALSE(host_[size_t(j)]) << "download of " << j << ", already on the host";
    host_[size_t(j)] = true;
    waited_ = false;
  }
  void wait() override { waited_ = true; }
  void run_on_host(int i) override {
    EXPECT_TRUE(waited_) << "fallback " << i << " ran before its downloads finished";
    for (int src : inputs_[size_t(i)]) {
      if (src >= 0) {
        EXPECT_TRUE(host_[size_t(src)]) << "fallback " << i << " reads " << src;
      }
    }
    host_[size_t(i)] = true;
  }
  void upload(int i) override {
    EXPECT_TRUE(host_[size_t(i)]);
    EXPECT_FALSE(device_[size_t(i)]) << "upload of " << i << ", already on the device";
    device_[size_t(i)] = true;
    uploaded_.push_back(i);
  }
  void check_end(const std::vector<bool>& on_device) {
    EXPECT_TRUE(waited_) << "no wait after the last download";
    for (size_t i = 0; i < kept_.size(); ++i) {
      if (kept_[i]) {
        EXPECT_TRUE(host_[i]) << "kept output " << i << " is not on the host";
      }
    }
    // Uploads only for outputs some later device layer reads.
    for (int i : uploaded_) {
      bool read = false;
      for (size_t r = size_t(i) + 1; r < inputs_.size(); ++r)
        for (int src : inputs_[r]) read = read || (src == i && on_device[r]);
      EXPECT_TRUE(read) << "fallback " << i << " uploaded for no device reader";
    }
  }

 private:
  std::vector<std::vector<int>> inputs_;
  std::vector<bool> kept_, host_, device_;
  std::vector<int> uploaded_;
  bool input_on_device_ = false, waited_ = true;
};

TEST(CudaPlan, RandomNetworksFindEveryTensorWhereItIsRead) {
  std::mt19937_64 rng(test::test_seed());
  for (int trial = 0; trial < 500; ++trial) {
    const int n = 1 + int(rng() % 12);
    std::vector<bool> on(static_cast<size_t>(n)), kept(static_cast<size_t>(n));
    std::vector<std::vector<int>> inputs(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      on[size_t(i)] = rng() % 3 != 0;
      kept[size_t(i)] = rng() % 4 == 0 || i == n - 1;
      const int reads = 1 + int(rng() % 3);
      for (int k = 0; k < reads; ++k) inputs[size_t(i)].push_back(int(rng() % size_t(i + 1)) - 1);
    }
    const DevicePlan plan = plan_device_execution(on, inputs, kept);
    ValidityModel model(inputs, kept);
    execute_device_plan(plan, model);
    model.check_end(on);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "trial " << trial << " (seed " << test::test_seed() << ")";
      return;
    }
  }
}

// The device arena is the host plan (same offsets, same size): outputs share memory once
// dead, so it is much smaller than all outputs together.
TEST(CudaPlan, TheSharedArenaPlanReusesMemory) {
  Network net = build(test::kEveryCudaLayerCfg);
  init_weights(net, 1);
  std::vector<float> in(net.input_shape().size(), 0.25f);
  net.forward(in.data());
  size_t all = 0;
  for (int i = 0; i < net.num_layers(); ++i) all += net.layer(i).output_shape.per_image();
  EXPECT_GT(net.arena_floats(), 0u);
  EXPECT_LT(net.arena_floats(), all);
  // Keeping every output turns reuse off: the arena then holds them all (aligned), but for
  // one-input routes, which are views of their input (core/output_views.h).
  std::vector<int> every;
  size_t not_views = 0;
  for (int i = 0; i < net.num_layers(); ++i) {
    every.push_back(i);
    if (net.layer(i).channel_sources().size() != 1)
      not_views += net.layer(i).output_shape.per_image();
  }
  ASSERT_LT(not_views, all) << "the cfg should have a one-input route";
  net.keep_outputs(every);
  net.forward(in.data());
  EXPECT_GE(net.arena_floats(), not_views);
}

// One stderr line per fallback when a cuda network is first prepared (also without a device:
// the lines come before the device is touched).
TEST(CudaPlan, PrepareNamesEachFallback) {
#if !defined(MISHNET_HAVE_CUDA)
  GTEST_SKIP() << "built without CUDA: a cuda network fails before it is prepared";
#endif
  Network net = build(test::kFallbackCfg, BackendKind::cuda);
  std::vector<float> in(net.input_shape().size(), 0.0f);
  ::testing::internal::CaptureStderr();
  try {
    net.forward(in.data());
  } catch (const Error&) {
    // no device or no CUDA: the lines are what this test checks
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cuda: layer 1 [shortcut] has no CUDA forward"), std::string::npos) << err;
  EXPECT_NE(err.find("cuda: layer 3 [shortcut] has no CUDA forward"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 2) << err;
}

TEST(CudaPlan, ACudaNetworkCannotTrainYet) {
  Network net = build(test::kFallbackCfg, BackendKind::cuda);
  EXPECT_ERROR_CONTAINS(net.set_training(true), "not implemented yet");
}

// Without a device (or without CUDA) a cuda network fails at prepare with the reason.
TEST(CudaPlan, ACudaNetworkWithoutADeviceFailsWithTheReason) {
#if defined(MISHNET_HAVE_CUDA)
  if (cuda::device_available()) GTEST_SKIP() << "a CUDA device exists: the GPU tests run instead";
  const std::string needle = "does not exist";
#else
  const std::string needle = "built without CUDA";
#endif
  Network net = build(test::kFallbackCfg, BackendKind::cuda);
  std::vector<float> in(net.input_shape().size(), 0.0f);
  EXPECT_ERROR_CONTAINS(net.forward(in.data()), needle);
}

}  // namespace
}  // namespace mishnet
