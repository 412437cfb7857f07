// The Trainer with a TrainingDevice (what GPU training plugs into), on the CPU: a stand-in
// device that trains a copy of the network on the host with the same arithmetic as the GPU
// path (plan_update applied with kernels::sgd_update/adam_update to its own buffers). The
// Trainer must upload before the first step and after a resume, download before a checkpoint,
// and give bit for bit the weights of training without a device, also across an exact resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cuda/training_cfgs.h"
#include "kernels/optimizer.h"
#include "mishnet/cfg.h"
#include "mishnet/multi_scale.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"
#include "mishnet/trainer.h"
#include "mishnet/weights.h"
#include "test_util.h"
#include "train/loss_scale.h"
#include "train/param_update.h"

namespace mishnet {
namespace {

std::string cfg_text(const std::string& net_keys) {
  char buf[8192];
  std::snprintf(buf, sizeof buf, test::kTrainingCfg, net_keys.c_str());
  std::string s = buf;
  // Two subdivisions of two images: gradients accumulate across forward_backward calls.
  s.replace(s.find("subdivisions=1"), std::string("subdivisions=1").size(), "subdivisions=2");
  return s;
}

NetworkOptions net_options(int width = 0, int height = 0) {
  NetworkOptions o;
  o.batch = 2;
  o.width = width;
  o.height = height;
  return o;
}

Network make_net(const std::string& text, uint64_t seed, bool init = true, int width = 0,
                 int height = 0) {
  const NetworkOptions o = net_options(width, height);
  Network net = Network::from_cfg(parse_cfg_text(text, "train.cfg"), o);
  if (init) init_weights(net, seed);
  net.set_training(true);
  return net;
}

class Source final : public BatchSource {
 public:
  Source(Shape in, size_t truth, uint64_t seed) : in_(in), truth_(truth), seed_(seed) {}
  void fill(int64_t k, float* images, float* truth) override {
    std::mt19937_64 rng(derive_seed(seed_, uint64_t(k)));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (size_t i = 0; i < in_.size(); ++i) images[i] = u(rng);
    for (int b = 0; b < in_.n; ++b) {
      const size_t label = size_t(rng() % truth_);
      for (size_t t = 0; t < truth_; ++t) truth[size_t(b) * truth_ + t] = t == label ? 1.0f : 0.0f;
    }
  }

 private:
  Shape in_;
  size_t truth_;
  uint64_t seed_;
};

// The "device": its own network, parameters, gradients and optimizer buffers.
class HostDevice final : public TrainingDevice {
 public:
  explicit HostDevice(std::string text) : text_(std::move(text)) {}

