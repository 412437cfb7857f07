// cudaStream_t without the CUDA headers: the runtime defines it as `struct CUstream_st*`, so
// code outside src/backend/cuda/ can hold and pass streams. nullptr is the default stream.
#pragma once

struct CUstream_st;

namespace mishnet::cuda {
using StreamHandle = CUstream_st*;
}  // namespace mishnet::cuda
