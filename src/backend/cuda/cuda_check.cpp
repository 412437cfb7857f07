#include "backend/cuda/cuda_check.h"

#include "backend/cuda/cublas_library.h"

#include "mishnet/error.h"

namespace mishnet::cuda {

void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  // Clear a sticky launch error so the next check reports its own call.
  (void)cudaGetLastError();
  fail_at(file, line, call, " failed: ", cudaGetErrorString(status), " (", cudaGetErrorName(status),
          " = ", int(status), ")");
}

void check(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  fail_at(file, line, call, " failed: ", cudnnGetErrorString(status), " (cuDNN status ",
          int(status), ")");
}

void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail_at(file, line, call, " failed: ", blas::status_string(status), " (",
          blas::status_name(status), " = ", int(status), ")");
}

#if defined(MISHNET_HAVE_NCCL)
void check(ncclResult_t status, const char* call, const char* file, int line) {
  if (status == ncclSuccess) return;
  fail_at(file, line, call, " failed: ", ncclGetErrorString(status), " (NCCL result ",
          int(status), ")");
}
#endif

}  // namespace mishnet::cuda
