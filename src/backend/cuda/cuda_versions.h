// Decoding the version numbers CUDA, cuDNN and NCCL report as single integers. Plain host code,
// tested on the CPU; `mishnet info` prints these.
#pragma once
#include <string>

namespace mishnet::cuda {

struct Version {
  int major = 0, minor = 0, patch = 0;
  std::string str() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  }
  bool known() const { return major > 0; }
};

// cudaRuntimeGetVersion / cudaDriverGetVersion: 1000 * major + 10 * minor (13000 = 13.0).
inline Version decode_cuda_version(int v) {
  return {v / 1000, (v % 1000) / 10, 0};
}

// cudnnGetVersion: 10000 * major + 100 * minor + patch from cuDNN 9 on (90300 = 9.3.0);
// 1000 * major + 100 * minor + patch before (8902 = 8.9.2).
inline Version decode_cudnn_version(int v) {
  if (v >= 90000) return {v / 10000, (v % 10000) / 100, v % 100};
  return {v / 1000, (v % 1000) / 100, v % 100};
}

// ncclGetVersion: 10000 * major + 100 * minor + patch from 2.9 on (22805 = 2.28.5);
// 1000 * major + 100 * minor + patch before (2804 = 2.8.4).
inline Version decode_nccl_version(int v) {
  if (v >= 10000) return {v / 10000, (v % 10000) / 100, v % 100};
  return {v / 1000, (v % 1000) / 100, v % 100};
}

}  // namespace mishnet::cuda
