// Launch geometry and index arithmetic of the CUDA kernels, without CUDA types: MISHNET_HD
// functions the kernels call and the CPU tests check (tests/cuda/test_cuda_geometry.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/host_device.h"

namespace mishnet::cuda {

constexpr int kThreadsPerBlock = 256;
// Grid-stride loops cover any n with at most this many blocks (enough to fill every GPU).
constexpr unsigned kMaxBlocks = 4096;

struct Launch1d {
  unsigned blocks = 0;
  unsigned threads = 0;
};

// Blocks of `threads` for n elements handled by a grid-stride loop: ceil(n / threads), at
// least 1 (a kernel with nothing to do still launches validly), at most kMaxBlocks.
inline Launch1d launch_1d(size_t n, int threads = kThreadsPerBlock) {
  size_t blocks = (n + size_t(threads) - 1) / size_t(threads);
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  return {unsigned(blocks), unsigned(threads)};
}

// ---------------------------------------------------------------------------------------------
// Pooling: the outputs whose window covers an input cell, for gather-style backward passes
// (one thread per input cell, no atomics, deterministic).

struct IndexRange {
  int first = 0, last = -1;  // inclusive; empty when last < first
};

// Along one axis, output o's window covers input cells [o*stride - before, o*stride - before +
// size - 1]. Returns the outputs (within 0..outputs-1) whose window covers input cell `in`.
MISHNET_HD IndexRange pool_outputs_covering(int in, int before, int size, int stride, int outputs) {
  // o*stride <= in + before  and  o*stride >= in + before - size + 1.
  const int hi_pos = in + before;
  const int lo_pos = in + before - size + 1;
  IndexRange r;
  r.first = lo_pos <= 0 ? 0 : (lo_pos + stride - 1) / stride;
  r.last = hi_pos < 0 ? -1 : hi_pos / stride;
  if (r.last > outputs - 1) r.last = outputs - 1;
  return r;
}

// The part of a window starting at `start` (may be negative) of `size` cells inside 0..extent-1.
MISHNET_HD IndexRange clip_window(int start, int size, int extent) {
  IndexRange r;
  r.first = start < 0 ? 0 : start;
  r.last = start + size > extent ? extent - 1 : start + size - 1;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Nearest-neighbour resampling: big-grid cell (y, x) of a plane copies small-grid cell
// (y / stride, x / stride).
MISHNET_HD size_t upsample_source_index(size_t big_index, int small_h, int small_w, int stride) {
  const size_t big_w = size_t(small_w) * size_t(stride);
  const size_t big_plane = big_w * size_t(small_h) * size_t(stride);
  const size_t plane = big_index / big_plane;
  const size_t in_plane = big_index % big_plane;
  const size_t y = in_plane / big_w, x = in_plane % big_w;
  return plane * size_t(small_h) * size_t(small_w) + (y / size_t(stride)) * size_t(small_w) +
         x / size_t(stride);
}

// ---------------------------------------------------------------------------------------------
// Channel blocks of NCHW tensors ([route]): element i of the block (count channels x spatial
// per image, images back to back) lives at this offset of a tensor with `channels` per image.
MISHNET_HD size_t channel_block_offset(size_t i, int spatial, int count, int channels, int first) {
  const size_t run = size_t(count) * size_t(spatial);
  const size_t image = i / run, within = i % run;
  return (image * size_t(channels) + size_t(first)) * size_t(spatial) + within;
}

// ---------------------------------------------------------------------------------------------
// Per-channel reductions (batch norm, bias gradient): element k of channel c's n*spatial values.
MISHNET_HD size_t channel_element_offset(size_t k, int c, int channels, int spatial) {
  const size_t image = k / size_t(spatial), p = k % size_t(spatial);
  return (image * size_t(channels) + size_t(c)) * size_t(spatial) + p;
}

}  // namespace mishnet::cuda