  void upload(Network& net, const Optimizer& opt) override {
    ++uploads;
    const Shape in = net.input_shape();
    if (!replica_) replica_ = std::make_unique<Network>(make_net(text_, 0, false, in.w, in.h));
    std::copy(net.param_data(), net.param_data() + net.num_params(), replica_->param_data());
    replica_->parameters_changed();
    velocity_ = opt.velocity;
    second_ = opt.second;
  }
  void download(Network& net, Optimizer& opt) override {
    ++downloads;
    std::copy(replica_->param_data(), replica_->param_data() + net.num_params(), net.param_data());
    net.parameters_changed();
    opt.velocity = velocity_;
    opt.second = second_;
  }
  void zero_grads() override { replica_->zero_grads(); }
  double forward_backward(const float* images, const float* truth, std::mt19937_64& rng) override {
    std::vector<float> staged;
    {
      std::lock_guard<std::mutex> lock(staging_mutex_);
      if (staged_key_ == images) {
        // The contract: the mini-batch at these addresses did not change since stage().
        EXPECT_TRUE(std::equal(staged_images_.begin(), staged_images_.end(), images));
        staged.swap(staged_images_);
        staged_key_ = nullptr;
        ++staged_hits;
      }
    }
    // A staged mini-batch trains from the device's own copy, as the GPU's staged slot.
    return replica_->forward_backward(staged.empty() ? images : staged.data(), truth, rng);
  }
  bool stages_inputs() const override { return staging; }
  void stage(const float* images, const float*) override {
    std::lock_guard<std::mutex> lock(staging_mutex_);
    EXPECT_EQ(staged_key_, nullptr) << "staged twice without a forward in between";
    staged_key_ = images;
    staged_images_.assign(images, images + replica_->input_shape().size());
    if (std::this_thread::get_id() != trainer_thread) ++staged_off_thread;
  }
  void update(const std::vector<ParamUpdate>& updates, bool adam) override {
    ++updates_applied;
    float* w = replica_->param_data();
    const float* g = replica_->grad_data();
    for (const ParamUpdate& u : updates)
      for (size_t i = u.offset; i < u.offset + u.count; ++i) {
        if (adam)
          kernels::adam_update(u.adam, w[i], velocity_[i], second_[i], g[i]);
        else
          kernels::sgd_update(u.sgd, w[i], velocity_[i], g[i]);
      }
    replica_->parameters_changed();
  }
  // Mixed precision as GpuTraining does it, with the overflow of check k given by the test.
  LossScaleState loss_scale_state() const override {
    if (overflow_at.empty()) return {};
    return {scaler.scale(), scaler.good_steps()};
  }
  void restore_loss_scale(const LossScaleState& state) override {
    scaler.restore(state.scale, state.good_steps);
  }
  GradientCheck check_gradients() override {
    const size_t k = size_t(checks++);
    if (overflow_at.empty()) return {};
    const bool overflow = k < overflow_at.size() && overflow_at[k];
    GradientCheck c;
    c.loss_scale = scaler.scale();
    c.skip = !scaler.record_step(overflow);
    c.next_loss_scale = scaler.scale();
    return c;
  }
  void network_changed(Network&) override {
    ++rebuilds;
    replica_.reset();  // rebuilt at the new size by the upload that follows
  }

  int uploads = 0, downloads = 0, rebuilds = 0, checks = 0, updates_applied = 0;
  std::vector<bool> overflow_at;  // empty: float32 (no mixed precision)
  LossScaler scaler;
  bool staging = false;
  int staged_hits = 0, staged_off_thread = 0;
  std::thread::id trainer_thread = std::this_thread::get_id();

