// The training loop shared by `classifier train` and `detector train`: mini-batches from a
// BatchSource, gradient accumulation over subdivisions, the learning-rate policy, optimizer
// steps, and checkpoints that resume exactly.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "mishnet/multi_scale.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"

namespace mishnet {

// Where training batches come from. Implementations may prefetch on their own threads, but the
// content of mini-batch k must depend only on (seed, k), so that a resumed run sees exactly the
// batches an uninterrupted one would.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills images (mini-batch x C x H x W, NCHW) and truth (mini-batch x truth_floats).
  virtual void fill(int64_t minibatch_index, float* images, float* truth) = 0;
};

struct IterationStats {
  int64_t iteration = 0;  // batches done after this step
  float loss = 0;         // per image, this batch
  float average_loss = 0; // Darknet's running average (0.9 old + 0.1 new)
  float learning_rate = 0;
  double images_per_second = 0;
  double elapsed_seconds = 0;
  double eta_seconds = 0;
  // Mixed precision: the gradients overflowed at the loss scale, the update was skipped (the
  // iteration still counts: see docs/gpu.md).
  bool update_skipped = false;
};

// A TrainingDevice's check of one step's gradients under mixed precision ([net]
// mixed_precision=1): skip when they overflowed (inf/nan) at the loss scale.
struct GradientCheck {
  bool skip = false;
  float loss_scale = 0.0f;       // the scale the step ran with (0: no mixed precision)
  float next_loss_scale = 0.0f;  // the scale of the next step
};

// The dynamic loss scale of mixed precision as a checkpoint holds it (.state).
struct LossScaleState {
  float scale = 0.0f;  // 0: no mixed precision
  int good_steps = 0;
};

struct ParamUpdate;  // train/param_update.h

// Where the forward/backward passes and the optimizer updates run when not on the host network:
// the GPUs (train/gpu_training.h). The host network stays the master copy: the Trainer
// downloads into it before a checkpoint or a resize and uploads after a resume.
class TrainingDevice {
 public:
  virtual ~TrainingDevice() = default;
  // The host network's parameters and the optimizer state to the device(s).
  virtual void upload(Network& net, const Optimizer& opt) = 0;
  // Back into the host network and the optimizer (checkpoints, multi-scale resize).
  virtual void download(Network& net, Optimizer& opt) = 0;
  virtual void zero_grads() = 0;
  // One mini-batch of net.batch() images; the loss summed over them. `rng` is the iteration's
  // generator (dropout masks).
  virtual double forward_backward(const float* images, const float* truth,
                                  std::mt19937_64& rng) = 0;
  // One optimizer step with the updates the host optimizer planned (plan_update).
  virtual void update(const std::vector<ParamUpdate>& updates, bool adam) = 0;
  // Mixed precision: once per step, after the last forward_backward and before update(): checks
  // the gradients (summed over the GPUs) and adapts the loss scale. On skip the Trainer calls
  // no update() (and plans none: Adam's step count stays). Float32 training never skips.
  virtual GradientCheck check_gradients() { return {}; }
  // Mixed precision: the loss scale and its good-step count for a checkpoint (scale 0: none),
  // and their restoration on resume (ignored by a device that trains in float32).
  virtual LossScaleState loss_scale_state() const { return {}; }
  virtual void restore_loss_scale(const LossScaleState& /*state*/) {}
  // The host network was rebuilt (multi-scale resize): rebuild the device side from it.
  virtual void network_changed(Network& net) = 0;
  // Input staging (overlap): when true, the Trainer fills the next mini-batch of an iteration
  // on another thread while the current one trains and calls stage() with it there; stage()
  // starts its upload (pinned buffer, copy stream) so that the forward_backward() that later
  // receives the same addresses finds it on the device. The contents stay unchanged until then.
  virtual bool stages_inputs() const { return false; }
  virtual void stage(const float* /*images*/, const float* /*truth*/) {}
};

struct TrainerOptions {
  std::string backup_dir = "backup";
  std::string name;        // checkpoint prefix: backup/<name>_last.weights
  uint64_t seed = 1;
  int64_t max_batches = 0; // 0: [net] max_batches
  // Multi-scale training: before an iteration whose size (multi_scale.size_at) differs from the
  // network's input, `resize` rebuilds the network at that size (resize_training_network).
  MultiScale multi_scale;
  std::function<void(Network&, InputSize)> resize;
  // Not null: train there (the GPUs) instead of on the host network. Not owned.
  TrainingDevice* device = nullptr;
};

class Trainer {
 public:
  // `net` must have been built with batch = [net] batch / subdivisions.
  Trainer(Network& net, BatchSource& data, TrainerOptions options);

  // Continues from a checkpoint: its .state side file (if present and `clear` is false)
  // restores the iteration, seed and optimizer state. The weights must already be loaded.
  void resume(const std::string& weights_path, bool clear);

  // One iteration: subdivisions mini-batches, then an optimizer step. Throws when the loss is
  // NaN or infinite (nothing is saved: the last good checkpoint stays).
  IterationStats step();
  bool done() const { return iteration_ >= max_batches_; }
  int64_t iteration() const { return iteration_; }
  int64_t max_batches() const { return max_batches_; }
  uint64_t seed() const { return options_.seed; }

  // Writes PATH (.weights) and its .state, each to a temporary file then renamed.
  // With a TrainingDevice, the parameters and optimizer state come down from it first.
  void save(const std::string& weights_path);
  // _last every savelast iterations, _<N> every saveweights; returns the paths written.
  std::vector<std::string> save_due_checkpoints();
  std::string checkpoint_path(const std::string& suffix) const;
  // With a TrainingDevice: brings the parameters and optimizer state down into the host
  // network when the device has newer ones (before reading the host network's weights, e.g.
  // for an evaluation). Nothing without one.
  void sync_host();

 private:
  Network& net_;
  BatchSource& data_;
  TrainerOptions options_;
  Optimizer optimizer_;
  int64_t iteration_ = 0;
  int64_t max_batches_ = 0;
  int subdivisions_ = 1;
  int images_per_batch_ = 1;
  double average_loss_ = -1.0;
  double elapsed_ = 0.0;
  // Two mini-batch buffers: with a staging device the next one is filled while one trains.
  std::vector<float> images_, truth_, next_images_, next_truth_;
  bool device_current_ = false;  // the device holds the host's parameters and optimizer state
  bool host_current_ = true;     // the host holds the device's (after a download)
};

// Splits a 64-bit seed and a counter into an independent generator seed (SplitMix64), so that
// per-iteration and per-image generators need no shared state.
uint64_t derive_seed(uint64_t seed, uint64_t counter);

}  // namespace mishnet
