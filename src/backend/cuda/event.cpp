#include "backend/cuda/event.h"

#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"

namespace mishnet::cuda {

Event::Event() { MISHNET_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }

Event::~Event() {
  if (event_) (void)cudaEventDestroy(event_);
}

void Event::record(StreamHandle stream) { MISHNET_CUDA_CHECK(cudaEventRecord(event_, stream)); }

void Event::make_wait(StreamHandle stream) const {
  MISHNET_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0));
}

void Event::synchronize() const { MISHNET_CUDA_CHECK(cudaEventSynchronize(event_)); }

}  // namespace mishnet::cuda
