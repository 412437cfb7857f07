// The CUDA runtime layer: error macros (checked on the CPU with the libraries' own status
// codes), device query and library versions (host-only calls, so they run here too), the
// `mishnet info` command, and device memory (GPU only: skipped without a device).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cuda_test_util.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/nccl_all_reduce.h"
#endif

namespace mishnet {
namespace {

std::string run_info_command() {
  const std::string cmd = std::string(MISHNET_BINARY_DIR) + "/mishnet info 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  return out;
}

TEST(CudaRuntime, InfoCommandListsBackends) {
  const std::string out = run_info_command();
  EXPECT_NE(out.find("backends: reference, cpu (oneDNN)"), std::string::npos) << out;
#if defined(MISHNET_HAVE_CUDA)
  EXPECT_NE(out.find("cuda (cuDNN, cuBLAS)"), std::string::npos) << out;
  EXPECT_NE(out.find("CUDA runtime "), std::string::npos) << out;
  EXPECT_NE(out.find("cuDNN "), std::string::npos) << out;
  EXPECT_NE(out.find("cuBLAS "), std::string::npos) << out;
  EXPECT_NE(out.find("NCCL"), std::string::npos) << out;
  if (cuda::device_available()) {
    EXPECT_NE(out.find("GPU 0: "), std::string::npos) << out;
  } else {
    EXPECT_NE(out.find("CUDA build, no device: running on the CPU"), std::string::npos) << out;
  }
#else
  EXPECT_NE(out.find("CUDA: not built"), std::string::npos) << out;
#endif
}

#if defined(MISHNET_HAVE_CUDA)

TEST(CudaRuntime, CheckMacrosNameTheCallFileAndLine) {
  EXPECT_NO_THROW(MISHNET_CUDA_CHECK(cudaSuccess));
  const int line = __LINE__ + 2;
  try {
    MISHNET_CUDA_CHECK(cudaErrorMemoryAllocation);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test_cuda_runtime.cpp:" + std::to_string(line) + ": "), std::string::npos) << m;
    EXPECT_NE(m.find("cudaErrorMemoryAllocation failed"), std::string::npos) << m;
    EXPECT_NE(m.find("out of memory"), std::string::npos) << m;
  }
  EXPECT_ERROR_CONTAINS(MISHNET_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM failed: CUDNN_STATUS_BAD_PARAM");
  EXPECT_NO_THROW(MISHNET_CUDNN_CHECK(CUDNN_STATUS_SUCCESS));
  EXPECT_ERROR_CONTAINS(MISHNET_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE");
  EXPECT_NO_THROW(MISHNET_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
#if defined(MISHNET_HAVE_NCCL)
  EXPECT_ERROR_CONTAINS(MISHNET_NCCL_CHECK(ncclInvalidArgument), "ncclInvalidArgument failed: ");
  EXPECT_NO_THROW(MISHNET_NCCL_CHECK(ncclSuccess));
#endif
}

TEST(CudaRuntime, DeviceQueryNeverThrowsAndExplainsAnAbsence) {
  cuda::DeviceQuery q;
  EXPECT_NO_THROW(q = cuda::query_devices());
  if (q.devices.empty()) {
    EXPECT_FALSE(q.no_device_reason.empty());
    EXPECT_FALSE(cuda::device_available());
    EXPECT_ERROR_CONTAINS(cuda::use_device(0), "GPU 0 does not exist (0 CUDA devices: ");
  } else {
    EXPECT_TRUE(q.no_device_reason.empty());
    for (const cuda::DeviceInfo& d : q.devices) {
      EXPECT_FALSE(d.name.empty());
      EXPECT_GE(d.compute_major, 7);  // CUDA 13 runs on sm_75 and newer
      EXPECT_GT(d.total_memory, size_t(0));
    }
    EXPECT_ERROR_CONTAINS(cuda::use_device(int(q.devices.size())), "does not exist");
  }
}

TEST(CudaRuntime, LibraryVersionsAreReadWithoutADevice) {
  const cuda::LibraryVersions v = cuda::library_versions();
  EXPECT_GE(v.cuda_runtime.major, 12);
  EXPECT_GE(v.cudnn.major, 9);
  // The cuDNN loaded at run time is the major version mishnet was compiled against.
  EXPECT_EQ(v.cudnn.major, v.cudnn_compiled.major);
  EXPECT_GE(v.cublas.major, 12);
#if defined(MISHNET_HAVE_NCCL)
  EXPECT_TRUE(v.have_nccl);
  EXPECT_EQ(v.nccl.major, 2);
  EXPECT_TRUE(cuda::nccl_available());
#endif
}

TEST(CudaRuntime, DeviceMemoryRoundTrips) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const std::vector<float> v = test::uniform_values(1000, 7);
  cuda::DeviceArray<float> d(v);
  EXPECT_EQ(d.to_host(), v);
  d.zero();
  EXPECT_EQ(d.to_host(), std::vector<float>(1000, 0.0f));

  // Pinned upload on a stream, device-to-device copy, arena blocks.
  cuda::PinnedBuffer pinned(v.size() * sizeof(float));
  std::copy(v.begin(), v.end(), static_cast<float*>(pinned.data()));
  cuda::ArenaLayout layout;
  const size_t a = layout.add(v.size() * sizeof(float)), b = layout.add(v.size() * sizeof(float));
  cuda::DeviceArena arena(layout);
  cuda::Stream stream;
  float* pa = arena.at<float>(a, v.size());
  float* pb = arena.at<float>(b, v.size());
  cuda::copy_to_device(pa, pinned.data(), v.size() * sizeof(float), stream.handle());
  cuda::copy_on_device(pb, pa, v.size() * sizeof(float), stream.handle());
  std::vector<float> back(v.size());
  cuda::copy_to_host(back.data(), pb, v.size() * sizeof(float), stream.handle());
  stream.synchronize();
  EXPECT_EQ(back, v);
  EXPECT_ERROR_CONTAINS(arena.at<float>(b, v.size() + 64), "exceed");

  cuda::DeviceBuffer grow(16);
  grow.reserve(1 << 20);
  EXPECT_GE(grow.bytes(), size_t(1) << 20);
}

TEST(CudaRuntime, HugeAllocationFailsWithTheSize) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  EXPECT_ERROR_CONTAINS(cuda::DeviceBuffer(size_t(1) << 50), "cudaMalloc");
}

#if defined(MISHNET_HAVE_NCCL)
TEST(CudaRuntime, NcclAllReduceSumsAcrossOneRank) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  cuda::NcclAllReduce nccl({0});
  EXPECT_EQ(nccl.ranks(), 1);
  const std::vector<float> v = test::uniform_values(100, 3);
  cuda::DeviceArray<float> d(v);
  nccl.all_reduce_sum(0, d.data(), v.size());
  cuda::synchronize_device();
  EXPECT_EQ(d.to_host(), v);  // one rank: the sum is the value itself
  EXPECT_ERROR_CONTAINS(nccl.all_reduce_sum(1, d.data(), v.size()), "rank 1 of 1");
}
#endif

#else

TEST(CudaRuntime, BuiltWithoutCuda) { GTEST_SKIP() << "built without CUDA (MISHNET_CUDA=OFF or no nvcc)"; }

#endif

}  // namespace
}  // namespace mishnet
