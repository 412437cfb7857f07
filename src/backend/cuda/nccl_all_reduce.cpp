#include "backend/cuda/nccl_all_reduce.h"

#include <mutex>

#include "backend/cuda/cuda_check.h"
#include "mishnet/error.h"

namespace mishnet::cuda {

#if defined(MISHNET_HAVE_NCCL)

bool nccl_available() { return true; }

struct NcclAllReduce::Impl {
  std::vector<ncclComm_t> comms;
  std::mutex abort_mutex;
  bool aborted = false;
  ~Impl() {
    if (aborted) return;  // ncclCommAbort freed them
    for (ncclComm_t c : comms)
      if (c) (void)ncclCommDestroy(c);
  }
};

NcclAllReduce::NcclAllReduce(const std::vector<int>& devices) : impl_(std::make_unique<Impl>()) {
  if (devices.empty()) fail("NCCL: no devices");
  impl_->comms.resize(devices.size(), nullptr);
  MISHNET_NCCL_CHECK(ncclCommInitAll(impl_->comms.data(), int(devices.size()), devices.data()));
}

NcclAllReduce::~NcclAllReduce() = default;

int NcclAllReduce::ranks() const { return int(impl_->comms.size()); }

void NcclAllReduce::all_reduce_sum(int rank, float* data, size_t n, StreamHandle stream) {
  if (rank < 0 || rank >= ranks()) fail("NCCL: rank ", rank, " of ", ranks());
  {
    std::lock_guard<std::mutex> lock(impl_->abort_mutex);
    if (impl_->aborted) fail("NCCL: the all-reduce was aborted after an error on another GPU");
  }
  MISHNET_NCCL_CHECK(ncclAllReduce(data, data, n, ncclFloat, ncclSum, impl_->comms[size_t(rank)],
                                   stream));
}

void NcclAllReduce::abort() noexcept {
  std::lock_guard<std::mutex> lock(impl_->abort_mutex);
  if (impl_->aborted) return;
  impl_->aborted = true;
  for (ncclComm_t c : impl_->comms)
    if (c) (void)ncclCommAbort(c);
}

#else

bool nccl_available() { return false; }

struct NcclAllReduce::Impl {};

NcclAllReduce::NcclAllReduce(const std::vector<int>&) {
  fail("multi-GPU training needs NCCL; this build has none (install NCCL and reconfigure)");
}
NcclAllReduce::~NcclAllReduce() = default;
int NcclAllReduce::ranks() const { return 0; }
void NcclAllReduce::all_reduce_sum(int, float*, size_t, StreamHandle) {
  fail("multi-GPU training needs NCCL");
}
void NcclAllReduce::abort() noexcept {}

#endif

}  // namespace mishnet::cuda
