// Training on a CUDA device against training on the CPU (docs/gpu.md, "Training on the GPU"):
// every layer's output, gradient and parameter gradients after one forward/backward pass, a few
// SGD and Adam steps, the Trainer with GpuTraining (its checkpoints, multi-scale resizes), two
// GPUs against one, and a step of yolov4-tiny from ../shared. Skipped (with the reason) without
// a device; none of these has run yet.
//
// Tolerance: as tests/cuda/test_cuda_network.cpp, the device sums in other orders (cuDNN,
// cuBLAS, per-channel block sums) and its expf/logf differ from glibc's by a few ulp. A float32
// sum of K terms differs between orders by at most about K * 2^-24 of the sum of |terms|;
// here K <= 3*3*8 = 72 per convolution output, 4*6*6 = 144 per filter gradient element and
// batch norm sums over 4*12*12 = 576 values: at most 576 * 6e-8 = 3.4e-5 of a tensor's scale per
// layer, and the backward pass goes through 17 layers. Gradients and outputs are compared with
// |gpu - cpu| <= 1e-3 * max|cpu| over the tensor + 1e-3 * |cpu|: 2x-30x the one-layer bound and
// far below an indexing or layout mistake (of the order of the values). Parameters after a few
// steps move by lr * gradient, so they are compared with the same rule. The attention network
// (25 layers, smaller sums) is compared with the same rule; its shortcut weight gradients sum
// in double in the CPU's order (kernels/shortcut_weights.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_test_util.h"
#include "cuda/training_cfgs.h"
#include "layers/yolo.h"
#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/multi_scale.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"
#include "mishnet/trainer.h"
#include "mishnet/weights.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "core/network_cuda_training.h"
#include "train/gpu_training.h"
#include "train/loss_scale.h"
#include "train/param_update.h"
#endif

