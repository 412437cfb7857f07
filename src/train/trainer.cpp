#include "mishnet/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <iostream>
#include <random>

#include "mishnet/error.h"
#include "mishnet/weights.h"
#include "train/param_update.h"

namespace mishnet {

uint64_t derive_seed(uint64_t seed, uint64_t counter) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (counter + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Trainer::Trainer(Network& net, BatchSource& data, TrainerOptions options)
    : net_(net), data_(data), options_(std::move(options)), optimizer_(net) {
  const NetConfig& c = net.config();
  subdivisions_ = c.subdivisions;
  images_per_batch_ = net.batch() * subdivisions_;
  max_batches_ = options_.max_batches > 0 ? options_.max_batches : c.max_batches;
  if (max_batches_ <= 0) fail(net.cfg_path(), ": [net] max_batches must be set for training");
  if (!net.training()) net.set_training(true);
  if (options_.multi_scale.enabled() && !options_.resize)
    fail(net.cfg_path(), ": multi-scale training needs a way to resize the network");
  size_t truth = net.truth_floats();
  if (truth == 0) fail(net.cfg_path(), ": the network has no loss layer (softmax/cost, yolo, ...)");
  truth_.resize(truth * size_t(net.batch()));
  // [net] mixed_precision=1 is for GPU training only (docs/gpu.md): the CPU trains in float32
  // and says so once.
  if (c.mixed_precision && !options_.device)
    std::cerr << net.cfg_path()
              << ": note: [net] mixed_precision=1 applies to GPU training only; the CPU ignores "
                 "it\n";
}

std::string Trainer::checkpoint_path(const std::string& suffix) const {
  return options_.backup_dir + "/" + options_.name + "_" + suffix + ".weights";
}

void Trainer::resume(const std::string& weights_path, bool clear) {
  // The weights (and maybe the optimizer state) were just loaded on the host: they go up to
  // the device before the next step.
  device_current_ = false;
  host_current_ = true;
  if (clear) {
    net_.seen = 0;
    return;
  }
  std::string state_path = state_path_for(weights_path);
  if (!std::filesystem::exists(state_path)) {
    // Plain Darknet weights: continue the count from `seen`, with fresh optimizer state.
    iteration_ = int64_t(net_.seen / uint64_t(images_per_batch_));
    return;
  }
  TrainState s = load_train_state(state_path);
  if (s.param_count != net_.num_params())
    fail(state_path, ": holds state for ", s.param_count, " parameters, the network has ",
         net_.num_params());
  if ((s.optimizer == "adam") != net_.config().adam)
    fail(state_path, ": was written by the ", s.optimizer, " optimizer, the cfg asks for ",
         net_.config().adam ? "adam" : "sgd");
  if (uint64_t(s.iteration) * uint64_t(images_per_batch_) != net_.seen)
    fail(state_path, ": is from iteration ", s.iteration, " but ", weights_path, " has seen ",
         net_.seen, " images (", net_.seen / uint64_t(images_per_batch_),
         " iterations): the two files come from different checkpoints");
  iteration_ = s.iteration;
  options_.seed = s.seed;
  optimizer_.steps_done = s.optimizer_steps;
  if (!s.velocity.empty()) optimizer_.velocity = s.velocity;
  if (!s.second.empty()) optimizer_.second = s.second;
  average_loss_ = s.average_loss;
  // Mixed precision resumes at the saved loss scale (the CPU has none).
  if (options_.device && s.loss_scale > 0)
    options_.device->restore_loss_scale({s.loss_scale, s.loss_scale_good_steps});
}

IterationStats Trainer::step() {
  auto t0 = std::chrono::steady_clock::now();
  if (options_.multi_scale.enabled()) {
    const InputSize size = options_.multi_scale.size_at(options_.seed, iteration_);
    const Shape in = net_.input_shape();
    if (size.width != in.w || size.height != in.h) {
      TrainingDevice* device = options_.device;
      if (device && !host_current_) device->download(net_, optimizer_);
      host_current_ = true;
      options_.resize(net_, size);
      if (device) {
        device->network_changed(net_);
        device_current_ = false;
      }
    }
  }
  TrainingDevice* device = options_.device;
  if (device && !device_current_) {
    device->upload(net_, optimizer_);
    device_current_ = true;
  }
  images_.resize(net_.input_shape().size());
  if (device)
    device->zero_grads();
  else
    net_.zero_grads();
  double loss = 0.0;
  std::mt19937_64 rng(derive_seed(options_.seed, uint64_t(iteration_)));
  const bool overlap = device && device->stages_inputs() && subdivisions_ > 1;
  if (overlap) {
    next_images_.resize(images_.size());
    next_truth_.resize(truth_.size());
  }
  const int64_t first = iteration_ * subdivisions_;
  if (overlap) {
    // Mini-batch sub+1 is read and uploaded on another thread while sub trains; the data
    // source is still called in order, one call at a time, so the batches are the same.
    data_.fill(first, images_.data(), truth_.data());
    for (int sub = 0; sub < subdivisions_; ++sub) {
      std::future<void> next;
      if (sub + 1 < subdivisions_)
        next = std::async(std::launch::async, [&, sub] {
          data_.fill(first + sub + 1, next_images_.data(), next_truth_.data());
          device->stage(next_images_.data(), next_truth_.data());
        });
      try {
        loss += device->forward_backward(images_.data(), truth_.data(), rng);
      } catch (...) {
        if (next.valid()) next.wait();  // never leave the filler writing into our buffers
        throw;
      }
      if (next.valid()) next.get();  // rethrows the filler's error
      std::swap(images_, next_images_);
      std::swap(truth_, next_truth_);
    }
  } else {
    for (int sub = 0; sub < subdivisions_; ++sub) {
      data_.fill(first + sub, images_.data(), truth_.data());
      loss += device ? device->forward_backward(images_.data(), truth_.data(), rng)
                     : net_.forward_backward(images_.data(), truth_.data(), rng);
    }
  }
  float per_image = float(loss / images_per_batch_);
  if (!std::isfinite(per_image))
    fail("the loss became ", per_image, " at iteration ", iteration_ + 1,
         "; training stopped, the last checkpoint written is kept (try a lower learning_rate or "
         "a longer burn_in)");
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  float lr = learning_rate_at(net_.config(), iteration_, u(rng));
  bool skipped = false;
  if (device) {
    // Mixed precision: a step whose gradients overflowed at the loss scale is not applied (nor
    // planned: Adam's step count stays). It still counts as an iteration: its images were
    // seen and the learning-rate schedule moves on (docs/gpu.md).
    const GradientCheck check = device->check_gradients();
    skipped = check.skip;
    if (skipped) {
      // Scales are powers of two from 1 to 2^24: whole numbers, printed as such.
      std::cout << iteration_ + 1 << ": mixed precision: the gradients overflowed at loss scale "
                << int64_t(check.loss_scale) << "; update skipped, loss scale now "
                << int64_t(check.next_loss_scale) << std::endl;
    } else {
      // The host optimizer plans the step (learning-rate scales, decay, Adam's corrections);
      // the device applies it to its parameters. The host copy is stale until the next
      // download.
      device->update(plan_update(optimizer_, net_, lr, images_per_batch_), net_.config().adam);
      host_current_ = false;
    }
  } else {
    optimizer_.step(net_, lr, images_per_batch_);
  }
  ++iteration_;
  net_.seen += uint64_t(images_per_batch_);
  average_loss_ = average_loss_ < 0 ? per_image : average_loss_ * 0.9 + per_image * 0.1;

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  elapsed_ += seconds;
  IterationStats s;
  s.iteration = iteration_;
  s.loss = per_image;
  s.average_loss = float(average_loss_);
  s.learning_rate = lr;
  s.images_per_second = images_per_batch_ / std::max(seconds, 1e-9);
  s.elapsed_seconds = elapsed_;
  s.eta_seconds = double(max_batches_ - iteration_) * seconds;
  s.update_skipped = skipped;
  return s;
}

void Trainer::sync_host() {
  if (options_.device && !host_current_) {
    options_.device->download(net_, optimizer_);
    host_current_ = true;
  }
}

void Trainer::save(const std::string& weights_path) {
  sync_host();
  std::filesystem::path dir = std::filesystem::path(weights_path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  // Each file is written whole (temporary file + rename). A crash between the two leaves a
  // pair from different iterations, which resume() detects through `seen`.
  TrainState s;
  s.iteration = iteration_;
  s.seed = options_.seed;
  s.param_count = net_.num_params();
  s.optimizer = net_.config().adam ? "adam" : "sgd";
  s.optimizer_steps = optimizer_.steps_done;
  s.velocity = optimizer_.velocity;
  s.second = optimizer_.second;
  s.average_loss = average_loss_;
  if (options_.device) {
    const LossScaleState ls = options_.device->loss_scale_state();
    s.loss_scale = ls.scale;
    s.loss_scale_good_steps = ls.good_steps;
  }
  save_train_state(s, state_path_for(weights_path));
  save_weights(net_, weights_path);
}

std::vector<std::string> Trainer::save_due_checkpoints() {
  std::vector<std::string> written;
  const NetConfig& c = net_.config();
  if (c.savelast > 0 && iteration_ % c.savelast == 0) {
    save(checkpoint_path("last"));
    written.push_back(checkpoint_path("last"));
  }
  if (c.saveweights > 0 && iteration_ % c.saveweights == 0) {
    save(checkpoint_path(std::to_string(iteration_)));
    written.push_back(checkpoint_path(std::to_string(iteration_)));
  }
  return written;
}

}  // namespace mishnet
