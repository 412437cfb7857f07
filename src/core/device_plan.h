// How a network on the CUDA backend runs its inference forward: which layers run on the device,
// and what crosses between host and device around the layers that fall back to the CPU. Pure
// host logic (no CUDA), so CPU tests check it; Network::forward follows it on a device.
//
// Host and device hold the same arena plan (Network::plan_arena): a layer's output has the same
// offset in both, so copying it either way never touches another live tensor.
#pragma once
#include <vector>

namespace mishnet {

struct DeviceStep {
  bool on_device = true;
  // Fallback only: outputs of earlier layers to copy to the host before forward() runs (those
  // not already there: computed by another fallback or downloaded for one). The network input
  // (-1) is never listed: the caller's host buffer is used.
  std::vector<int> download_before;
  // Fallback only: a later device layer reads this output, so it is uploaded.
  bool upload_after = false;
};

struct DevicePlan {
  std::vector<DeviceStep> steps;   // one per layer
  bool upload_input = false;       // some device layer reads the network input
  std::vector<int> download_at_end;  // kept outputs computed on the device (kept fallback
                                     // outputs are on the host already)
  int fallbacks() const;
};

// The operations a plan is carried out with. Network implements them with CUDA copies and
// launches on its stream (network_cuda.cpp); the CPU tests with a model that checks each tensor
// is where it is read.
class DeviceSteps {
 public:
  virtual ~DeviceSteps() = default;
  virtual void upload_input() = 0;
  virtual void run_on_device(int layer) = 0;   // queue layer's forward_cuda
  virtual void download(int layer) = 0;        // layer's output, device -> host (queued)
  virtual void wait() = 0;                     // the host waits for everything queued
  virtual void run_on_host(int layer) = 0;     // layer's CPU forward (a fallback)
  virtual void upload(int layer) = 0;          // layer's output, host -> device (queued)
  virtual void begin_layer(int /*layer*/) {}   // profiling hooks
  virtual void end_layer(int /*layer*/) {}
};

// Runs `plan`: the input upload, each layer on the device or (after its downloads and a wait)
// on the host with its upload, the downloads of kept outputs, and a final wait.
void execute_device_plan(const DevicePlan& plan, DeviceSteps& steps);

// on_device[i]: layer i has a CUDA forward; inputs[i]: the layers it reads (-1 = the network
// input); kept[i]: its output is read after the forward (Network::output, detection layers,
// the last layer).
DevicePlan plan_device_execution(const std::vector<bool>& on_device,
                                 const std::vector<std::vector<int>>& inputs,
                                 const std::vector<bool>& kept);

}  // namespace mishnet
