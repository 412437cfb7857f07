// Every CUDA, cuDNN, cuBLAS and NCCL call goes through one of these macros: a failure throws
// mishnet::Error naming the call, the file and line, and the library's own message, e.g.
//   src/backend/cuda/device_memory.cpp:31: cudaMalloc(&ptr, bytes) failed: out of memory
//   (cudaErrorMemoryAllocation = 2)
// Internal to src/backend/cuda/ (and its tests): it includes the libraries' headers.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#if defined(MISHNET_HAVE_NCCL)
#include <nccl.h>
#endif

namespace mishnet::cuda {

// Each throws when `status` is not the library's success code; `call` is the call's source text.
void check(cudaError_t status, const char* call, const char* file, int line);
void check(cudnnStatus_t status, const char* call, const char* file, int line);
void check(cublasStatus_t status, const char* call, const char* file, int line);
#if defined(MISHNET_HAVE_NCCL)
void check(ncclResult_t status, const char* call, const char* file, int line);
#endif

}  // namespace mishnet::cuda

#define MISHNET_CUDA_CHECK(call) ::mishnet::cuda::check(static_cast<cudaError_t>(call), #call, __FILE__, __LINE__)
#define MISHNET_CUDNN_CHECK(call) ::mishnet::cuda::check(static_cast<cudnnStatus_t>(call), #call, __FILE__, __LINE__)
#define MISHNET_CUBLAS_CHECK(call) ::mishnet::cuda::check(static_cast<cublasStatus_t>(call), #call, __FILE__, __LINE__)
#if defined(MISHNET_HAVE_NCCL)
#define MISHNET_NCCL_CHECK(call) ::mishnet::cuda::check(static_cast<ncclResult_t>(call), #call, __FILE__, __LINE__)
#endif
// After a kernel launch (<<<...>>> returns nothing): a bad configuration shows up here; faults
// inside the kernel show up at the next synchronising call, which is checked too.
#define MISHNET_CUDA_CHECK_LAUNCH(kernel_name) \
  ::mishnet::cuda::check(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
