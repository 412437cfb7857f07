// Input staging of GPU training on a device: a mini-batch staged from another thread
// (CudaTrainingNetwork::stage_input, while nothing else runs) trains exactly as one the forward
// uploads itself (cuDNN's algorithms are deterministic), and the slots come free again. Skipped
// without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda_test_util.h"
#include "cuda/training_cfgs.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "core/network_cuda_training.h"
#endif

namespace mishnet {
namespace {

#if defined(MISHNET_HAVE_CUDA)
Network staging_net(uint64_t seed) {
  char buf[8192];
  std::snprintf(buf, sizeof buf, test::kTrainingCfg, "");
  NetworkOptions o;
  o.batch = 2;
  Network net = Network::from_cfg(parse_cfg_text(buf, "train.cfg"), o);
  init_weights(net, seed);
  net.set_training(true);
  return net;
}

std::vector<float> one_hot_truth(const Network& net, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t per = net.truth_floats();
  std::vector<float> t(per * size_t(net.batch()), 0.0f);
  for (int b = 0; b < net.batch(); ++b) t[size_t(b) * per + rng() % per] = 1.0f;
  return t;
}

TEST(CudaTraining, StagedInputTrainsAsAnUploadedOne) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  Network a = staging_net(7), b = staging_net(7);
  const size_t in = a.input_shape().size();
  const std::vector<float> x = test::uniform_values(in, 41, 0.0f, 1.0f),
                           y = test::uniform_values(in, 42, 0.0f, 1.0f);
  const std::vector<float> truth = one_hot_truth(a, 43);
  CudaTrainingNetwork ga(a, 0), gb(b, 0);
  for (int round = 0; round < 3; ++round) {  // the slots alternate and come free again
    const std::vector<float>& images = round % 2 ? y : x;
    // The staged copy is what trains: the host buffer handed to the forward is overwritten
    // after staging, so an upload from it (staging missed) would train on other values.
    std::vector<float> host = images;
    std::thread stager([&] { gb.stage_input(host.data()); });
    stager.join();
    std::fill(host.begin(), host.end(), 0.5f);
    std::mt19937_64 ra(5 + round), rb(5 + round);
    ga.zero_grads();
    gb.zero_grads();
    const float la = ga.forward_backward(images.data(), truth.data(), ra);
    const float lb = gb.forward_backward(host.data(), truth.data(), rb);
    EXPECT_EQ(la, lb) << "round " << round;
    EXPECT_EQ(ga.gradients(), gb.gradients()) << "round " << round;
  }
}
#else
TEST(CudaTraining, StagingNeedsACudaBuild) { GTEST_SKIP() << "built without CUDA: GPU test not run"; }
#endif

}  // namespace
}  // namespace mishnet
