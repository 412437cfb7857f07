#include "backend/cuda/device.h"

#include "backend/cuda/cublas_library.h"

#include <library_types.h>

#include "backend/cuda/cuda_check.h"
#include "mishnet/error.h"

namespace mishnet::cuda {

DeviceQuery query_devices() {
  DeviceQuery q;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    q.no_device_reason = std::string(cudaGetErrorString(status)) + " (" +
                         cudaGetErrorName(status) + ")";
    return q;
  }
  if (count == 0) {
    q.no_device_reason = "no CUDA-capable device";
    return q;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    MISHNET_CUDA_CHECK(cudaGetDeviceProperties(&p, i));
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.compute_major = p.major;
    d.compute_minor = p.minor;
    d.total_memory = p.totalGlobalMem;
    d.multiprocessors = p.multiProcessorCount;
    q.devices.push_back(d);
  }
  return q;
}

namespace {
const DeviceQuery& cached_query() {
  static const DeviceQuery q = query_devices();
  return q;
}
}  // namespace

bool device_available() { return !cached_query().devices.empty(); }
const std::string& no_device_reason() { return cached_query().no_device_reason; }

void use_device(int index) {
  const int count = int(cached_query().devices.size());
  if (index < 0 || index >= count)
    fail("GPU ", index, " does not exist (", count, " CUDA device", count == 1 ? "" : "s",
         count == 0 ? ": " + no_device_reason() : std::string(), ")");
  MISHNET_CUDA_CHECK(cudaSetDevice(index));
}

void synchronize_device() { MISHNET_CUDA_CHECK(cudaDeviceSynchronize()); }

LibraryVersions library_versions() {
  LibraryVersions v;
  int runtime = 0, driver = 0;
  MISHNET_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  // Without a driver this reports 0 (and succeeds).
  if (cudaDriverGetVersion(&driver) != cudaSuccess) {
    (void)cudaGetLastError();
    driver = 0;
  }
  v.cuda_runtime = decode_cuda_version(runtime);
  v.cuda_driver = decode_cuda_version(driver);
  v.cudnn = decode_cudnn_version(int(cudnnGetVersion()));
  v.cudnn_compiled = decode_cudnn_version(CUDNN_VERSION);
  int major = 0, minor = 0, patch = 0;
  MISHNET_CUBLAS_CHECK(blas::get_property(MAJOR_VERSION, &major));
  MISHNET_CUBLAS_CHECK(blas::get_property(MINOR_VERSION, &minor));
  MISHNET_CUBLAS_CHECK(blas::get_property(PATCH_LEVEL, &patch));
  v.cublas = {major, minor, patch};
#if defined(MISHNET_HAVE_NCCL)
  int nccl = 0;
  MISHNET_NCCL_CHECK(ncclGetVersion(&nccl));
  v.nccl = decode_nccl_version(nccl);
  v.nccl_compiled = decode_nccl_version(NCCL_VERSION_CODE);
  v.have_nccl = true;
#endif
  return v;
}

}  // namespace mishnet::cuda
