// Gradient memory of GPU training with reuse (core/network_cuda_training.cpp). A layer's
// gradient dL/d(output) is needed only from the first step that writes it to the layer's own
// backward step: in backward order that is a short window for most layers (a chain holds two or
// three gradients at a time), so gradients whose windows do not overlap share memory. Each
// gradient is zeroed just before its first writer instead of all at once. Plain host logic,
// tested on the CPU (tests/cuda/test_cuda_gradient_plan.cpp) with a model of the training
// loop's accesses.
#pragma once
#include <cstddef>
#include <vector>

namespace mishnet {

class Network;

// What the schedule needs of one layer.
struct GradientUse {
  std::vector<int> adds_into;       // gradients its backward ADDs into (i-1 and its inputs)
  bool written_in_forward = false;  // a loss layer: its forward writes its own gradient
};

// The steps of one forward_backward: step t < n is layer t's forward, step 2n-1-i is layer i's
// backward (backward runs from the last layer down).
inline int forward_step(int layer) { return layer; }
inline int backward_step(int layer, int layers) { return 2 * layers - 1 - layer; }

struct GradientSchedule {
  // Per layer: the step before which its gradient is zeroed (its first writer, or its own
  // backward when nothing writes it) and the last step that uses it (its own backward).
  std::vector<int> first, last;
  // Per step (2n of them): the gradients to zero before it runs.
  std::vector<std::vector<int>> zero_before;
};

GradientSchedule schedule_gradients(const std::vector<GradientUse>& layers);
// The network's layers as the schedule sees them: adds_into = {i-1 (i > 0)} and Layer::inputs,
// written_in_forward = the layer takes ground truth (truth_floats() > 0).
std::vector<GradientUse> gradient_uses(const Network& net);
inline GradientSchedule schedule_gradients(const Network& net) {
  return schedule_gradients(gradient_uses(net));
}

// Offsets (floats, from the start of the gradient region) of each layer's gradient of
// `floats[i]` floats, aligned to `align`. With reuse, first fit in schedule order: a gradient
// takes the lowest offset where it overlaps no gradient whose [first, last] window overlaps its
// own; without, one block each, in layer order.
struct GradientPlacement {
  std::vector<size_t> offset;
  size_t total = 0;  // floats
};
GradientPlacement place_gradients(const std::vector<size_t>& floats, const GradientSchedule& s,
                                  size_t align, bool reuse);
// One block per gradient, in layer order (place_gradients without reuse; needs no schedule).
GradientPlacement separate_gradients(const std::vector<size_t>& floats, size_t align);

}  // namespace mishnet
