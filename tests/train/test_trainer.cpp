// The training loop: loss falls, resume is exact, NaN stops training, checkpoints are whole.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/network.h"
#include "mishnet/trainer.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

// Test-only loss: 0.5 * sum((out - truth)^2) over the batch.
class TestL2Loss final : public Layer {
 public:
  explicit TestL2Loss(const BuildContext& ctx) {
    input_shape = ctx.input;
    output_shape = ctx.input;
  }
  const char* type() const override { return "test_l2"; }
  size_t truth_floats() const override { return output_shape.per_image(); }
  void forward(const ForwardContext& ctx, Tensor& out) override {
    std::copy(ctx.input.data, ctx.input.data + out.size(), out.data);
    if (!ctx.training || !ctx.truth) return;
    double loss = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      float d = out.data[i] - ctx.truth[i];
      ctx.delta.data[i] = d;
      loss += 0.5 * d * d;
    }
    cost = float(loss);
  }
  void backward(const BackwardContext& ctx) override {
    for (size_t i = 0; i < ctx.delta.size(); ++i) ctx.input_delta.data[i] += ctx.delta.data[i];
  }
};
MISHNET_REGISTER_LAYER("test_l2_loss", TestL2Loss);

// Regression target: a fixed function of the (seeded) input, so the net can learn it.
class SyntheticSource final : public BatchSource {
 public:
  SyntheticSource(Shape in, size_t truth_per_image, uint64_t seed)
      : in_(in), truth_(truth_per_image), seed_(seed) {}
  void fill(int64_t k, float* images, float* truth) override {
    std::mt19937_64 rng(derive_seed(seed_, uint64_t(k)));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (size_t i = 0; i < in_.size(); ++i) images[i] = u(rng);
    for (int b = 0; b < in_.n; ++b)
      for (size_t t = 0; t < truth_; ++t) {
        const float* img = images + size_t(b) * in_.per_image();
        truth[size_t(b) * truth_ + t] = 0.5f * img[t % in_.per_image()] - 0.25f;
      }
  }

 private:
  Shape in_;
  size_t truth_;
  uint64_t seed_;
};

std::string cfg_text(const std::string& extra_net, const std::string& activation) {
  return "[net]\nbatch=4\nsubdivisions=2\nwidth=6\nheight=6\nchannels=2\nlearning_rate=0.01\n"
         "momentum=0.9\ndecay=0.0005\nmax_batches=40\nburn_in=5\npolicy=steps\nsteps=20\n"
         "scales=0.5\n" + extra_net +
         "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=" + activation +
         "\n[convolutional]\nfilters=3\nsize=1\nactivation=linear\n[test_l2_loss]\n";
}

Network make_training_net(const std::string& text) {
  NetworkOptions o;
  o.batch = 2;  // batch / subdivisions
  Network net = Network::from_cfg(parse_cfg_text(text, "train.cfg"), o);
  init_weights(net, 11);
  net.set_training(true);
  return net;
}

TEST(Trainer, LossFalls) {
  Network net = make_training_net(cfg_text("", "mish"));
  SyntheticSource data(net.input_shape(), net.truth_floats(), 5);
  TrainerOptions opt;
  opt.name = "t";
  opt.seed = 3;
  Trainer trainer(net, data, opt);
  float first = trainer.step().loss;
  IterationStats last;
  while (!trainer.done()) last = trainer.step();
  EXPECT_EQ(last.iteration, 40);
  EXPECT_LT(last.average_loss, 0.5f * first) << "first " << first << " last " << last.average_loss;
  EXPECT_EQ(net.seen, 40u * 4u);
}

// [net] mixed_precision=1 is for GPU training: the CPU path trains exactly as without it and
// says so once on stderr.
TEST(Trainer, MixedPrecisionIsIgnoredOnTheCpuWithOneNote) {
  TrainerOptions opt;
  opt.name = "mp";
  opt.seed = 3;
  opt.max_batches = 3;
  Network plain = make_training_net(cfg_text("", "leaky"));
  SyntheticSource data_plain(plain.input_shape(), plain.truth_floats(), 5);
  testing::internal::CaptureStderr();
  Trainer a(plain, data_plain, opt);
  while (!a.done()) a.step();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");

  Network mixed = make_training_net(cfg_text("mixed_precision=1\n", "leaky"));
  ASSERT_TRUE(mixed.config().mixed_precision);
  SyntheticSource data_mixed(mixed.input_shape(), mixed.truth_floats(), 5);
  testing::internal::CaptureStderr();
  Trainer b(mixed, data_mixed, opt);
  while (!b.done()) b.step();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "train.cfg: note: [net] mixed_precision=1 applies to GPU training only; the CPU "
                 "ignores it\n");

  ASSERT_EQ(plain.num_params(), mixed.num_params());
  EXPECT_EQ(std::memcmp(plain.param_data(), mixed.param_data(), plain.num_params() * 4), 0);
}

