// cuBLAS is loaded on first use (backend/cuda/cublas_library.h), not linked: a CUDA build that
// runs on the CPU never maps it (150 MiB resident otherwise). Needs no device: loading the
// library and asking its version work without a driver.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#if defined(MISHNET_HAVE_CUDA)
#include <cublas_v2.h>

#include "backend/cuda/cublas_library.h"
#endif

namespace mishnet {
namespace {

bool mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(name) != std::string::npos) return true;
  return false;
}

TEST(CublasLibrary, MappedOnlyOnceUsed) {
#if !defined(MISHNET_HAVE_CUDA)
  GTEST_SKIP() << "built without CUDA";
#else
  // Another test of this process may have used it already; then it must be mapped.
  EXPECT_EQ(mapped("libcublas"), cuda::blas::loaded());
  int major = 0;
  ASSERT_EQ(cuda::blas::get_property(MAJOR_VERSION, &major), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(major, CUBLAS_VER_MAJOR);  // the library of the headers we were built with
  EXPECT_TRUE(cuda::blas::loaded());
  EXPECT_TRUE(mapped("libcublasLt"));
  EXPECT_STREQ(cuda::blas::status_name(CUBLAS_STATUS_NOT_INITIALIZED),
               "CUBLAS_STATUS_NOT_INITIALIZED");
#endif
}

}  // namespace
}  // namespace mishnet