namespace mishnet {
namespace {

#if defined(MISHNET_HAVE_CUDA)

std::string training_cfg_text(const std::string& net_keys = "") {
  char buf[8192];
  std::snprintf(buf, sizeof buf, test::kTrainingCfg, net_keys.c_str());
  return buf;
}

std::string attention_cfg_text(const std::string& net_keys = "") {
  char buf[8192];
  std::snprintf(buf, sizeof buf, test::kAttentionTrainingCfg, net_keys.c_str());
  return buf;
}

// Shortcut weights and implicit values start constant (1 or `mean`): random values instead, so
// that a mixed-up index shows (negative shortcut weights reach relu's zero branch).
void randomise_constant_parameters(Network& net, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-0.5f, 1.5f);
  for (int i = 0; i < net.num_layers(); ++i) {
    const std::string type = net.layer(i).type();
    if (type != "shortcut" && type != "implicit") continue;
    for (Param& p : net.layer(i).params)
      for (size_t k = 0; k < p.count; ++k) p.data[k] = u(rng);
  }
  net.parameters_changed();
}

Network build_training(const std::string& text, int batch, bool keep_all) {
  NetworkOptions o;
  o.batch = batch;
  Network net = Network::from_cfg(parse_cfg_text(text, "train.cfg"), o);
  if (keep_all) {
    std::vector<int> every;
    for (int i = 0; i < net.num_layers(); ++i) every.push_back(i);
    net.keep_outputs(every);
  }
  net.set_training(true);
  return net;
}

void copy_params(const Network& from, Network& to) {
  ASSERT_EQ(from.num_params(), to.num_params());
  std::copy(from.param_data(), from.param_data() + from.num_params(), to.param_data());
  to.parameters_changed();
}

float scale_of(const std::vector<float>& v) {
  float s = 0.0f;
  for (float x : v) s = std::max(s, std::fabs(x));
  return s;
}

void expect_matches(const std::vector<float>& gpu, const std::vector<float>& cpu,
                    const std::string& what) {
  test::expect_close(gpu, cpu, 1e-3f, 1e-3f * scale_of(cpu) + 1e-7f, what);
}

std::vector<float> one_hot_truth(const Network& net, uint64_t seed) {
  const size_t t = net.truth_floats();
  std::vector<float> truth(t * size_t(net.batch()), 0.0f);
  std::mt19937_64 rng(seed);
  for (int b = 0; b < net.batch(); ++b) truth[size_t(b) * t + size_t(rng() % t)] = 1.0f;
  return truth;
}

// One forward/backward on the CPU and on GPU 0 from the same parameters: every output, every
// gradient the CPU still holds, every parameter gradient, the rolling statistics.
void expect_one_pass_matches_the_cpu(const std::string& text) {
  const uint64_t seed = test::test_seed();
  Network cpu = build_training(text, 4, true);
  Network host = build_training(text, 4, false);
  init_weights(cpu, seed);
  randomise_constant_parameters(cpu, seed);
  copy_params(cpu, host);
  const std::vector<float> input =
      test::uniform_values(cpu.input_shape().size(), uint32_t(seed), 0.0f, 1.0f);
  const std::vector<float> truth = one_hot_truth(cpu, seed + 7);

  std::mt19937_64 cpu_rng(seed), gpu_rng(seed);
  cpu.zero_grads();
  const float cpu_loss = cpu.forward_backward(input.data(), truth.data(), cpu_rng);
  // Every layer's gradient is compared after backward: no gradient gives its memory away.
  CudaTrainingNetwork gpu(host, 0, /*reuse_gradients=*/false);
  gpu.zero_grads();
  const float gpu_loss = gpu.forward_backward(input.data(), truth.data(), gpu_rng);
  EXPECT_NEAR(gpu_loss, cpu_loss, 1e-3f * std::fabs(cpu_loss) + 1e-5f);

  for (int i = 0; i < cpu.num_layers(); ++i) {
    const std::string what = "layer " + std::to_string(i) + " [" + cpu.layer(i).type() + "]";
    const Tensor c = cpu.output(i);
    expect_matches(gpu.output(i), std::vector<float>(c.data, c.data + c.size()), what + " output");
    try {
      const Tensor d = cpu.delta(i);
      expect_matches(gpu.delta(i), std::vector<float>(d.data, d.data + d.size()), what + " gradient");
    } catch (const Error&) {
      // The CPU reused this gradient's memory (Network::delta): compared through the others.
    }
  }
  const std::vector<float> g = gpu.gradients();
  for (int i = 0; i < cpu.num_layers(); ++i)
    for (const Param& p : cpu.layer(i).params) {
      if (!p.trainable) continue;
      const size_t off = size_t(p.data - cpu.param_data());
      expect_matches(std::vector<float>(g.begin() + long(off), g.begin() + long(off + p.count)),
                     std::vector<float>(p.grad, p.grad + p.count),
                     "layer " + std::to_string(i) + " d" + p.name);
    }
  // Rolling statistics were updated on the device as on the CPU.
  gpu.download_parameters();
  for (int i = 0; i < cpu.num_layers(); ++i)
    for (const Param& p : cpu.layer(i).params) {
      if (p.trainable) continue;
      const size_t off = size_t(p.data - cpu.param_data());
      expect_matches(std::vector<float>(host.param_data() + off, host.param_data() + off + p.count),
                     std::vector<float>(p.data, p.data + p.count),
                     "layer " + std::to_string(i) + " " + p.name);
    }
}

TEST(CudaTraining, OutputsAndGradientsOfEveryLayerMatchTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  expect_one_pass_matches_the_cpu(training_cfg_text());
}

// Crop (its random window drawn from the same generator), local average pooling, the reorg
// variants, scale_channels, sam, implicit and the weighted shortcuts' learned weights.
TEST(CudaTraining, AttentionReorgAndWeightedShortcutLayersMatchTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  expect_one_pass_matches_the_cpu(attention_cfg_text());
}

// Three steps of SGD (momentum, decay) and of Adam: the GPU applies the CPU optimizer's plan.
// (Both test networks: the second trains implicit values and shortcut weights on the device.)
TEST(CudaTraining, OptimizerStepsMatchTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const uint64_t seed = test::test_seed();
  for (int run = 0; run < 4; ++run) {
    const bool attention = run >= 2, adam = run % 2 == 1;
    SCOPED_TRACE(attention ? "attention network" : "training network");
    const std::string keys = adam ? "adam=1" : "";
    const std::string text = attention ? attention_cfg_text(keys) : training_cfg_text(keys);
    Network cpu = build_training(text, 4, false);
    Network host = build_training(text, 4, false);
    init_weights(cpu, seed);
    randomise_constant_parameters(cpu, seed);
    copy_params(cpu, host);
    Optimizer cpu_opt(cpu), gpu_opt(host);
    CudaTrainingNetwork gpu(host, 0);
    for (int step = 0; step < 3; ++step) {
      const std::vector<float> input = test::uniform_values(
          cpu.input_shape().size(), uint32_t(seed + uint64_t(step)), 0.0f, 1.0f);
      const std::vector<float> truth = one_hot_truth(cpu, seed + 100 + uint64_t(step));
      std::mt19937_64 cpu_rng(seed + uint64_t(step)), gpu_rng(seed + uint64_t(step));
      cpu.zero_grads();
      cpu.forward_backward(input.data(), truth.data(), cpu_rng);
      cpu_opt.step(cpu, 0.05f, 4);
      gpu.zero_grads();
      gpu.forward_backward(input.data(), truth.data(), gpu_rng);
      gpu.apply(plan_update(gpu_opt, host, 0.05f, 4), adam);
    }
    gpu.download_parameters();
    gpu.download_optimizer(gpu_opt);
    const std::string what = adam ? "adam" : "sgd";
    expect_matches(std::vector<float>(host.param_data(), host.param_data() + host.num_params()),
                   std::vector<float>(cpu.param_data(), cpu.param_data() + cpu.num_params()),
                   what + " parameters");
    expect_matches(gpu_opt.velocity, cpu_opt.velocity, what + " velocity");
    if (adam) expect_matches(gpu_opt.second, cpu_opt.second, what + " second moment");
  }
}

class Synthetic final : public BatchSource {
 public:
  Synthetic(Shape in, size_t truth, uint64_t seed) : in_(in), truth_(truth), seed_(seed) {}
  void fill(int64_t k, float* images, float* truth) override {
    std::mt19937_64 rng(derive_seed(seed_, uint64_t(k)));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (size_t i = 0; i < in_.size(); ++i) images[i] = u(rng);
    for (int b = 0; b < in_.n; ++b)
      for (size_t t = 0; t < truth_; ++t) truth[size_t(b) * truth_ + t] = rng() % truth_ == t ? 1.0f : 0.0f;
  }

