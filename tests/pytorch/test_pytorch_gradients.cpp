// First-step parameter gradients of a small network against PyTorch (float64 autograd).
// bench/torch_darknet.py builds the same network from the same cfg and weights.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/npy.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

// conv+BN with Mish/Leaky/Swish, a CSP-style route split (groups), shortcut, maxpool, route
// concat, avgpool, connected, softmax: every layer kind the issue names.
const char* kNet = R"([net]
batch=3
subdivisions=1
width=10
height=10
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=mish

[route]
layers=-1
groups=2
group_id=1

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

[shortcut]
from=-2
activation=linear

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=6
size=1
stride=1
pad=1
activation=swish

[route]
layers=-1,-2

[convolutional]
filters=5
size=3
stride=1
pad=1
activation=linear

[avgpool]

[connected]
output=4
activation=linear

[softmax]
groups=1
)";

bool have_torch() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

TEST(PyTorchGradients, FirstStepParameterGradientsAgree) {
  if (!have_torch()) GTEST_SKIP() << "python3-torch is not installed (scripts/setup.sh installs it)";
  std::string dir = test::scratch_dir("pytorch_gradients");
  {
    std::ofstream f(dir + "/net.cfg");
    f << kNet;
  }
  NetworkOptions o;
  o.batch = 3;
  Network net = Network::from_cfg_file(dir + "/net.cfg", o);
  init_weights(net, test::test_seed());
  // Non-trivial batch-norm parameters, so their gradients are exercised.
  std::mt19937_64 rng(test::test_seed() + 5);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int i = 0; i < net.num_layers(); ++i)
    for (auto& p : net.layer(i).params)
      if (p.name == "scales" || p.name == "biases")
        for (size_t k = 0; k < p.count; ++k) p.data[k] = 0.5f + u(rng);
  save_weights(net, dir + "/net.weights");

  Shape in = net.input_shape();
  std::vector<float> input(in.size()), truth(size_t(in.n) * 4, 0.0f);
  for (auto& v : input) v = u(rng);
  for (int b = 0; b < in.n; ++b) truth[size_t(b) * 4 + size_t(b % 4)] = 1.0f;
  save_npy(dir + "/input.npy", input.data(), {size_t(in.n), size_t(in.c), size_t(in.h), size_t(in.w)});
  save_npy(dir + "/truth.npy", truth.data(), {size_t(in.n), 4});

  std::string cmd = std::string("/usr/bin/python3 ") + MISHNET_SOURCE_DIR + "/bench/torch_darknet.py " +
                    dir + "/net.cfg " + dir + "/net.weights " + dir + "/input.npy " + dir +
                    "/truth.npy " + dir + "/grads.npy > " + dir + "/torch.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "PyTorch side failed; see " << dir << "/torch.log";
  NpyArray ref = load_npy(dir + "/grads.npy");
  ASSERT_EQ(ref.data.size(), net.num_params());

  net.set_training(true);
  net.zero_grads();
  std::mt19937_64 train_rng(1);
  float loss = net.forward_backward(input.data(), truth.data(), train_rng);
  EXPECT_TRUE(std::isfinite(loss));
  // float32 against float64: relative 1e-3 of the block's largest gradient, per element.
  size_t offset = 0;
  for (int i = 0; i < net.num_layers(); ++i)
    for (auto& p : net.layer(i).params) {
      if (p.trainable) {
        double scale = 1e-6;
        for (size_t k = 0; k < p.count; ++k) scale = std::max(scale, std::fabs(double(ref.data[offset + k])));
        for (size_t k = 0; k < p.count; ++k)
          ASSERT_NEAR(p.grad[k], ref.data[offset + k], 1e-3 * scale)
              << "layer " << i << " (" << net.layer(i).type() << ") " << p.name << "[" << k << "]";
      }
      offset += p.count;
    }
}

}  // namespace
}  // namespace mishnet
