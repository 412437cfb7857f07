// Which backend an inference command runs on, from -gpu N / -cpu / --reference and what the
// machine has (docs/commands.md). Plain logic over a description of the machine, so CPU tests
// check every case; current_device_situation() describes the real one.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "mishnet/layer.h"

namespace mishnet {

struct DeviceRequest {
  std::optional<int> gpu;  // -gpu N (Darknet's -i N)
  bool cpu = false;        // -cpu (Darknet's -nogpu)
  bool reference = false;  // --reference: the plain reference ops on the CPU
};

struct DeviceSituation {
  bool cuda_built = false;
  std::vector<std::string> devices;  // names, by index
  std::string no_device_reason;      // why `devices` is empty (CUDA builds)
};

struct BackendChoice {
  BackendKind backend = BackendKind::cpu;
  int device = 0;
  std::string message;  // the line to print (empty: nothing to say)
};

// Default: GPU 0 in a CUDA build with a device (Darknet's habit), else the CPU. Throws for a
// contradiction, a GPU that does not exist (naming those that do) or -gpu without CUDA.
BackendChoice choose_backend(const DeviceRequest& request, const DeviceSituation& machine);

// This build and this machine (asks the CUDA runtime once; never throws for a missing GPU).
DeviceSituation current_device_situation();

}  // namespace mishnet