 private:
  Shape in_;
  size_t truth_;
  uint64_t seed_;
};

// The Trainer with GpuTraining (one GPU) against the Trainer on the CPU: same batches, same
// weights after 5 iterations, and the checkpoint written holds the device's parameters.
TEST(CudaTraining, TrainerOnOneGpuMatchesTheCpuTrainer) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const uint64_t seed = test::test_seed();
  const std::string text = training_cfg_text();
  Network cpu = build_training(text, 4, false);
  Network host = build_training(text, 4, false);
  init_weights(cpu, seed);
  copy_params(cpu, host);
  Synthetic data(cpu.input_shape(), cpu.truth_floats(), seed);
  const std::string dir = test::scratch_dir("cuda_trainer");
  TrainerOptions to;
  to.backup_dir = dir;
  to.name = "cpu";
  to.seed = seed;
  to.max_batches = 5;
  Trainer cpu_trainer(cpu, data, to);
  GpuTraining device(host, {0}, nullptr);
  to.name = "gpu";
  to.device = &device;
  Trainer gpu_trainer(host, data, to);
  while (!cpu_trainer.done()) {
    const IterationStats c = cpu_trainer.step();
    const IterationStats g = gpu_trainer.step();
    EXPECT_NEAR(g.loss, c.loss, 1e-3f * std::fabs(c.loss) + 1e-5f) << c.iteration;
  }
  const std::string path = dir + "/gpu_final.weights";
  gpu_trainer.save(path);  // downloads first
  expect_matches(std::vector<float>(host.param_data(), host.param_data() + host.num_params()),
                 std::vector<float>(cpu.param_data(), cpu.param_data() + cpu.num_params()),
                 "parameters after 5 iterations");
  Network loaded = build_training(text, 4, false);
  load_weights(loaded, path);
  EXPECT_TRUE(std::equal(loaded.param_data(), loaded.param_data() + loaded.num_params(),
                         host.param_data()));
}

