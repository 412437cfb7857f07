// CUDA devices and library versions, without CUDA types (callers need no CUDA headers).
// Nothing here throws because a machine has no GPU or no driver: that is "no device", with
// the reason, and mishnet runs on the CPU.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "backend/cuda/cuda_versions.h"

namespace mishnet::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  size_t total_memory = 0;  // bytes
  int multiprocessors = 0;
};

struct DeviceQuery {
  std::vector<DeviceInfo> devices;
  // Why `devices` is empty ("no CUDA driver", "no CUDA-capable device", ...); empty otherwise.
  std::string no_device_reason;
};

// Asks the runtime once per call.
DeviceQuery query_devices();

// The first query's answer, cached: whether a device exists and, if not, why.
bool device_available();
const std::string& no_device_reason();

// Makes `index` the calling thread's device; throws when it does not exist.
void use_device(int index);
// Waits until the current device has finished all work (checked: reports faults of kernels).
void synchronize_device();

struct LibraryVersions {
  Version cuda_runtime;      // the runtime linked into mishnet
  Version cuda_driver;       // 0.0.0 when there is no driver
  Version cudnn, cudnn_compiled;
  Version cublas;
  Version nccl, nccl_compiled;  // 0.0.0 when built without NCCL
  bool have_nccl = false;
};
LibraryVersions library_versions();

}  // namespace mishnet::cuda
