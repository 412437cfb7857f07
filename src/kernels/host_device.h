// MISHNET_HD marks functions compiled for both the CPU and CUDA: element-wise math is written
// once, so the CPU tests check exactly what the GPU kernels compute.
#pragma once
#if defined(__CUDACC__)
#define MISHNET_HD __host__ __device__ __forceinline__
#else
#define MISHNET_HD inline
#endif