// Multi-scale training on one GPU: each resize brings the device's state down, rebuilds the
// host network and the device network at the new size, and uploads again; the losses and
// weights follow the CPU run (the same sizes: the draw depends on the seed only).
TEST(CudaTraining, MultiScaleTrainingOnOneGpuMatchesTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const uint64_t seed = test::test_seed();
  const std::string text = training_cfg_text();
  const Cfg cfg = parse_cfg_text(text, "train.cfg");
  MultiScale ms;
  ms.base = {12, 12};
  ms.coefficient = 1.4f;  // 8x8 .. 16x16 in steps of 4
  ms.resize_step = 4;
  ms.period = 2;
  ms.max_batches = 1000;
  TrainerOptions to;
  to.backup_dir = test::scratch_dir("cuda_trainer_ms");
  to.seed = seed;
  to.max_batches = 8;
  to.multi_scale = ms;
  to.resize = [&cfg](Network& n, InputSize size) {
    NetworkOptions o;
    o.batch = 4;
    resize_training_network(n, cfg, o, size);
  };
  struct Resizing final : BatchSource {
    Network& net;
    uint64_t seed;
    Resizing(Network& n, uint64_t s) : net(n), seed(s) {}
    void fill(int64_t k, float* images, float* truth) override {
      Synthetic(net.input_shape(), net.truth_floats(), seed).fill(k, images, truth);
    }
  };
  Network cpu = build_training(text, 4, false);
  Network host = build_training(text, 4, false);
  init_weights(cpu, seed);
  copy_params(cpu, host);
  Resizing cpu_data(cpu, seed), gpu_data(host, seed);
  to.name = "cpu";
  Trainer cpu_trainer(cpu, cpu_data, to);
  GpuTraining device(host, {0}, nullptr);
  to.name = "gpu";
  to.device = &device;
  Trainer gpu_trainer(host, gpu_data, to);
  while (!cpu_trainer.done()) {
    const IterationStats c = cpu_trainer.step();
    const IterationStats g = gpu_trainer.step();
    EXPECT_NEAR(g.loss, c.loss, 1e-3f * std::fabs(c.loss) + 1e-5f) << c.iteration;
    EXPECT_EQ(host.input_shape(), cpu.input_shape()) << c.iteration;
  }
  gpu_trainer.sync_host();
  expect_matches(std::vector<float>(host.param_data(), host.param_data() + host.num_params()),
                 std::vector<float>(cpu.param_data(), cpu.param_data() + cpu.num_params()),
                 "parameters after multi-scale training");
}

