#include "core/device_plan.h"

#include <algorithm>

#include "mishnet/error.h"

namespace mishnet {

int DevicePlan::fallbacks() const {
  return int(std::count_if(steps.begin(), steps.end(),
                           [](const DeviceStep& s) { return !s.on_device; }));
}

DevicePlan plan_device_execution(const std::vector<bool>& on_device,
                                 const std::vector<std::vector<int>>& inputs,
                                 const std::vector<bool>& kept) {
  const size_t n = on_device.size();
  if (inputs.size() != n || kept.size() != n)
    fail("plan_device_execution: ", n, " layers but ", inputs.size(), " input lists and ",
         kept.size(), " kept flags");
  DevicePlan plan;
  plan.steps.resize(n);
  // A host copy stays valid while its tensor lives: blocks are reused only after the last read.
  std::vector<bool> on_host(n, false);
  for (size_t i = 0; i < n; ++i) {
    DeviceStep& step = plan.steps[i];
    step.on_device = on_device[i];
    for (int src : inputs[i]) {
      if (src >= int(i)) fail("plan_device_execution: layer ", i, " reads layer ", src);
      if (src < 0) {
        if (step.on_device) plan.upload_input = true;
        continue;
      }
      const size_t s = size_t(src);
      if (step.on_device) {
        // A device layer reading a fallback's output: that fallback uploads it.
        if (!on_device[s]) plan.steps[s].upload_after = true;
      } else if (!on_host[s]) {
        step.download_before.push_back(src);
        on_host[s] = true;
      }
    }
    if (!step.on_device) on_host[i] = true;
  }
  for (size_t i = 0; i < n; ++i)
    if (kept[i] && !on_host[i]) plan.download_at_end.push_back(int(i));
  return plan;
}

void execute_device_plan(const DevicePlan& plan, DeviceSteps& steps) {
  if (plan.upload_input) steps.upload_input();
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const DeviceStep& step = plan.steps[i];
    const int layer = int(i);
    steps.begin_layer(layer);
    if (step.on_device) {
      steps.run_on_device(layer);
    } else {
      for (int j : step.download_before) steps.download(j);
      steps.wait();
      steps.run_on_host(layer);
      if (step.upload_after) steps.upload(layer);
    }
    steps.end_layer(layer);
  }
  for (int j : plan.download_at_end) steps.download(j);
  steps.wait();
}

}  // namespace mishnet