 private:
  std::mutex staging_mutex_;
  const float* staged_key_ = nullptr;
  std::vector<float> staged_images_;
  std::string text_;
  std::unique_ptr<Network> replica_;
  std::vector<float> velocity_, second_;
};

TrainerOptions trainer_options(const std::string& dir, const std::string& name, uint64_t seed,
                               int64_t max_batches) {
  TrainerOptions to;
  to.backup_dir = dir;
  to.name = name;
  to.seed = seed;
  to.max_batches = max_batches;
  return to;
}

bool same_params(const Network& a, const Network& b) {
  return a.num_params() == b.num_params() &&
         std::equal(a.param_data(), a.param_data() + a.num_params(), b.param_data());
}

TEST(TrainerDevice, TrainsAsTheHostAndSyncsOnlyWhenNeeded) {
  for (const bool adam : {false, true}) {
    const std::string text = cfg_text(adam ? "adam=1" : "");
    const uint64_t seed = test::test_seed();
    const std::string dir = test::scratch_dir("trainer_device");
    TrainerOptions to;
    to.backup_dir = dir;
    to.name = "host";
    to.seed = seed;
    to.max_batches = 6;
    Network host = make_net(text, seed);
    Source data(host.input_shape(), host.truth_floats(), seed);
    Trainer plain(host, data, to);
    while (!plain.done()) plain.step();

    Network net = make_net(text, seed);
    HostDevice device(text);
    to.name = "dev";
    to.device = &device;
    Trainer t(net, data, to);
    const std::vector<float> start(net.param_data(), net.param_data() + net.num_params());
    while (!t.done()) t.step();
    EXPECT_EQ(device.uploads, 1);
    EXPECT_EQ(device.downloads, 0);
    // The host copy is stale until a checkpoint (or sync_host) brings the device's down.
    EXPECT_TRUE(std::equal(start.begin(), start.end(), net.param_data()));
    t.save(dir + "/dev.weights");
    EXPECT_EQ(device.downloads, 1);
    t.sync_host();
    t.save(dir + "/dev2.weights");
    EXPECT_EQ(device.downloads, 1) << "nothing changed on the device since the last download";
    EXPECT_TRUE(same_params(net, host)) << (adam ? "adam" : "sgd");
    plain.save(dir + "/host.weights");
    EXPECT_EQ(test::read_file_bytes(dir + "/dev.weights"), test::read_file_bytes(dir + "/host.weights"));
    EXPECT_EQ(test::read_file_bytes(dir + "/dev.state"), test::read_file_bytes(dir + "/host.state"));
  }
}

// A device that stages inputs: the Trainer fills mini-batch k+1 on another thread while k
// trains and hands it to stage(); the data source is still called in order and never twice at
// once, every mini-batch after the first of an iteration is staged, and the weights are the
// host run's bit for bit.
TEST(TrainerDevice, StagedInputsTrainAsTheHost) {
  const std::string text = cfg_text("");
  const uint64_t seed = test::test_seed();
  TrainerOptions to;
  to.backup_dir = test::scratch_dir("trainer_device_staging");
  to.seed = seed;
  to.max_batches = 5;
  Network host = make_net(text, seed);
  Source host_data(host.input_shape(), host.truth_floats(), seed);
  Trainer plain(host, host_data, to);
  while (!plain.done()) plain.step();

  struct Ordered final : BatchSource {
    Source inner;
    std::atomic<int> busy{0};
    int64_t last = -1;
    bool in_order = true, overlapped = false;
    Ordered(Shape in, size_t truth, uint64_t s) : inner(in, truth, s) {}
    void fill(int64_t k, float* images, float* truth) override {
      if (busy.fetch_add(1) != 0) overlapped = true;
      if (k != last + 1) in_order = false;
      last = k;
      inner.fill(k, images, truth);
      busy.fetch_sub(1);
    }
  };
  Network net = make_net(text, seed);
  Ordered data(net.input_shape(), net.truth_floats(), seed);
  HostDevice device(text);
  device.staging = true;
  to.device = &device;
  Trainer t(net, data, to);
  while (!t.done()) t.step();
  EXPECT_TRUE(data.in_order);
  EXPECT_FALSE(data.overlapped);
  EXPECT_EQ(data.last, 5 * 2 - 1);
  EXPECT_EQ(device.staged_hits, 5 * (2 - 1)) << "two subdivisions: the second of each is staged";
  EXPECT_EQ(device.staged_off_thread, device.staged_hits);
  t.sync_host();
  EXPECT_TRUE(same_params(net, host));
}

TEST(TrainerDevice, ResumeThroughTheDeviceIsExact) {
  const std::string text = cfg_text("");
  const uint64_t seed = test::test_seed();
  const std::string dir = test::scratch_dir("trainer_device_resume");
  TrainerOptions to = trainer_options(dir, "r", seed, 6);

  Network full = make_net(text, seed);
  Source data(full.input_shape(), full.truth_floats(), seed);
  Trainer a(full, data, to);
  while (!a.done()) a.step();

  Network first = make_net(text, seed);
  HostDevice d1(text);
  to.device = &d1;
  Trainer b(first, data, to);
  for (int i = 0; i < 3; ++i) b.step();
  b.save(dir + "/r_mid.weights");

  Network resumed = make_net(text, 0, false);
  load_weights(resumed, dir + "/r_mid.weights");
  HostDevice d2(text);
  to.device = &d2;
  Trainer c(resumed, data, to);
  c.resume(dir + "/r_mid.weights", false);
  EXPECT_EQ(c.iteration(), 3);
  while (!c.done()) c.step();
  EXPECT_EQ(d2.uploads, 1);
  c.sync_host();
  EXPECT_TRUE(same_params(resumed, full));
}

// Multi-scale training: before a resize the Trainer brings the device's parameters and
// optimizer state down (the resize rebuilds the host network from them), tells the device, and
// uploads again; the result is the host-only run's, bit for bit.
TEST(TrainerDevice, MultiScaleResizesThroughTheHost) {
  const std::string text = cfg_text("");
  const Cfg cfg = parse_cfg_text(text, "train.cfg");
  const uint64_t seed = test::test_seed();
  MultiScale ms;
  ms.base = {12, 12};
  ms.coefficient = 1.4f;  // 8x8 .. 16x16 in steps of 4
  ms.resize_step = 4;
  ms.period = 2;
  ms.max_batches = 1000;  // not in the last 100 iterations: the sizes are drawn
  TrainerOptions to;
  to.backup_dir = test::scratch_dir("trainer_device_ms");
  to.seed = seed;
  to.max_batches = 12;
  to.multi_scale = ms;
  int resizes = 0;
  to.resize = [&](Network& n, InputSize size) {
    ++resizes;
    resize_training_network(n, cfg, net_options(), size);
  };
  Network host = make_net(text, seed);
  Source host_data(host.input_shape(), host.truth_floats(), seed);
  // The source's image size follows the network's: fill() reads in_ per call, so one per size.
  struct Resizing final : BatchSource {
    Network& net;
    uint64_t seed;
    Resizing(Network& n, uint64_t s) : net(n), seed(s) {}
    void fill(int64_t k, float* images, float* truth) override {
      Source(net.input_shape(), net.truth_floats(), seed).fill(k, images, truth);
    }
  };
  Resizing plain_data(host, seed);
  Trainer plain(host, plain_data, to);
  while (!plain.done()) plain.step();
  const int host_resizes = resizes;
  // The first period trains at the largest size (16x16, not the cfg's 12x12): at least one
  // resize for every seed, usually several.
  ASSERT_GE(host_resizes, 1);

  Network net = make_net(text, seed);
  Resizing data(net, seed);
  HostDevice device(text);
  to.device = &device;
  resizes = 0;
  Trainer t(net, data, to);
  while (!t.done()) t.step();
  EXPECT_EQ(resizes, host_resizes);
  EXPECT_EQ(device.rebuilds, resizes);
  // The first resize comes before the first step (iteration 0 trains at 16x16): the host is
  // current then, so nothing comes down, and the one upload follows it. Every later resize
  // brings the device's state down first and sends it up again after.
  EXPECT_EQ(device.uploads, resizes);
  EXPECT_EQ(device.downloads, resizes - 1);
  t.sync_host();
  EXPECT_TRUE(same_params(net, host));
  EXPECT_EQ(net.input_shape(), host.input_shape());
}

// Mixed precision: a step whose gradients overflowed is reported on stdout and not applied
// (no update, no optimizer step counted: Adam's bias corrections stay), the scale halves, and
// the iteration still counts (images seen, schedule, checkpoints).
// The loss scale goes into the checkpoint's .state and comes back on resume: a resumed
// mixed-precision run continues at the scale (and good-step count) it had, not at 65536.
TEST(TrainerDevice, TheLossScaleIsSavedAndResumed) {
  const std::string text = cfg_text("");
  const uint64_t seed = test::test_seed();
  const std::string dir = test::scratch_dir("trainer_device_loss_scale");
  TrainerOptions to = trainer_options(dir, "ls", seed, 6);
  Network net = make_net(text, seed);
  Source data(net.input_shape(), net.truth_floats(), seed);
  HostDevice device(text);
  device.overflow_at = {true, false, true, false};  // two overflows, then a good step
  to.device = &device;
  Trainer t(net, data, to);
  testing::internal::CaptureStdout();
  for (int i = 0; i < 4; ++i) t.step();
  testing::internal::GetCapturedStdout();
  EXPECT_EQ(device.scaler.scale(), LossScaler::kInitialScale / 4);
  EXPECT_EQ(device.scaler.good_steps(), 1);
  t.save(dir + "/ls_mid.weights");
  const TrainState saved = load_train_state(dir + "/ls_mid.state");
  EXPECT_EQ(saved.loss_scale, LossScaler::kInitialScale / 4);
  EXPECT_EQ(saved.loss_scale_good_steps, 1);

  Network resumed = make_net(text, 0, false);
  load_weights(resumed, dir + "/ls_mid.weights");
  HostDevice d2(text);
  d2.overflow_at = {false};
  to.device = &d2;
  Trainer r(resumed, data, to);
  r.resume(dir + "/ls_mid.weights", false);
  EXPECT_EQ(d2.scaler.scale(), LossScaler::kInitialScale / 4);
  EXPECT_EQ(d2.scaler.good_steps(), 1);
  // A float32 device saves no scale.
  HostDevice plain(text);
  EXPECT_EQ(plain.loss_scale_state().scale, 0.0f);
}

TEST(TrainerDevice, AnOverflowedMixedPrecisionStepIsSkippedAndReported) {
  const std::string text = cfg_text("adam=1");
  const uint64_t seed = test::test_seed();
  const std::string dir = test::scratch_dir("trainer_device_overflow");
  TrainerOptions to = trainer_options(dir, "o", seed, 4);
  Network net = make_net(text, seed);
  Source data(net.input_shape(), net.truth_floats(), seed);
  HostDevice device(text);
  device.overflow_at = {false, true, false, false};  // the second step overflows
  to.device = &device;
  Trainer t(net, data, to);
  const uint64_t images = uint64_t(net.batch()) * 2;  // two subdivisions

  EXPECT_FALSE(t.step().update_skipped);
  t.sync_host();
  const std::vector<float> after_first(net.param_data(), net.param_data() + net.num_params());
  const int downloads = device.downloads;
  testing::internal::CaptureStdout();
  const IterationStats skipped = t.step();
  EXPECT_EQ(testing::internal::GetCapturedStdout(),
            "2: mixed precision: the gradients overflowed at loss scale 65536; update skipped, "
            "loss scale now 32768\n");
  EXPECT_TRUE(skipped.update_skipped);
  EXPECT_EQ(skipped.iteration, 2);
  EXPECT_EQ(t.iteration(), 2);
  EXPECT_EQ(net.seen, 2 * images);
  EXPECT_EQ(device.updates_applied, 1);
  t.sync_host();
  EXPECT_EQ(device.downloads, downloads) << "nothing changed on the device";
  EXPECT_TRUE(std::equal(after_first.begin(), after_first.end(), net.param_data()));
  EXPECT_EQ(device.scaler.scale(), LossScaler::kInitialScale / 2);

  testing::internal::CaptureStdout();
  EXPECT_FALSE(t.step().update_skipped);
  EXPECT_FALSE(t.step().update_skipped);
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "");
  EXPECT_TRUE(t.done());
  EXPECT_EQ(device.checks, 4);
  EXPECT_EQ(device.updates_applied, 3);
  t.sync_host();
  EXPECT_FALSE(std::equal(after_first.begin(), after_first.end(), net.param_data()));
  t.save(dir + "/o.weights");
  const TrainState state = load_train_state(dir + "/o.state");
  EXPECT_EQ(state.iteration, 4);
  EXPECT_EQ(state.optimizer_steps, 3) << "the skipped step is not an optimizer step";
}

}  // namespace
}  // namespace mishnet
