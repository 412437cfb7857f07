// Data-parallel training on one or more GPUs (docs/gpu.md, "Training on the GPU"): the Trainer's
// TrainingDevice. One worker thread per GPU drives that GPU's CudaTrainingNetwork (a thread
// drives one device: cuDNN/cuBLAS handles are per thread). With one GPU the host network itself
// is the device network's; with several, each GPU trains a replica network built for its slice
// of the mini-batch (batch_partition.h), gradients are summed across GPUs with NCCL before each
// update, and every GPU applies the same update, so the parameters stay identical. Batch-norm
// statistics are per GPU (each GPU's slice); the rolling statistics saved are GPU 0's.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "mishnet/network.h"
#include "mishnet/trainer.h"

namespace mishnet {

class GpuTraining final : public TrainingDevice {
 public:
  // Builds a replica of the training network with `batch` images per mini-batch at the host
  // network's current input size (from the same cfg and options; training mode not needed).
  using ReplicaFactory = std::function<Network(int batch, int width, int height)>;

  // `gpus`: device indices (parse_gpu_list). Throws with the reason when a device is missing,
  // the build has no CUDA (or no NCCL for several GPUs), or a layer cannot train on the GPU.
  GpuTraining(Network& net, std::vector<int> gpus, ReplicaFactory make_replica);
  ~GpuTraining() override;

  void upload(Network& net, const Optimizer& opt) override;
  void download(Network& net, Optimizer& opt) override;
  void zero_grads() override;
  double forward_backward(const float* images, const float* truth, std::mt19937_64& rng) override;
  void update(const std::vector<ParamUpdate>& updates, bool adam) override;
  // [net] mixed_precision=1: all-reduces the gradients (several GPUs), checks them on every GPU
  // and skips the step when any GPU saw an overflow (the flags agree: every GPU holds the same
  // sums); otherwise unscales them for the update() that follows.
  GradientCheck check_gradients() override;
  void network_changed(Network& net) override;
  // Each GPU's slice of the next mini-batch uploads on its copy stream while the current one
  // trains (CudaTrainingNetwork::stage_input); the truth stays on the host (host loss layers).
  LossScaleState loss_scale_state() const override;
  void restore_loss_scale(const LossScaleState& state) override;
  bool stages_inputs() const override { return true; }
  void stage(const float* images, const float* truth) override;

  int gpus() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks -gpus against the machine and the build before anything is built: throws a one-line
// reason (built without CUDA, no device and why, a listed device that does not exist, several
// GPUs without NCCL). Returns the device indices.
std::vector<int> check_training_gpus(const std::string& gpus_option);

}  // namespace mishnet
