// Gradient memory of GPU training with reuse (core/device_gradient_plan.h), on the CPU: the
// schedule of small networks by hand, and a model of forward_backward's accesses (the order
// core/network_cuda_training.cpp runs them in: zero the scheduled gradients before each step,
// loss layers write their gradient in forward, each backward reads its own gradient and adds
// into those of the layers it reads) run over random networks and the Darknet cfgs: every
// access must find its gradient zeroed and not since taken by another.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/device_gradient_plan.h"
#include "cuda/cuda_test_util.h"
#include "cuda/training_cfgs.h"
#include "core/device_training_plan.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "core/network_cuda_training.h"
#endif

namespace mishnet {
namespace {

GradientUse use(std::vector<int> adds_into, bool loss = false) { return {std::move(adds_into), loss}; }

TEST(CudaGradientPlan, ScheduleOfAChainAndARoute) {
  // 0 conv, 1 conv, 2 route(0) (reads 1 as ctx.input too), 3 conv, 4 loss.
  const std::vector<GradientUse> layers = {use({}), use({0}), use({1, 0}), use({2}), use({3}, true)};
  const GradientSchedule s = schedule_gradients(layers);
  const int n = 5;
  EXPECT_EQ(s.first[4], forward_step(4)) << "the loss writes its gradient in forward";
  EXPECT_EQ(s.first[3], backward_step(4, n));
  EXPECT_EQ(s.first[2], backward_step(3, n));
  EXPECT_EQ(s.first[1], backward_step(2, n));
  EXPECT_EQ(s.first[0], backward_step(2, n)) << "the route writes layer 0's gradient first";
  for (int i = 0; i < n; ++i) EXPECT_EQ(s.last[i], backward_step(i, n));
  ASSERT_EQ(s.zero_before.size(), size_t(2 * n));
  EXPECT_EQ(s.zero_before[size_t(backward_step(2, n))], (std::vector<int>{0, 1}));
  // A chain holds at most three gradients at once: 0 and 1 may share with 3 and 4.
  const GradientPlacement p = place_gradients({100, 100, 100, 100, 100}, s, 1, true);
  EXPECT_LE(p.total, 300u);
  const GradientPlacement all = place_gradients({100, 100, 100, 100, 100}, s, 1, false);
  EXPECT_EQ(all.total, 500u);
  EXPECT_EQ(all.offset, (std::vector<size_t>{0, 100, 200, 300, 400}));
}

TEST(CudaGradientPlan, RejectsAnInputAfterTheLayer) {
  EXPECT_ERROR_CONTAINS(schedule_gradients({use({}), use({1})}), "layer 1 adds into layer 1");
}

// The model of the training loop's accesses. Each float of the gradient region is owned by the
// gradient that was last zeroed there; an access by gradient g needs all of g's floats.
void check_accesses(const std::vector<GradientUse>& layers, const std::vector<size_t>& floats,
                    const GradientSchedule& s, const GradientPlacement& p, const std::string& what) {
  const int n = int(layers.size());
  std::vector<int> owner(p.total, -1);
  int failures = 0;
  auto zero = [&](int step) {
    for (int g : s.zero_before[size_t(step)])
      std::fill(owner.begin() + long(p.offset[size_t(g)]),
                owner.begin() + long(p.offset[size_t(g)] + floats[size_t(g)]), g);
  };
  auto access = [&](int g, const char* how, int step) {
    for (size_t k = p.offset[size_t(g)]; k < p.offset[size_t(g)] + floats[size_t(g)]; ++k)
      if (owner[k] != g) {
        if (failures++ < 5)
          ADD_FAILURE() << what << ": step " << step << " " << how << " gradient " << g
                        << " but float " << k << " belongs to " << owner[k];
        return;
      }
  };
  for (int i = 0; i < n; ++i) {
    zero(forward_step(i));
    if (layers[size_t(i)].written_in_forward) access(i, "writes", forward_step(i));
  }
  for (int i = n - 1; i >= 0; --i) {
    const int t = backward_step(i, n);
    zero(t);
    access(i, "reads", t);
    for (int src : layers[size_t(i)].adds_into) access(src, "adds into", t);
  }
}

std::vector<GradientUse> random_network(std::mt19937_64& rng, int n) {
  std::vector<GradientUse> layers(static_cast<size_t>(n));
  for (int i = 1; i < n; ++i) {
    layers[size_t(i)].adds_into.push_back(i - 1);
    // Routes and shortcuts: up to three earlier layers, near or far.
    const int extra = int(rng() % 4 == 0 ? 1 + rng() % 3 : 0);
    for (int e = 0; e < extra; ++e) {
      const int src = int(rng() % uint64_t(i));
      auto& a = layers[size_t(i)].adds_into;
      if (std::find(a.begin(), a.end(), src) == a.end()) a.push_back(src);
    }
    layers[size_t(i)].written_in_forward = rng() % 10 == 0;
  }
  layers[size_t(n - 1)].written_in_forward = true;
  return layers;
}

TEST(CudaGradientPlan, RandomNetworksNeverAccessAGradientTakenByAnother) {
  std::mt19937_64 rng(test::test_seed());
  for (int round = 0; round < 300; ++round) {
    const int n = 1 + int(rng() % 60);
    const std::vector<GradientUse> layers = random_network(rng, n);
    std::vector<size_t> floats(static_cast<size_t>(n));
    for (size_t& f : floats) f = 1 + rng() % 300;
    const size_t align = round % 2 ? 16 : 1;
    const GradientSchedule s = schedule_gradients(layers);
    for (const bool reuse : {true, false}) {
      const GradientPlacement p = place_gradients(floats, s, align, reuse);
      for (size_t i = 0; i < floats.size(); ++i) EXPECT_EQ(p.offset[i] % align, 0u);
      check_accesses(layers, floats, s, p, "round " + std::to_string(round));
    }
  }
}

// A schedule that zeroes too late (at each layer's own backward) is caught by the model: the
// check above can fail.
TEST(CudaGradientPlan, TheModelCatchesAGradientZeroedTooLate) {
  const std::vector<GradientUse> layers = {use({}), use({0}), use({1}), use({2}, true)};
  GradientSchedule s = schedule_gradients(layers);
  const std::vector<size_t> floats(4, 8);
  const GradientPlacement p = place_gradients(floats, s, 1, true);
  s.zero_before.assign(8, {});
  for (int i = 0; i < 4; ++i) s.zero_before[size_t(backward_step(i, 4))].push_back(i);
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    check_accesses(layers, floats, s, p, "late");
  }
  EXPECT_GT(failures.size(), 0);
}

// The Darknet networks: the accesses are safe, and reuse cuts the gradients' memory (the figures
// go to docs/gpu.md).
class CudaGradientPlanShared : public ::testing::TestWithParam<const char*> {};

TEST_P(CudaGradientPlanShared, ReuseIsSafeAndSmaller) {
  MISHNET_REQUIRE_SHARED_CFG(GetParam());
  NetworkOptions o;
  o.batch = 2;
  o.lenient = true;
  Network net = Network::from_cfg_file(test::shared_cfg(GetParam()), o);
  std::vector<size_t> floats;
  for (int i = 0; i < net.num_layers(); ++i)
    floats.push_back(net.layer(i).output_shape.per_image() * size_t(net.batch()));
  const GradientSchedule s = schedule_gradients(net);
  const GradientPlacement reuse = place_gradients(floats, s, 64, true);
  const GradientPlacement all = place_gradients(floats, s, 64, false);
  check_accesses(gradient_uses(net), floats, s, reuse, GetParam());
  const DeviceTrainingFootprint with = device_training_footprint(net, true),
                                without = device_training_footprint(net, false);
  std::printf("%s: gradients %.1f MiB with reuse, %.1f MiB without; outputs and gradients %.1f "
              "MiB, %.1f MiB\n",
              GetParam(), reuse.total * 4.0 / 1048576, all.total * 4.0 / 1048576,
              with.activations / 1048576.0, without.activations / 1048576.0);
  EXPECT_LT(reuse.total, all.total / 2) << "the gradients of a deep network share memory";
  EXPECT_LT(with.activations, without.activations);
}

INSTANTIATE_TEST_SUITE_P(DarknetCfgs, CudaGradientPlanShared,
                         ::testing::Values("yolov4.cfg", "yolov4-tiny.cfg", "csdarknet53-omega.cfg",
                                           "yolov4-csp.cfg", "yolov4-sam-mish-csp-reorg-bfm.cfg"));

#if defined(MISHNET_HAVE_CUDA)
// On a device: the parameter gradients and the loss with gradient reuse are those without it,
// bit for bit (the same kernels in the same order; only addresses differ).
TEST(CudaTraining, GradientReuseGivesTheSameGradients) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  char buf[8192];
  std::snprintf(buf, sizeof buf, test::kTrainingCfg, "");
  NetworkOptions o;
  o.batch = 2;
  auto make = [&] {
    Network net = Network::from_cfg(parse_cfg_text(buf, "train.cfg"), o);
    init_weights(net, 11);
    net.set_training(true);
    return net;
  };
  Network a = make(), b = make();
  const std::vector<float> input = test::uniform_values(a.input_shape().size(), 12, 0.0f, 1.0f);
  std::vector<float> truth(a.truth_floats() * 2, 0.0f);
  truth[1] = 1.0f;
  truth[a.truth_floats()] = 1.0f;
  CudaTrainingNetwork reuse(a, 0, true), separate(b, 0, false);
  std::mt19937_64 ra(3), rb(3);
  reuse.zero_grads();
  separate.zero_grads();
  EXPECT_EQ(reuse.forward_backward(input.data(), truth.data(), ra),
            separate.forward_backward(input.data(), truth.data(), rb));
  EXPECT_EQ(reuse.gradients(), separate.gradients());
}
#endif

}  // namespace
}  // namespace mishnet
