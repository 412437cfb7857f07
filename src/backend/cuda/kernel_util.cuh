// Shared pieces of the .cu files: grid-stride loops and checked launches.
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch_geometry.h"

namespace mishnet::cuda {

// for (i in 0..n) spread over every thread of the grid.
#define MISHNET_GRID_STRIDE_LOOP(i, n)                                                   \
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < size_t(n);        \
       i += size_t(blockDim.x) * gridDim.x)

// Launches `kernel` over n elements with launch_1d geometry and checks the launch.
template <typename Kernel, typename... Args>
void launch_elements(const char* name, size_t n, StreamHandle stream, Kernel kernel,
                     Args... args) {
  if (n == 0) return;
  const Launch1d g = launch_1d(n);
  kernel<<<g.blocks, g.threads, 0, stream>>>(args...);
  check(cudaGetLastError(), name, __FILE__, __LINE__);
}

// Sum of one value per thread over a block of kThreadsPerBlock threads, in double; the result
// is valid in thread 0. Every thread of the block must call it.
__device__ inline double block_sum(double v) {
  __shared__ double partial[kThreadsPerBlock];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const double total = partial[0];
  __syncthreads();  // the array may be reused by the next call
  return total;
}

}  // namespace mishnet::cuda
