// A network: layers in cfg order with shapes inferred once, one parameter allocation, and an
// arena for layer outputs planned from the shapes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mishnet/cfg.h"
#include "mishnet/layer.h"
#include "mishnet/net_config.h"
#include "mishnet/shape.h"

namespace mishnet {

struct NetworkOptions {
  bool lenient = false;    // unknown/unused keys are warnings instead of errors
  int batch = 0;           // > 0 overrides [net] batch (inference uses 1)
  int width = 0;           // > 0 overrides [net] width
  int height = 0;          // > 0 overrides [net] height
  int optimized_memory = -1;  // >= 0 overrides [net] optimized_memory
  BackendKind backend = BackendKind::cpu;
  int device = 0;          // the CUDA device when backend == cuda
  // cpu backend, inference: keep tensors between layers that can use it in oneDNN's nChw16c
  // layout (src/core/layout_plan.h). False: every tensor NCHW (for comparisons).
  bool blocked_layout = true;
};

class Network {
 public:
  static Network from_cfg(const Cfg& cfg, const NetworkOptions& options = {});
  static Network from_cfg_file(const std::string& path, const NetworkOptions& options = {});

  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();

  const NetConfig& config() const { return config_; }
  const std::string& cfg_path() const { return cfg_path_; }
  int batch() const { return batch_; }
  Shape input_shape() const;  // with batch
  int num_layers() const { return int(layers_.size()); }
  Layer& layer(int i) { return *layers_.at(size_t(i)); }
  const Layer& layer(int i) const { return *layers_.at(size_t(i)); }
  BackendKind backend() const { return backend_; }
  int device() const { return device_; }  // CUDA device index (backend cuda)
  // For each layer, whether the CUDA backend runs its inference forward on the device (false:
  // on the CPU, a fallback that downloads its inputs and uploads its output). Needs no device
  // and answers in every build; prepare() logs each fallback once.
  std::vector<bool> cuda_layers() const;
  // Floats of the output arena (host; the CUDA backend allocates the same plan on the device).
  size_t arena_floats() const { return arena_.size(); }

  // Total parameter count and the single allocation that holds them (in .weights order).
  size_t num_params() const { return param_storage_.size(); }
  float* param_data() { return param_storage_.data(); }
  const float* param_data() const { return param_storage_.data(); }
  // Images trained on, as stored in the .weights header.
  uint64_t seen = 0;

  // Layers whose outputs must survive a forward pass (the arena may reuse the rest).
  // Detection layers and the last layer are always kept.
  void keep_outputs(const std::vector<int>& layer_indices);
  // Runs every layer; input is batch x channels x height x width, NCHW float32.
  // Returns the output of the last layer (a host tensor on every backend: with cuda the kept
  // outputs are downloaded). Inference only: throws while set_training(true).
  Tensor forward(const float* input);
  // Output of layer i after forward(); throws when the arena reused it (not kept). Kept
  // outputs are always NCHW.
  Tensor output(int i) const;
  // Per-layer wall time of the last forward, when profiling is on.
  void set_profiling(bool on) { profiling_ = on; }
  const std::vector<double>& layer_times_ms() const { return layer_times_ms_; }
  // Per-layer wall time of the backward half of the last forward_backward (profiling on).
  const std::vector<double>& layer_backward_times_ms() const { return layer_backward_times_ms_; }

  // Folds batch norm, builds primitives; called by forward() when weights changed.
  void prepare();
  // Call after changing parameters in place (weights loaded, training step).
  void parameters_changed() { prepared_ = false; }

  double bflops() const;  // per image

  // --- Training ---
  // Switches to training: every output kept, a gradient tensor per layer and a gradient per
  // parameter (Param::grad, one allocation), batch norm on batch statistics.
  void set_training(bool on);
  bool training() const { return training_; }
  // Ground-truth floats per image that forward_backward expects (from the loss layers).
  size_t truth_floats() const;
  // Forward with ground truth, then backward from the loss layers. Parameter gradients are
  // ADDED (subdivisions accumulate); zero_grads() starts a new batch. Returns the loss summed
  // over the batch and the loss layers. Backward stops before a layer with stopbackward.
  float forward_backward(const float* input, const float* truth, std::mt19937_64& rng);
  void zero_grads();
  float* grad_data() { return grad_storage_.data(); }
  // Gradient of layer i's output after forward_backward (training only). Gradients share
  // memory once dead: throws for one that a later-computed gradient overwrote.
  Tensor delta(int i) const;

 private:
  Network();
  void plan_arena();
  size_t plan_backward_memory(size_t forward_floats, const std::vector<int>& lowest_reader,
                              std::vector<size_t>& delta_offset);
  // Every output back at its forward-arena place (after rebuilt ones pointed elsewhere).
  void restore_output_places();
  // The CUDA backend (network_cuda.cpp): parameters and arena on the device.
  struct CudaState;
  struct CudaStateDeleter {
    void operator()(CudaState* s) const;
  };
  void prepare_cuda();
  Tensor forward_cuda(const float* input);

  NetConfig config_;
  std::string cfg_path_;
  int batch_ = 1;
  BackendKind backend_ = BackendKind::cpu;
  bool blocked_layout_ = true;
  void plan_layouts();
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<float> param_storage_;
  std::vector<float> grad_storage_;
  std::vector<Tensor> deltas_;
  // Gradients to zero as they go live: before forward (loss layers), before layer i's backward.
  std::vector<int> zero_before_forward_;
  std::vector<std::vector<int>> zero_before_backward_;
  std::vector<bool> delta_reused_;  // true: delta(i) is gone after forward_backward
  bool training_ = false;
  std::vector<int> keep_;
  std::vector<size_t> output_offset_;   // floats into arena_
  std::vector<bool> output_kept_;
  // Training memory: the outputs rebuilt before backward step i (layer, arena offset; inputs
  // of a rebuild before it) and those that go back to their forward place after it, as
  // plan_backward_memory scheduled them.
  struct Rebuild {
    int layer;
    size_t offset;
  };
  std::vector<std::vector<Rebuild>> rebuild_before_;
  std::vector<std::vector<int>> release_after_;
  std::vector<float> arena_;
  std::vector<Tensor> outputs_;
  bool planned_ = false;
  bool prepared_ = false;
  bool profiling_ = false;
  std::vector<double> layer_times_ms_;
  std::vector<double> layer_backward_times_ms_;
  int device_ = 0;
  std::unique_ptr<CudaState, CudaStateDeleter> cuda_;
};

}  // namespace mishnet