void check_exact_resume(const std::string& text) {
  std::string dir = test::scratch_dir("trainer_resume");
  TrainerOptions opt;
  opt.backup_dir = dir;
  opt.name = "r";
  opt.seed = 77;
  opt.max_batches = 12;

  Network full = make_training_net(text);
  SyntheticSource data_full(full.input_shape(), full.truth_floats(), 9);
  Trainer a(full, data_full, opt);
  while (!a.done()) a.step();

  Network first = make_training_net(text);
  SyntheticSource data_first(first.input_shape(), first.truth_floats(), 9);
  Trainer b(first, data_first, opt);
  for (int i = 0; i < 5; ++i) b.step();
  b.save(dir + "/r_mid.weights");

  NetworkOptions o;
  o.batch = 2;
  Network resumed = Network::from_cfg(parse_cfg_text(text, "train.cfg"), o);
  load_weights(resumed, dir + "/r_mid.weights");
  resumed.set_training(true);
  SyntheticSource data_resumed(resumed.input_shape(), resumed.truth_floats(), 9);
  TrainerOptions opt2 = opt;
  opt2.seed = 12345;  // ignored: the .state file restores the run's seed
  Trainer c(resumed, data_resumed, opt2);
  c.resume(dir + "/r_mid.weights", false);
  EXPECT_EQ(c.iteration(), 5);
  EXPECT_EQ(c.seed(), 77u);
  while (!c.done()) c.step();

  ASSERT_EQ(full.num_params(), resumed.num_params());
  EXPECT_EQ(std::memcmp(full.param_data(), resumed.param_data(), full.num_params() * 4), 0)
      << "resumed training differs from one uninterrupted run";
  EXPECT_EQ(full.seen, resumed.seen);
}

TEST(Trainer, ResumeIsExactWithSgd) { check_exact_resume(cfg_text("", "leaky")); }
TEST(Trainer, ResumeIsExactWithAdam) {
  check_exact_resume(cfg_text("adam=1\nB1=0.9\nB2=0.999\neps=0.000001\n", "swish"));
}

TEST(Trainer, NanLossStopsWithAMessage) {
  std::string text = cfg_text("", "linear");
  text.replace(text.find("learning_rate=0.01"), 18, "learning_rate=1e30");
  text.replace(text.find("burn_in=5"), 9, "burn_in=0");
  Network net = make_training_net(text);
  SyntheticSource data(net.input_shape(), net.truth_floats(), 5);
  TrainerOptions opt;
  opt.name = "n";
  Trainer trainer(net, data, opt);
  try {
    for (int i = 0; i < 10; ++i) trainer.step();
    FAIL() << "expected the loss to become NaN or inf";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss became"), std::string::npos) << e.what();
  }
}

TEST(Trainer, CheckpointsAreWrittenWholeWithState) {
  std::string dir = test::scratch_dir("trainer_checkpoints");
  Network net = make_training_net(cfg_text("savelast=4\nsaveweights=8\n", "relu"));
  SyntheticSource data(net.input_shape(), net.truth_floats(), 5);
  TrainerOptions opt;
  opt.backup_dir = dir;
  opt.name = "c";
  opt.max_batches = 8;
  Trainer trainer(net, data, opt);
  std::vector<std::string> written;
  while (!trainer.done()) {
    trainer.step();
    for (auto& p : trainer.save_due_checkpoints()) written.push_back(p);
  }
  EXPECT_EQ(written.size(), 3u);  // last at 4, last and _8 at 8
  EXPECT_TRUE(std::filesystem::exists(dir + "/c_last.weights"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/c_last.state"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/c_8.weights"));
  for (const auto& e : std::filesystem::directory_iterator(dir))  // no temporary file left
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(Trainer, MismatchedStateIsRejected) {
  std::string dir = test::scratch_dir("trainer_mismatch");
  std::string text = cfg_text("", "leaky");
  Network net = make_training_net(text);
  SyntheticSource data(net.input_shape(), net.truth_floats(), 5);
  TrainerOptions opt;
  opt.backup_dir = dir;
  opt.name = "m";
  Trainer t(net, data, opt);
  t.step();
  t.save(dir + "/m.weights");
  t.step();
  save_weights(net, dir + "/m.weights");  // weights one iteration ahead of the state
  NetworkOptions o;
  o.batch = 2;
  Network other = Network::from_cfg(parse_cfg_text(text, "train.cfg"), o);
  load_weights(other, dir + "/m.weights");
  other.set_training(true);
  Trainer u(other, data, opt);
  EXPECT_ERROR_CONTAINS(u.resume(dir + "/m.weights", false), "come from different checkpoints");
}

}  // namespace
}  // namespace mishnet

namespace mishnet {
namespace {

// Whole-network gradients (conv + batch norm + activation + conv + loss) against central
// differences of the loss, for each activation family (output-, input- and no-state backward).
TEST(Trainer, NetworkGradientsMatchFiniteDifferences) {
  for (const char* act : {"mish", "leaky", "swish", "logistic", "linear"}) {
    Network net = make_training_net(cfg_text("", act));
    SyntheticSource data(net.input_shape(), net.truth_floats(), 21);
    std::vector<float> images(net.input_shape().size()), truth(net.truth_floats() * 2);
    data.fill(0, images.data(), truth.data());
    std::mt19937_64 rng(1);
    net.zero_grads();
    net.forward_backward(images.data(), truth.data(), rng);
    std::vector<float> grad(net.grad_data(), net.grad_data() + net.num_params());
    std::mt19937_64 pick(test::test_seed());
    const float h = 1e-3f;
    for (int t = 0; t < 30; ++t) {
      int li = t % 2;
      Param& p = net.layer(li).params[std::uniform_int_distribution<size_t>(
          0, net.layer(li).params.size() - 1)(pick)];
      if (!p.trainable) continue;
      size_t i = std::uniform_int_distribution<size_t>(0, p.count - 1)(pick);
      float keep = p.data[i];
      p.data[i] = keep + h;
      net.parameters_changed();
      double lp = net.forward_backward(images.data(), truth.data(), rng);
      p.data[i] = keep - h;
      net.parameters_changed();
      double lm = net.forward_backward(images.data(), truth.data(), rng);
      p.data[i] = keep;
      net.parameters_changed();
      double numeric = (lp - lm) / (2 * h);
      double analytic = grad[size_t(p.data + i - net.param_data())];
      EXPECT_NEAR(analytic, numeric, 2e-2 * std::max(1.0, std::fabs(numeric)))
          << act << " layer " << li << " " << p.name << "[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace mishnet
