// mishnet info: the backends this build has, the CUDA devices it sees, and the versions of
// CUDA, cuDNN, cuBLAS and NCCL. A CUDA build on a machine without a GPU says so and runs on
// the CPU.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#endif

namespace mishnet::cli {
namespace {

#if defined(MISHNET_HAVE_CUDA)
void print_cuda() {
  const cuda::LibraryVersions v = cuda::library_versions();
  std::printf("CUDA runtime %d.%d (static), driver %s\n", v.cuda_runtime.major,
              v.cuda_runtime.minor,
              v.cuda_driver.known()
                  ? (std::to_string(v.cuda_driver.major) + "." + std::to_string(v.cuda_driver.minor)).c_str()
                  : "none");
  std::printf("cuDNN %s (built with %s)\n", v.cudnn.str().c_str(), v.cudnn_compiled.str().c_str());
  std::printf("cuBLAS %s\n", v.cublas.str().c_str());
  if (v.have_nccl)
    std::printf("NCCL %s (built with %s)\n", v.nccl.str().c_str(), v.nccl_compiled.str().c_str());
  else
    std::printf("NCCL: not built (no multi-GPU training)\n");
  const cuda::DeviceQuery q = cuda::query_devices();
  if (q.devices.empty()) {
    std::printf("CUDA devices: none (%s)\n", q.no_device_reason.c_str());
    std::printf("CUDA build, no device: running on the CPU\n");
    return;
  }
  std::printf("CUDA devices: %zu\n", q.devices.size());
  for (const cuda::DeviceInfo& d : q.devices)
    std::printf("  GPU %d: %s, compute capability %d.%d, %.1f GiB, %d multiprocessors\n", d.index,
                d.name.c_str(), d.compute_major, d.compute_minor,
                double(d.total_memory) / (1024.0 * 1024.0 * 1024.0), d.multiprocessors);
}
#endif

void run_info() {
  std::printf("mishnet %s\n", MISHNET_VERSION);
#if defined(MISHNET_HAVE_CUDA)
  std::printf("backends: reference, cpu (oneDNN), cuda (cuDNN, cuBLAS)\n");
  print_cuda();
#else
  std::printf("backends: reference, cpu (oneDNN)\n");
  std::printf("CUDA: not built (configure with -DMISHNET_CUDA=ON and a CUDA toolkit)\n");
#endif
}

CommandRegistrar reg({"info"}, "List backends, CUDA devices and CUDA/cuDNN/cuBLAS/NCCL versions",
                     [](CLI::App& app) { app.callback([] { run_info(); }); });

}  // namespace
}  // namespace mishnet::cli