// Two GPUs with the batch split in two compute what one GPU computes with the whole batch (no
// batch norm and no dropout here: batch statistics are per GPU, masks per GPU's generator).
TEST(CudaTraining, TwoGpusMatchOneGpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  if (cuda::query_devices().devices.size() < 2) GTEST_SKIP() << "needs two CUDA devices";
  const uint64_t seed = test::test_seed();
  std::string text = training_cfg_text();
  for (size_t at; (at = text.find("batch_normalize=1\n")) != std::string::npos;)
    text.erase(at, std::string("batch_normalize=1\n").size());
  // Layer 9, a [batchnorm] of its own, becomes a linear [activation] (the numbering stays).
  text.replace(text.find("[batchnorm]\n"), std::string("[batchnorm]\n").size(),
               "[activation]\nactivation=linear\n");
  ASSERT_EQ(text.find("\n[batchnorm]"), std::string::npos) << "every batch statistic is gone";
  ASSERT_EQ(text.find("batch_normalize"), std::string::npos);
  text.replace(text.find("probability=0.25"), std::string("probability=0.25").size(), "probability=0");
  Network one = build_training(text, 4, false);
  Network two = build_training(text, 4, false);
  init_weights(one, seed);
  copy_params(one, two);
  auto replica = [&text](int batch, int width, int height) {
    NetworkOptions o;
    o.batch = batch;
    o.width = width;
    o.height = height;
    return Network::from_cfg(parse_cfg_text(text, "train.cfg"), o);
  };
  GpuTraining g1(one, {0}, replica), g2(two, {0, 1}, replica);
  Optimizer o1(one), o2(two);
  g1.upload(one, o1);
  g2.upload(two, o2);
  for (int step = 0; step < 3; ++step) {
    const std::vector<float> input = test::uniform_values(
        one.input_shape().size(), uint32_t(seed + uint64_t(step)), 0.0f, 1.0f);
    const std::vector<float> truth = one_hot_truth(one, seed + 50 + uint64_t(step));
    std::mt19937_64 r1(seed), r2(seed);
    g1.zero_grads();
    g2.zero_grads();
    const double l1 = g1.forward_backward(input.data(), truth.data(), r1);
    const double l2 = g2.forward_backward(input.data(), truth.data(), r2);
    EXPECT_NEAR(l2, l1, 1e-3 * std::fabs(l1) + 1e-5);
    g1.update(plan_update(o1, one, 0.05f, 4), false);
    g2.update(plan_update(o2, two, 0.05f, 4), false);
  }
  g1.download(one, o1);
  g2.download(two, o2);
  expect_matches(std::vector<float>(two.param_data(), two.param_data() + two.num_params()),
                 std::vector<float>(one.param_data(), one.param_data() + one.num_params()),
                 "parameters, two GPUs against one");
}

// One step of yolov4-tiny (at 160x160, batch 2, one box per image): the whole network, its two
// [yolo] losses included, on the device; the loss, the heads' figures and every parameter
// gradient as on the CPU.
TEST(CudaTraining, Yolov4TinyStepMatchesTheCpu) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  const uint64_t seed = test::test_seed();
  const Cfg cfg = parse_cfg_file(test::shared_cfg("yolov4-tiny.cfg"));
  NetworkOptions o;
  o.batch = 2;
  o.width = 160;
  o.height = 160;
  o.lenient = true;
  Network cpu = Network::from_cfg(cfg, o);
  Network host = Network::from_cfg(cfg, o);
  cpu.set_training(true);
  host.set_training(true);
  init_weights(cpu, seed);
  copy_params(cpu, host);
  const std::vector<float> input =
      test::uniform_values(cpu.input_shape().size(), uint32_t(seed), 0.0f, 1.0f);
  // Darknet's truth rows: x, y, w, h, class per box; the rest zero.
  std::vector<float> truth(cpu.truth_floats() * 2, 0.0f);
  for (int b = 0; b < 2; ++b) {
    float* t = truth.data() + size_t(b) * cpu.truth_floats();
    t[0] = 0.4f + 0.1f * float(b);
    t[1] = 0.5f;
    t[2] = 0.3f;
    t[3] = 0.2f;
    t[4] = float(b);
  }
  std::mt19937_64 r1(seed), r2(seed);
  cpu.zero_grads();
  const float cpu_loss = cpu.forward_backward(input.data(), truth.data(), r1);
  CudaTrainingNetwork gpu(host, 0);
  gpu.zero_grads();
  const float gpu_loss = gpu.forward_backward(input.data(), truth.data(), r2);
  // 21 layers deep: ten times the small network's tolerance.
  EXPECT_NEAR(gpu_loss, cpu_loss, 1e-2f * std::fabs(cpu_loss) + 1e-4f);
  for (int i = 0; i < cpu.num_layers(); ++i) {
    EXPECT_EQ(gpu.plan().place[size_t(i)], TrainPlace::device) << "layer " << i;
    const auto* head = dynamic_cast<const YoloLayer*>(&cpu.layer(i));
    if (!head) continue;
    const YoloStats& want = head->last_stats();
    const YoloStats& got = dynamic_cast<const YoloLayer&>(host.layer(i)).last_stats();
    EXPECT_EQ(got.count, want.count) << "layer " << i;
    EXPECT_NEAR(got.avg_iou, want.avg_iou, 1e-2f) << "layer " << i;
    EXPECT_NEAR(got.avg_no_obj, want.avg_no_obj, 1e-2f) << "layer " << i;
  }
  const std::vector<float> g = gpu.gradients();
  for (int i = 0; i < cpu.num_layers(); ++i)
    for (const Param& p : cpu.layer(i).params) {
      if (!p.trainable) continue;
      const size_t off = size_t(p.data - cpu.param_data());
      const std::vector<float> want(p.grad, p.grad + p.count);
      test::expect_close(std::vector<float>(g.begin() + long(off), g.begin() + long(off + p.count)),
                         want, 1e-2f, 1e-2f * scale_of(want) + 1e-6f,
                         "yolov4-tiny layer " + std::to_string(i) + " d" + p.name);
    }
}

