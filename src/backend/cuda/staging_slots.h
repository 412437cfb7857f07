// Double-buffered input staging for GPU training (core/network_cuda_training.cpp): while one
// slot's mini-batch trains, the next mini-batch is copied into the other slot's pinned host
// buffer and uploaded on a copy stream. This is the slots' bookkeeping only (no CUDA), tested on
// the CPU (CudaGeometry.StagingSlots*): which slot may be written, which one holds the
// mini-batch a forward asks for, and when a slot is free again.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

#include "mishnet/error.h"

namespace mishnet::cuda {

class StagingSlots {
 public:
  enum class State { free, staging, staged, in_use };

  // A slot to copy the mini-batch `key` into (the host address the trainer will pass to the
  // forward). A slot still staged with a key nobody took is reused (its mini-batch was dropped,
  // e.g. by a resize); a slot in use by the running forward never is. Throws when both slots are
  // busy, which a caller that stages one mini-batch ahead never causes.
  int begin(const void* key) {
    for (int pass = 0; pass < 2; ++pass)
      for (int s = 0; s < 2; ++s) {
        Slot& slot = slots_[size_t(s)];
        const bool usable = slot.state == State::free || (pass == 1 && slot.state == State::staged);
        if (!usable) continue;
        slot.state = State::staging;
        slot.key = key;
        return s;
      }
    fail("input staging: both slots are busy (a mini-batch is staged while two are in flight)");
  }
  // The copy of slot s has been queued (an event marks its end).
  void finish(int s) { expect(s, State::staging, "finish")->state = State::staged; }
  // The slot holding `key` for the forward, now in use; none when it was not staged (the
  // forward then uploads it itself).
  std::optional<int> take(const void* key) {
    for (int s = 0; s < 2; ++s) {
      Slot& slot = slots_[size_t(s)];
      if (slot.state == State::staged && slot.key == key) {
        slot.state = State::in_use;
        return s;
      }
    }
    return std::nullopt;
  }
  // The forward that used slot s is done with it (the stream has passed its last reader).
  void release(int s) {
    Slot* slot = expect(s, State::in_use, "release");
    slot->state = State::free;
    slot->key = nullptr;
  }
  // Forget staged mini-batches (the network changed); slots in use stay in use.
  void drop_staged() {
    for (Slot& slot : slots_)
      if (slot.state == State::staged) slot = Slot{};
  }

  State state(int s) const { return slots_.at(size_t(s)).state; }

 private:
  struct Slot {
    State state = State::free;
    const void* key = nullptr;
  };
  Slot* expect(int s, State want, const char* what) {
    if (s < 0 || s > 1) fail("input staging: ", what, " of slot ", s, " (there are 2)");
    Slot& slot = slots_[size_t(s)];
    if (slot.state != want) fail("input staging: ", what, " of slot ", s, " in the wrong state");
    return &slot;
  }
  std::array<Slot, 2> slots_{};
};

}  // namespace mishnet::cuda
