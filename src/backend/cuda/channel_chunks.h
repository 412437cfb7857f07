// How the GPU's per-channel sums (batch norm statistics and gradients, bias gradients) are
// split over blocks: each channel's `count` elements (in channel_element_offset order) in
// `chunks` contiguous ranges of `chunk` elements (the last may be shorter), one block per
// (channel, chunk). Each block sums its range (float per thread, double across the block) and
// the per-chunk sums are then added in chunk order, so the result does not depend on
// scheduling. One block per channel, as before, left most of a large GPU idle on layers with
// few channels (32 blocks on 132 SMs for YOLOv4's first layers). Host arithmetic, tested on
// the CPU (CudaGeometry.ChannelChunks*).
#pragma once
#include <algorithm>
#include <cstddef>

#include "backend/cuda/launch_geometry.h"
#include "kernels/host_device.h"

namespace mishnet::cuda {

struct ChannelChunks {
  unsigned chunks = 1;
  size_t chunk = 0;  // elements per chunk
};

// About kTargetBlocks blocks over all channels, each block at least kMinPerBlock elements (four
// per thread), at most kMaxChunks chunks per channel.
inline constexpr size_t kTargetBlocks = 1024;
inline constexpr size_t kMinPerBlock = size_t(kThreadsPerBlock) * 4;
inline constexpr size_t kMaxChunks = 1024;

inline ChannelChunks channel_chunks(size_t count, int channels) {
  if (count == 0) return {1, 0};
  const size_t by_blocks = std::max<size_t>(1, kTargetBlocks / size_t(std::max(channels, 1)));
  const size_t by_size = (count + kMinPerBlock - 1) / kMinPerBlock;
  const size_t wanted = std::max<size_t>(1, std::min({by_blocks, by_size, kMaxChunks}));
  ChannelChunks g;
  g.chunk = (count + wanted - 1) / wanted;
  g.chunks = unsigned((count + g.chunk - 1) / g.chunk);  // no empty chunk
  return g;
}

MISHNET_HD size_t chunk_begin(const ChannelChunks& g, unsigned j) { return size_t(j) * g.chunk; }
MISHNET_HD size_t chunk_end(const ChannelChunks& g, unsigned j, size_t count) {
  const size_t end = size_t(j + 1) * g.chunk;
  return end < count ? end : count;
}

}  // namespace mishnet::cuda