// Mixed precision ([net] mixed_precision=1) against float32 on the device, three SGD steps
// from the same weights. Layers 2 and 3 run in half (8 channels and filters); 0 (3 input
// channels) and 7 (groups=2) stay float32 with a note. Tolerance: half rounds x, w, dy and each
// convolution result to 11 significant bits (u = 2^-11 = 4.9e-4), so a half convolution's
// output or gradient is off by at most about 3u = 1.5e-3 of the tensor's scale (2u from the
// operands, u from the result; float accumulation adds ~K 2^-24, negligible). Two half layers
// forward and their two gradients backward, carried through batch norm (scale-free) and
// activations (slope <= ~1.1): about 4 x 1.5e-3 = 6e-3 of the scale; compared with
// |mixed - float| <= 1e-2 * max|float| + 1e-2 * |float|. A missing unscale is off by the loss
// scale (64x), a wrong conversion or layout by O(1) of the scale.
TEST(CudaTraining, MixedPrecisionStepsMatchFloat32) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const uint64_t seed = test::test_seed();
  Network plain = build_training(training_cfg_text(), 4, false);
  Network mixed = build_training(training_cfg_text("mixed_precision=1"), 4, false);
  init_weights(plain, seed);
  copy_params(plain, mixed);
  Optimizer plain_opt(plain), mixed_opt(mixed);
  CudaTrainingNetwork f(plain, 0);
  testing::internal::CaptureStderr();
  CudaTrainingNetwork h(mixed, 0);
  const std::string notes = testing::internal::GetCapturedStderr();
  // Each note is printed once per process: empty when an earlier test built these layers.
  if (!notes.empty()) {
    EXPECT_EQ(notes,
              "note: layer 0 [convolutional]: mixed precision: 3 input channels (tensor cores "
              "need a multiple of 8); this layer trains in float32\n"
              "note: layer 7 [convolutional]: mixed precision: groups=2 (half precision is for "
              "ungrouped convolutions); this layer trains in float32\n");
  }
  EXPECT_FALSE(f.mixed_precision());
  EXPECT_TRUE(h.mixed_precision());
  EXPECT_EQ(f.loss_scale(), 1.0f);
  EXPECT_EQ(h.loss_scale(), LossScaler::kInitialScale);
  // A scale with room below half's limit for this small net (the first steps at 65536 may
  // overflow and be skipped, which the next test covers).
  h.set_loss_scaler(LossScaler(64.0f));
  const auto close = [](const std::vector<float>& got, const std::vector<float>& want,
                        const std::string& what) {
    test::expect_close(got, want, 1e-2f, 1e-2f * scale_of(want) + 1e-7f, what);
  };
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const std::vector<float> input = test::uniform_values(
        plain.input_shape().size(), uint32_t(seed + uint64_t(step)), 0.0f, 1.0f);
    const std::vector<float> truth = one_hot_truth(plain, seed + 100 + uint64_t(step));
    std::mt19937_64 f_rng(seed + uint64_t(step)), h_rng(seed + uint64_t(step));
    f.zero_grads();
    h.zero_grads();
    const float f_loss = f.forward_backward(input.data(), truth.data(), f_rng);
    const float h_loss = h.forward_backward(input.data(), truth.data(), h_rng);
    EXPECT_NEAR(h_loss, f_loss, 1e-2f * std::fabs(f_loss) + 1e-4f) << "the loss stays unscaled";
    ASSERT_FALSE(h.gradients_overflow());
    ASSERT_TRUE(h.finish_gradient_check(false));
    const std::vector<float> fg = f.gradients(), hg = h.gradients();
    for (int i = 0; i < plain.num_layers(); ++i)
      for (const Param& p : plain.layer(i).params) {
        if (!p.trainable) continue;
        const size_t off = size_t(p.data - plain.param_data());
        close(std::vector<float>(hg.begin() + long(off), hg.begin() + long(off + p.count)),
              std::vector<float>(fg.begin() + long(off), fg.begin() + long(off + p.count)),
              "layer " + std::to_string(i) + " d" + p.name);
      }
    f.apply(plan_update(plain_opt, plain, 0.05f, 4), false);
    h.apply(plan_update(mixed_opt, mixed, 0.05f, 4), false);
  }
  EXPECT_EQ(h.loss_scale(), 64.0f);  // no overflow, far from the growth interval
  f.download_parameters();
  h.download_parameters();
  close(std::vector<float>(mixed.param_data(), mixed.param_data() + mixed.num_params()),
        std::vector<float>(plain.param_data(), plain.param_data() + plain.num_params()),
        "parameters after three steps");
}

