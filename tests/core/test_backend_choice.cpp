// Where inference commands run (core/backend_choice.h): -gpu N / -cpu / --reference against a
// description of the machine, every case checked without a device.
#include <gtest/gtest.h>

#include "core/backend_choice.h"
#include "test_util.h"

namespace mishnet {
namespace {

DeviceSituation no_cuda() { return {}; }
DeviceSituation cuda_without_device() { return {true, {}, "no CUDA driver"}; }
DeviceSituation two_gpus() { return {true, {"GPU-A", "GPU-B"}, ""}; }

DeviceRequest gpu(int n) {
  DeviceRequest r;
  r.gpu = n;
  return r;
}
DeviceRequest cpu() {
  DeviceRequest r;
  r.cpu = true;
  return r;
}

TEST(BackendChoice, DefaultIsGpuZeroWhenThereIsOne) {
  const BackendChoice c = choose_backend({}, two_gpus());
  EXPECT_EQ(c.backend, BackendKind::cuda);
  EXPECT_EQ(c.device, 0);
  EXPECT_EQ(c.message, "running on GPU 0 (GPU-A)");
}

TEST(BackendChoice, GpuNPicksThatDevice) {
  const BackendChoice c = choose_backend(gpu(1), two_gpus());
  EXPECT_EQ(c.backend, BackendKind::cuda);
  EXPECT_EQ(c.device, 1);
  EXPECT_EQ(c.message, "running on GPU 1 (GPU-B)");
}

TEST(BackendChoice, AMissingGpuNamesTheOnesThatExist) {
  EXPECT_ERROR_CONTAINS(choose_backend(gpu(2), two_gpus()),
                        "-gpu 2: no such CUDA device; this machine has GPU 0 (GPU-A), GPU 1 (GPU-B)");
  EXPECT_ERROR_CONTAINS(choose_backend(gpu(-1), two_gpus()), "0 or more");
}

TEST(BackendChoice, CpuWinsOverADevice) {
  const BackendChoice c = choose_backend(cpu(), two_gpus());
  EXPECT_EQ(c.backend, BackendKind::cpu);
  EXPECT_TRUE(c.message.empty());
}

TEST(BackendChoice, CudaBuildWithoutDeviceRunsOnTheCpuAndSaysWhy) {
  const BackendChoice c = choose_backend({}, cuda_without_device());
  EXPECT_EQ(c.backend, BackendKind::cpu);
  EXPECT_EQ(c.message, "CUDA build, no device (no CUDA driver): running on the CPU");
  EXPECT_ERROR_CONTAINS(choose_backend(gpu(0), cuda_without_device()),
                        "sees no device (no CUDA driver)");
}

TEST(BackendChoice, WithoutCudaGpuIsAnError) {
  const BackendChoice c = choose_backend({}, no_cuda());
  EXPECT_EQ(c.backend, BackendKind::cpu);
  EXPECT_TRUE(c.message.empty());
  EXPECT_ERROR_CONTAINS(choose_backend(gpu(0), no_cuda()), "built without CUDA");
}

TEST(BackendChoice, ContradictionsAreErrors) {
  DeviceRequest both = gpu(0);
  both.cpu = true;
  EXPECT_ERROR_CONTAINS(choose_backend(both, two_gpus()), "contradict");
  DeviceRequest reference_gpu = gpu(0);
  reference_gpu.reference = true;
  EXPECT_ERROR_CONTAINS(choose_backend(reference_gpu, two_gpus()), "--reference");
}

TEST(BackendChoice, ReferenceRunsOnTheCpu) {
  DeviceRequest r;
  r.reference = true;
  EXPECT_EQ(choose_backend(r, two_gpus()).backend, BackendKind::reference);
}

TEST(BackendChoice, TheRealMachineIsDescribed) {
  const DeviceSituation s = current_device_situation();
#if defined(MISHNET_HAVE_CUDA)
  EXPECT_TRUE(s.cuda_built);
  EXPECT_EQ(s.devices.empty(), !s.no_device_reason.empty());
#else
  EXPECT_FALSE(s.cuda_built);
#endif
}

}  // namespace
}  // namespace mishnet
