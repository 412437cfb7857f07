// What the GPU training network (core/network_cuda_training.h) decides from the shapes alone,
// before it touches a device: where each layer trains and where its tensors live. Plain host
// logic, tested on the CPU (tests/cuda/test_cuda_training_plan.cpp).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/device_gradient_plan.h"

namespace mishnet {

class Network;

enum class TrainPlace {
  device,       // forward_cuda_train / backward_cuda
  host,         // forward / backward on the CPU with transfers (no trainable parameters: loss
                // layers compute their loss and gradient with the CPU code)
  unsupported,  // trainable parameters without a device backward: the network is refused
};

struct DeviceTrainingPlan {
  std::vector<TrainPlace> place;
  // One line per unsupported layer ("layer 7 [shortcut]: ..."); empty when the network trains.
  std::vector<std::string> problems;
  // Layers whose output / gradient the host needs a copy of (host layers, their inputs).
  std::vector<bool> host_output, host_delta;
};

// From Layer::has_cuda_backward, the trainable parameters and the inputs of each layer.
DeviceTrainingPlan plan_device_training(const Network& net);

// The device memory of a training network: every layer's output and gradient in one
// allocation, blocks aligned to `align` floats, outputs first, then the gradients. Outputs are
// never shared (backward reads them); this overload gives every gradient its own block too (the
// sum of all, as Darknet's GPU training), the next one places them with reuse.
struct DeviceTrainingMemory {
  std::vector<size_t> output_offset, delta_offset;  // floats
  size_t delta_begin = 0, delta_end = 0;            // the gradient region
  size_t total = 0;                                 // floats
};
DeviceTrainingMemory plan_device_training_memory(const std::vector<size_t>& output_floats,
                                                 size_t align = 64);
// The same outputs, and the gradients where `gradients` (core/device_gradient_plan.h, with or
// without reuse) puts them inside the gradient region [delta_begin, delta_end).
DeviceTrainingMemory plan_device_training_memory(const std::vector<size_t>& output_floats,
                                                 const GradientPlacement& gradients,
                                                 size_t align = 64);

// What one GPU holds for training `net` (its batch), in bytes, before the layers' own state
// (x_hat, kept pre-activations, argmax, masks) and the cuDNN workspace: every output and
// gradient (plan_device_training_memory), and the parameters with their gradients and optimizer
// buffers (velocity, and Adam's second moment).
struct DeviceTrainingFootprint {
  size_t activations = 0;
  size_t parameters = 0;
};
DeviceTrainingFootprint device_training_footprint(const Network& net, bool reuse_gradients = true);

}  // namespace mishnet
