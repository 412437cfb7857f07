// Gradient all-reduce across the GPUs of one process (one thread per GPU) with NCCL: after
// each backward pass every rank calls all_reduce_sum on its gradient buffer, then applies the
// same update (batch_partition.h explains why the result equals one GPU's). No CUDA types.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "backend/cuda/stream_handle.h"

namespace mishnet::cuda {

// True when this build has NCCL (MISHNET_HAVE_NCCL).
bool nccl_available();

class NcclAllReduce {
 public:
  // One communicator per listed device (ncclCommInitAll). Throws without NCCL.
  explicit NcclAllReduce(const std::vector<int>& devices);
  ~NcclAllReduce();
  NcclAllReduce(const NcclAllReduce&) = delete;
  NcclAllReduce& operator=(const NcclAllReduce&) = delete;

  int ranks() const;
  // data (n floats on rank's device) = sum over ranks; called by each rank's thread with that
  // rank's device current. In place.
  void all_reduce_sum(int rank, float* data, size_t n, StreamHandle stream = nullptr);
  // After an error on one rank: aborts every communicator, so that ranks waiting for an
  // all-reduce the failed rank never joined return (with an error) instead of hanging. Any
  // thread, any number of times; the object is unusable afterwards.
  void abort() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mishnet::cuda
