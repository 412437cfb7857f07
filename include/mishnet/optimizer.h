// Learning-rate policies and parameter updates with Darknet's semantics, plus the optimizer
// state that exact resume needs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mishnet/net_config.h"

namespace mishnet {

class Network;
struct ParamUpdate;  // train/param_update.h

// Darknet's get_current_rate: burn-in, then the [net] policy. `batch_num` is the number of
// batches (iterations) done so far. `random_draw` is a uniform [0,1) draw used by the random
// policy only.
float learning_rate_at(const NetConfig& c, int64_t batch_num, float random_draw = 0.5f);

// SGD with momentum and weight decay as Darknet applies them (decay on "weights" blocks only,
// learning rate per image: gradients are sums over the batch and are divided by the batch), or
// Adam (adam=1 in [net]). Per-layer learning_rate scales, train_only_bn and dont_update are
// honoured; non-trainable blocks (rolling statistics) are never touched.
class Optimizer {
 public:
  explicit Optimizer(const Network& net);

  // Applies one update from the gradients accumulated in the network (Param::grad) over
  // `batch_images` images, at learning rate `lr`. Does not zero the gradients.
  void step(Network& net, float lr, int batch_images);
  bool adam() const { return adam_; }

  // The state exact resume needs (momentum or Adam moments and the step count).
  int64_t steps_done = 0;
  std::vector<float> velocity;  // SGD momentum buffer, or Adam's first moment
  std::vector<float> second;    // Adam's second moment (empty for SGD)

 private:
  // step() = plan_update() (the step values) + the host loops; the GPU applies the same plan.
  friend std::vector<ParamUpdate> plan_update(Optimizer& opt, const Network& net, float lr,
                                              int batch_images);
  bool adam_ = false;
  float momentum_ = 0.9f, decay_ = 0.0f, b1_ = 0.9f, b2_ = 0.999f, eps_ = 1e-7f;
};

// Training state kept beside a .weights checkpoint (FILE.weights -> FILE.state): iteration,
// optimizer buffers and the run's seed, so that stopping and resuming gives the same weights as
// one uninterrupted run. Written to a temporary file and renamed.
struct TrainState {
  int64_t iteration = 0;  // batches done
  uint64_t seed = 0;
  uint64_t param_count = 0;
  std::string optimizer;  // "sgd" or "adam"
  int64_t optimizer_steps = 0;
  std::vector<float> velocity, second;
  double average_loss = -1.0;
  // Mixed-precision GPU training: the dynamic loss scale and its count of good steps (scale 0:
  // none, as in files written before it was saved).
  float loss_scale = 0.0f;
  int32_t loss_scale_good_steps = 0;
};

std::string state_path_for(const std::string& weights_path);
void save_train_state(const TrainState& s, const std::string& path);
// Throws with the file and byte offset on a bad or truncated file.
TrainState load_train_state(const std::string& path);

}  // namespace mishnet
