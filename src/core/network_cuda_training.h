// Training a network on one GPU (docs/gpu.md, "Training on the GPU"). The host Network (in
// training mode) stays the master copy: its layers, its parameters for checkpoints, and the CPU
// code of the layers without a device backward (loss layers). This class holds the device
// side: every layer's output and gradient, the parameters, their gradients and the optimizer
// state, planned once from the shapes (core/device_training_plan.h), and runs forward (training)
// -> loss -> backward -> update on the device. No CUDA types here; without CUDA in the build
// the constructor throws.
#pragma once
#include <cstddef>
#include <memory>
#include <random>
#include <vector>

#include "backend/cuda/stream_handle.h"
#include "core/device_training_plan.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"
#include "train/loss_scale.h"
#include "train/param_update.h"

namespace mishnet {

class CudaTrainingNetwork {
 public:
  // `net` must be in training mode; its batch is this network's batch. Makes `device` current
  // on the calling thread (the thread that drives this network from then on). Throws, naming
  // them, when layers cannot train on the device; uploads the parameters.
  // `reuse_gradients`: layers' gradients share memory where their lifetimes allow
  // (core/device_gradient_plan.h); false keeps every gradient until the next forward, for
  // tests that compare each layer's gradient after backward.
  CudaTrainingNetwork(Network& net, int device, bool reuse_gradients = true);
  ~CudaTrainingNetwork();
  CudaTrainingNetwork(const CudaTrainingNetwork&) = delete;
  CudaTrainingNetwork& operator=(const CudaTrainingNetwork&) = delete;

  int device() const;
  const DeviceTrainingPlan& plan() const;

  // Host <-> device copies of the parameters (net.param_data(), rolling statistics included)
  // and of the optimizer state (velocity, Adam's second moment).
  void upload_parameters();
  void download_parameters();  // into the host network (then net.parameters_changed())
  void upload_optimizer(const Optimizer& opt);
  void download_optimizer(Optimizer& opt) const;

  void zero_grads();
  // Starts uploading the mini-batch at `input` on a copy stream (through one of two pinned
  // slots, backend/cuda/staging_slots.h) so that a later forward_backward(input, ...) uses it
  // without waiting for a copy; the host memory at `input` must not change until then. May be
  // called from another thread while forward_backward runs.
  void stage_input(const float* input);
  // Forward with ground truth, backward from the loss layers; gradients are ADDED (subdivisions
  // accumulate). Returns the loss summed over the batch, as Network::forward_backward.
  float forward_backward(const float* input, const float* truth, std::mt19937_64& rng);
  // One optimizer step from plan_update (the same values the CPU optimizer applies). With
  // mixed precision only after finish_gradient_check(false) (the gradients are unscaled then).
  void apply(const std::vector<ParamUpdate>& updates, bool adam);

  // --- Mixed precision ([net] mixed_precision=1, docs/gpu.md) ---
  // forward_backward multiplies the loss layers' output gradients by loss_scale() (1 without
  // mixed precision), so the parameter gradients come out scaled. After the step's last
  // forward_backward (and the multi-GPU all-reduce): gradients_overflow() checks them for
  // inf/nan, then finish_gradient_check(overflow of any GPU) records the result in the loss
  // scaler (train/loss_scale.h) and, when there was none, unscales the gradients (times
  // 1/scale). Returns whether the update is to be applied; a skipped step needs no apply.
  bool mixed_precision() const;
  float loss_scale() const;
  // The scaler's state, carried over when the network is rebuilt (multi-scale resize).
  const LossScaler& loss_scaler() const;
  void set_loss_scaler(const LossScaler& scaler);
  bool gradients_overflow();
  bool finish_gradient_check(bool overflow);

  // The parameter gradients on the device (num_params floats, Network::grad_data's layout): the
  // multi-GPU all-reduce works on it.
  float* device_gradients();
  size_t num_params() const;
  cuda::StreamHandle stream() const;
  void synchronize() const;

  // For tests: host copies of the gradients, of layer i's output and gradient (with
  // reuse_gradients, a layer's gradient is only valid until another takes its memory).
  std::vector<float> gradients() const;
  std::vector<float> output(int i) const;
  std::vector<float> delta(int i) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mishnet
