// The split of the GPU's per-channel sums over (channel, chunk) blocks
// (backend/cuda/channel_chunks.h), on the CPU: every element of a channel in exactly one chunk,
// no empty chunk, enough blocks to fill a GPU, and the batch-norm mean computed the way the
// kernels compute it (threads over a chunk, chunks in order) equal to the reference's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/channel_chunks.h"
#include "cuda_test_util.h"
#include "ops/batchnorm_training.h"

namespace mishnet {
namespace {

using cuda::ChannelChunks;

TEST(CudaGeometry, ChannelChunksCoverEveryElementOnce) {
  for (size_t count : {size_t(0), size_t(1), size_t(90), size_t(1023), size_t(1024), size_t(1025),
                       size_t(16384), size_t(64) * 608 * 608, size_t(123457)})
    for (int channels : {1, 3, 32, 255, 1024, 4096}) {
      const ChannelChunks g = cuda::channel_chunks(count, channels);
      ASSERT_GE(g.chunks, 1u);
      ASSERT_LE(g.chunks, cuda::kMaxChunks);
      size_t covered = 0;
      for (unsigned j = 0; j < g.chunks; ++j) {
        const size_t b = cuda::chunk_begin(g, j), e = cuda::chunk_end(g, j, count);
        ASSERT_EQ(b, covered) << "chunks are contiguous, in order";
        ASSERT_TRUE(e > b || count == 0) << "chunk " << j << " of " << g.chunks << " is empty";
        covered = e;
      }
      EXPECT_EQ(covered, count) << count << " x " << channels;
      // Blocks: about the target when the channel is large; at least four elements per thread
      // unless one chunk holds the channel.
      if (g.chunks > 1) {
        EXPECT_GE(g.chunk, cuda::kMinPerBlock / 2);
      }
      if (count >= cuda::kMinPerBlock * cuda::kTargetBlocks) {
        EXPECT_GE(size_t(g.chunks) * size_t(channels), cuda::kTargetBlocks / 2);
      }
    }
  // YOLOv4's first layer at batch 64, 608x608: 32 channels of 23.7M values each used 32 blocks.
  EXPECT_EQ(cuda::channel_chunks(size_t(64) * 608 * 608, 32).chunks, 32u);
}

// The kernels' order, run on the CPU: each block of kThreadsPerBlock threads sums its chunk
// with a float per thread (thread t: elements begin+t, begin+t+256, ...), the block's threads
// in double, the chunks in order. The mean matches the reference op's.
TEST(CudaGeometry, ChannelChunkSumsGiveTheReferenceMean) {
  const Shape shape{4, 3, 64, 64};
  const std::vector<float> x = test::uniform_values(shape.size(), 77, -3.0f, 5.0f);
  std::vector<float> mean(3), variance(3), x_hat(shape.size()), y(shape.size());
  std::vector<float> scales(3, 1.0f), biases(3, 0.0f), rm(3, 0.0f), rv(3, 1.0f);
  ops::BatchNormBuffers buf{mean.data(), variance.data(), x_hat.data()};
  ops::batchnorm_train_forward_reference(Tensor{const_cast<float*>(x.data()), shape}, scales.data(),
                                         biases.data(), rm.data(), rv.data(), 0.01f, buf, y.data());
  const size_t count = size_t(shape.n) * shape.h * shape.w;
  const ChannelChunks g = cuda::channel_chunks(count, shape.c);
  ASSERT_GT(g.chunks, 1u);
  for (int c = 0; c < shape.c; ++c) {
    double total = 0.0;
    for (unsigned j = 0; j < g.chunks; ++j) {
      double block = 0.0;
      for (int t = 0; t < cuda::kThreadsPerBlock; ++t) {
        float part = 0.0f;
        for (size_t k = cuda::chunk_begin(g, j) + size_t(t); k < cuda::chunk_end(g, j, count);
             k += cuda::kThreadsPerBlock)
          part += x[cuda::channel_element_offset(k, c, shape.c, shape.h * shape.w)];
        block += part;
      }
      total += block;
    }
    EXPECT_NEAR(float(total / double(count)), mean[size_t(c)], 1e-6f * std::fabs(mean[size_t(c)]) + 1e-7f)
        << "channel " << c;
  }
}

}  // namespace
}  // namespace mishnet