// An overflow of the scaled gradients skips the step: the check finds it, apply refuses the
// still-scaled gradients, the scale halves and the parameters stay. Forced with the largest
// scale, 2^24: layer 3's filter gradient sums 4 x 6 x 6 = 144 products x dy, so it exceeds
// half's 65504 as soon as their mean magnitude exceeds 65504 / 2^24 / 144 = 2.7e-5, which any
// non-vanishing gradient of this net does. Then a normal step at a small scale goes through.
TEST(CudaTraining, MixedPrecisionOverflowSkipsTheStepAndHalvesTheScale) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const uint64_t seed = test::test_seed();
  Network mixed = build_training(training_cfg_text("mixed_precision=1"), 4, false);
  init_weights(mixed, seed);
  Optimizer opt(mixed);
  testing::internal::CaptureStderr();  // the float32 notes, tested above
  CudaTrainingNetwork h(mixed, 0);
  testing::internal::GetCapturedStderr();
  h.set_loss_scaler(LossScaler(LossScaler::kMaxScale));
  const auto trainable = [&mixed] {
    std::vector<float> v;
    for (int i = 0; i < mixed.num_layers(); ++i)
      for (const Param& p : mixed.layer(i).params)
        if (p.trainable) v.insert(v.end(), p.data, p.data + p.count);
    return v;
  };
  const std::vector<float> before = trainable();
  const std::vector<float> input =
      test::uniform_values(mixed.input_shape().size(), uint32_t(seed), 0.0f, 1.0f);
  const std::vector<float> truth = one_hot_truth(mixed, seed + 1);
  std::mt19937_64 rng(seed);
  h.zero_grads();
  const float loss = h.forward_backward(input.data(), truth.data(), rng);
  EXPECT_TRUE(std::isfinite(loss)) << "the overflow is in the backward pass only";
  ASSERT_TRUE(h.gradients_overflow());
  EXPECT_ERROR_CONTAINS(h.apply(plan_update(opt, mixed, 0.05f, 4), false), "still scaled");
  EXPECT_FALSE(h.finish_gradient_check(true));
  EXPECT_EQ(h.loss_scale(), LossScaler::kMaxScale / 2);
  h.download_parameters();
  EXPECT_EQ(trainable(), before) << "a skipped step changes no trainable parameter";

  h.set_loss_scaler(LossScaler(64.0f));
  h.zero_grads();
  h.forward_backward(input.data(), truth.data(), rng);
  ASSERT_FALSE(h.gradients_overflow());
  EXPECT_TRUE(h.finish_gradient_check(false));
  h.apply(plan_update(opt, mixed, 0.05f, 4), false);
  h.download_parameters();
  EXPECT_NE(trainable(), before);
}

#else

TEST(CudaTraining, NeedsACudaBuild) { GTEST_SKIP() << "built without CUDA: GPU test not run"; }

#endif

}  // namespace
}  // namespace mishnet
