// Offsets of blocks inside one device allocation (the device arena): each block starts on a
// kArenaAlignment boundary, as cudaMalloc's own pointers do, so any element type and vectorised
// access works. Plain host code, tested on the CPU.
#pragma once
#include <cstddef>
#include <vector>

#include "mishnet/error.h"

namespace mishnet::cuda {

constexpr size_t kArenaAlignment = 256;

inline size_t align_up(size_t bytes, size_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

class ArenaLayout {
 public:
  // Appends a block of `bytes` and returns its offset.
  size_t add(size_t bytes) {
    const size_t offset = align_up(total_, kArenaAlignment);
    offsets_.push_back(offset);
    sizes_.push_back(bytes);
    total_ = offset + bytes;
    return offset;
  }
  size_t offset(size_t block) const { return offsets_.at(block); }
  size_t size(size_t block) const { return sizes_.at(block); }
  size_t blocks() const { return offsets_.size(); }
  // Bytes the arena needs (the last block's end, rounded to the alignment).
  size_t total() const { return align_up(total_, kArenaAlignment); }

 private:
  std::vector<size_t> offsets_, sizes_;
  size_t total_ = 0;
};

// Throws unless [offset, offset + bytes) lies inside an arena of `capacity` bytes, aligned.
inline void check_arena_range(size_t capacity, size_t offset, size_t bytes) {
  if (offset % kArenaAlignment != 0)
    fail("device arena: offset ", offset, " is not a multiple of ", kArenaAlignment);
  if (offset > capacity || bytes > capacity - offset)
    fail("device arena: ", bytes, " bytes at offset ", offset, " exceed the arena's ", capacity);
}

}  // namespace mishnet::cuda
