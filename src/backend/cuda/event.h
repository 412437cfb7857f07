// A CUDA event without the CUDA headers (cudaEvent_t is `struct CUevent_st*`): marks a point in
// one stream that another stream or the host can wait for. Timing is off (cheaper).
#pragma once
#include "backend/cuda/stream_handle.h"

struct CUevent_st;

namespace mishnet::cuda {

class Event {
 public:
  Event();  // on the current device
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Marks the current end of `stream`'s work.
  void record(StreamHandle stream);
  // Later work on `stream` waits until the recorded point has passed (the host does not wait).
  void make_wait(StreamHandle stream) const;
  // The host waits until the recorded point has passed.
  void synchronize() const;

 private:
  CUevent_st* event_ = nullptr;
};

}  // namespace mishnet::cuda
