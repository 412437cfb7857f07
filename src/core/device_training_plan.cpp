#include "core/device_training_plan.h"

#include "mishnet/error.h"
#include "mishnet/network.h"

namespace mishnet {

DeviceTrainingPlan plan_device_training(const Network& net) {
  const int n = net.num_layers();
  DeviceTrainingPlan p;
  p.place.assign(size_t(n), TrainPlace::device);
  p.host_output.assign(size_t(n), false);
  p.host_delta.assign(size_t(n), false);
  for (int i = 0; i < n; ++i) {
    const Layer& l = net.layer(i);
    if (l.has_cuda_backward()) continue;
    bool trainable = false;
    for (const Param& prm : l.params) trainable = trainable || prm.trainable;
    if (trainable) {
      p.place[size_t(i)] = TrainPlace::unsupported;
      p.problems.push_back("layer " + std::to_string(i) + " [" + l.type() +
                           "] has trainable parameters but no CUDA backward with these options");
      continue;
    }
    p.place[size_t(i)] = TrainPlace::host;
    p.host_output[size_t(i)] = true;
    p.host_delta[size_t(i)] = true;
    // ctx.input and input_delta are layer i-1's; the layer may read any of its inputs.
    if (i > 0) {
      p.host_output[size_t(i - 1)] = true;
      p.host_delta[size_t(i - 1)] = true;
    }
    for (int src : l.inputs)
      if (src >= 0) {
        p.host_output[size_t(src)] = true;
        p.host_delta[size_t(src)] = true;
      }
  }
  return p;
}

DeviceTrainingFootprint device_training_footprint(const Network& net, bool reuse_gradients) {
  std::vector<size_t> floats;
  for (int i = 0; i < net.num_layers(); ++i)
    floats.push_back(net.layer(i).output_shape.per_image() * size_t(net.batch()));
  DeviceTrainingFootprint f;
  const size_t align = 64;
  const GradientPlacement g =
      place_gradients(floats, schedule_gradients(net), align, reuse_gradients);
  f.activations = plan_device_training_memory(floats, g, align).total * sizeof(float);
  f.parameters = net.num_params() * sizeof(float) * (net.config().adam ? 4 : 3);
  return f;
}

DeviceTrainingMemory plan_device_training_memory(const std::vector<size_t>& output_floats,
                                                 size_t align) {
  return plan_device_training_memory(output_floats, separate_gradients(output_floats, align), align);
}


DeviceTrainingMemory plan_device_training_memory(const std::vector<size_t>& output_floats,
                                                 const GradientPlacement& gradients,
                                                 size_t align) {
  if (gradients.offset.size() != output_floats.size())
    fail("device training memory: ", gradients.offset.size(), " gradients for ",
         output_floats.size(), " outputs");
  if (align == 0) align = 1;
  DeviceTrainingMemory m;
  size_t at = 0;
  for (size_t f : output_floats) {
    m.output_offset.push_back(at);
    at += (f + align - 1) / align * align;
  }
  m.delta_begin = at;
  for (size_t off : gradients.offset) {
    if (off % align != 0) fail("device training memory: gradient offset ", off, " not aligned to ", align);
    m.delta_offset.push_back(at + off);
  }
  m.delta_end = at + gradients.total;
  m.total = m.delta_end;
  return m;
}

}  // namespace mishnet
