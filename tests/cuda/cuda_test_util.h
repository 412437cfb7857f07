// Helpers of the GPU tests: skip (reported as skipped, with the reason) where there is no CUDA
// build or no device; move vectors to and from the device; compare with a tolerance.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#include "backend/cuda/device_memory.h"

#define MISHNET_REQUIRE_CUDA_DEVICE()                                                      \
  do {                                                                                     \
    if (!::mishnet::cuda::device_available())                                              \
      GTEST_SKIP() << "no CUDA device (" << ::mishnet::cuda::no_device_reason()           \
                   << "): GPU test not run";                                               \
  } while (0)

namespace mishnet::test {

inline cuda::DeviceArray<float> to_device(const std::vector<float>& v) {
  return cuda::DeviceArray<float>(v);
}

}  // namespace mishnet::test
#endif

namespace mishnet::test {

// Uniform values in [lo, hi) from a fixed seed.
inline std::vector<float> uniform_values(size_t n, uint32_t seed, float lo = -1.0f,
                                         float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// |got - want| <= atol + rtol * |want| element-wise (NaN equal to NaN); reports the first few
// differences.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, float rtol,
                         float atol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    const float tol = atol + rtol * std::fabs(want[i]);
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << want[i];
      if (++reported == 5) return;
    }
  }
}

}  // namespace mishnet::test
