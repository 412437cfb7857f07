// One optimizer step as data: for each parameter block that is updated, where it lies and the
// step values of kernels/optimizer.h. Optimizer::step applies the plan on the host; the GPU
// training network applies the same plan with cuda::sgd_update/adam_update, so both backends
// read the numbers one function computed (learning-rate scale per layer, dont_update,
// train_only_bn, decay on "weights" only, Adam's bias corrections).
#pragma once
#include <cstddef>
#include <vector>

#include "kernels/optimizer.h"
#include "mishnet/optimizer.h"

namespace mishnet {

struct ParamUpdate {
  size_t offset = 0;  // floats into Network::param_data(), the gradients and optimizer buffers
  size_t count = 0;
  kernels::SgdStep sgd{};    // when the optimizer is SGD
  kernels::AdamStep adam{};  // when it is Adam
};

// The updates of one step over `batch_images` images at learning rate `lr`. Counts the step
// (opt.steps_done, Adam's bias corrections): call it once per step.
std::vector<ParamUpdate> plan_update(Optimizer& opt, const Network& net, float lr,
                                     int batch_images);

}  // namespace mishnet
