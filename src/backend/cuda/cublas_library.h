// cuBLAS, loaded on first use. Linking libcublas maps cuBLASLt into every process of a CUDA
// build, CPU runs included: 150 MiB resident before main() (a program linked with -lcublas
// starts at 155 MB RSS, 1.2 MB without; cuDNN and NCCL cost 2-4 MB). mishnet calls the cuBLAS
// functions it uses through here instead, and dlopen()s the library (MISHNET_CUBLAS_LIBRARY,
// libcublas.so.<CUDA major>) on the first call. Types and constants still come from
// cublas_v2.h.
#pragma once
#include <cublas_v2.h>
#include <library_types.h>

namespace mishnet::cuda::blas {

// Each loads the library first: throws mishnet::Error naming the library and dlerror() when it
// cannot be loaded or lacks the function.
cublasStatus_t create(cublasHandle_t* handle);
cublasStatus_t destroy(cublasHandle_t handle);
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t set_math_mode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t sgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                     int m, int n, int k, const float* alpha, const float* a, int lda,
                     const float* b, int ldb, const float* beta, float* c, int ldc);
cublasStatus_t get_property(libraryPropertyType type, int* value);
// cuBLAS's own texts when the library loads, else "cuBLAS status N".
const char* status_name(cublasStatus_t status);
const char* status_string(cublasStatus_t status);

// Whether the library is loaded in this process (tests: not before the first call).
bool loaded();

}  // namespace mishnet::cuda::blas
