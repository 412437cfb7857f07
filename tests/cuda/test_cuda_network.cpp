// Whole networks on a CUDA device against the same networks on the CPU: every layer type with a
// CUDA forward, fallbacks in the middle of a network, and yolov4-tiny from ../shared. Skipped
// (with the reason) without a device.
//
// Tolerance: the device sums convolutions and dot products in another order (cuDNN, cuBLAS vs
// oneDNN) and its expf/logf differ from glibc's by a few ulp. A float32 sum of K terms differs
// by at most about K * 2^-24 of the sum of |terms| between orders (typically sqrt(K) times
// that); with K <= 4608 (3x3x512, yolov4-tiny) that is <= 3e-4 of the scale of a layer's
// values, and batch norm / activations pass it on without growing it much per layer. Each
// output is therefore compared with |gpu - cpu| <= 2e-3 * max|cpu| over that output + 1e-3 *
// |cpu| elementwise: about 10x the one-layer bound, still far below what an indexing or layout
// mistake produces (differences of the order of the values themselves).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_test_util.h"
#include "cuda/network_cfgs.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

#if defined(MISHNET_HAVE_CUDA)

// Parameters from the seed: He-uniform weights, then batch-norm blocks and biases away from
// their neutral values so folding is exercised.
void randomise(Network& net, uint64_t seed) {
  init_weights(net, seed);
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<float> small(-0.2f, 0.2f), positive(0.5f, 1.5f);
  for (int i = 0; i < net.num_layers(); ++i)
    for (Param& p : net.layer(i).params) {
      for (size_t k = 0; k < p.count; ++k) {
        if (p.name == "scales" || p.name == "rolling_variance") p.data[k] = positive(rng);
        else if (p.name == "biases" || p.name == "rolling_mean") p.data[k] = small(rng);
        else if (p.name == "weights" && p.fan_in == 0) p.data[k] = positive(rng);  // shortcut, implicit
      }
    }
  net.parameters_changed();
}

Network build(const Cfg& cfg, BackendKind backend, int batch) {
  NetworkOptions o;
  o.backend = backend;
  o.batch = batch;
  o.device = 0;
  return Network::from_cfg(cfg, o);
}

// Runs `cfg` on the CPU and on GPU 0 with the same parameters and input; compares every
// output (all kept) or, with keep_all false, the outputs kept by default (the last layer and the
// detection layers) while every other output reuses memory in the arena plan.
void expect_gpu_matches_cpu(const Cfg& cfg, int batch, const std::string& what,
                            bool keep_all = true) {
  Network cpu = build(cfg, BackendKind::cpu, batch);
  Network gpu = build(cfg, BackendKind::cuda, batch);
  const uint64_t seed = test::test_seed();
  randomise(cpu, seed);
  ASSERT_EQ(cpu.num_params(), gpu.num_params());
  std::memcpy(gpu.param_data(), cpu.param_data(), cpu.num_params() * sizeof(float));
  gpu.parameters_changed();
  std::vector<int> every;
  for (int i = 0; i < cpu.num_layers(); ++i) every.push_back(i);
  cpu.keep_outputs(every);
  if (keep_all) gpu.keep_outputs(every);
  const std::vector<float> input = test::uniform_values(cpu.input_shape().size(), uint32_t(seed), 0.0f, 1.0f);
  cpu.forward(input.data());
  // Twice: the second run reuses the uploaded parameters, the arena and the cuDNN plans.
  gpu.forward(input.data());
  gpu.forward(input.data());
  int compared = 0;
  for (int i = 0; i < cpu.num_layers(); ++i) {
    if (!keep_all && i != cpu.num_layers() - 1 && !cpu.layer(i).is_detection_output()) continue;
    ++compared;
    const Tensor c = cpu.output(i), g = gpu.output(i);
    ASSERT_EQ(c.shape, g.shape) << what << " layer " << i;
    float scale = 0.0f;
    for (size_t k = 0; k < c.size(); ++k) scale = std::max(scale, std::fabs(c.data[k]));
    const std::vector<float> want(c.data, c.data + c.size()), got(g.data, g.data + g.size());
    test::expect_close(got, want, 1e-3f, 2e-3f * scale + 1e-6f,
                       what + " layer " + std::to_string(i) + " [" + cpu.layer(i).type() + "]");
  }
  EXPECT_GT(compared, 0) << what;
}

TEST(CudaNetwork, EveryLayerTypeMatchesTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const Cfg cfg = parse_cfg_text(test::kEveryCudaLayerCfg, "every-layer.cfg");
  expect_gpu_matches_cpu(cfg, 1, "batch 1");
  expect_gpu_matches_cpu(cfg, 3, "batch 3");
}

// With the default kept outputs the device arena reuses memory between layers (the host
// arena's plan): the outputs read at the end must still be right.
TEST(CudaNetwork, ArenaReuseKeepsTheReadOutputsRight) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  expect_gpu_matches_cpu(parse_cfg_text(test::kEveryCudaLayerCfg, "every-layer.cfg"), 2,
                         "every layer, arena reuse", false);
  expect_gpu_matches_cpu(parse_cfg_text(test::kFallbackCfg, "fallback.cfg"), 2,
                         "fallbacks, arena reuse", false);
  if (std::filesystem::exists(test::shared_cfg("yolov4-tiny.cfg")))
    expect_gpu_matches_cpu(parse_cfg_file(test::shared_cfg("yolov4-tiny.cfg")), 1,
                           "yolov4-tiny, arena reuse", false);
}

TEST(CudaNetwork, FallbacksInTheMiddleMatchTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  expect_gpu_matches_cpu(parse_cfg_text(test::kFallbackCfg, "fallback.cfg"), 2, "fallbacks");
}

TEST(CudaNetwork, OnlyKeptOutputsAreReadable) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  Network gpu = build(parse_cfg_text(test::kFallbackCfg, "fallback.cfg"), BackendKind::cuda, 1);
  randomise(gpu, 1);
  std::vector<float> in(gpu.input_shape().size(), 0.5f);
  const Tensor last = gpu.forward(in.data());
  EXPECT_EQ(last.data, gpu.output(gpu.num_layers() - 1).data);
  EXPECT_ERROR_CONTAINS(gpu.output(0), "was not kept");
}

TEST(CudaNetwork, Yolov4TinyMatchesTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  expect_gpu_matches_cpu(parse_cfg_file(test::shared_cfg("yolov4-tiny.cfg")), 1, "yolov4-tiny");
}

TEST(CudaNetwork, ABadDeviceIndexNamesTheDevices) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  NetworkOptions o;
  o.backend = BackendKind::cuda;
  o.device = 1000;
  Network net = Network::from_cfg(parse_cfg_text(test::kFallbackCfg, "fallback.cfg"), o);
  std::vector<float> in(net.input_shape().size(), 0.5f);
  EXPECT_ERROR_CONTAINS(net.forward(in.data()), "GPU 1000 does not exist");
}

#else

TEST(CudaNetwork, NeedsACudaBuild) { GTEST_SKIP() << "built without CUDA: GPU test not run"; }

#endif

}  // namespace
}  // namespace mishnet
