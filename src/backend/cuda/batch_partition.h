// How a total batch splits across GPUs for data-parallel training: plain host arithmetic,
// tested on the CPU. Each GPU gets a contiguous slice; sizes differ by at most one image (the
// first total % gpus ranks take one more), so every image is trained exactly once per step.
// Gradients are sums over images (docs/architecture.md): an all-reduce SUM over the GPUs gives
// the gradient of the whole batch, and the optimizer divides by the total batch, which makes
// N GPUs compute what one GPU computes with the same total batch.
#pragma once
#include <string>
#include <vector>

#include "mishnet/error.h"

namespace mishnet::cuda {

struct BatchSlice {
  int rank = 0;
  int first = 0;  // index of the first image in the total batch
  int count = 0;  // images on this rank
};

inline std::vector<BatchSlice> partition_batch(int total_batch, int gpus) {
  if (gpus < 1) fail("partition_batch: need at least one GPU, got ", gpus);
  if (total_batch < gpus)
    fail("batch of ", total_batch, " images cannot be split across ", gpus,
         " GPUs (each needs at least one image)");
  std::vector<BatchSlice> slices(static_cast<size_t>(gpus));
  const int base = total_batch / gpus, extra = total_batch % gpus;
  int first = 0;
  for (int r = 0; r < gpus; ++r) {
    const int count = base + (r < extra ? 1 : 0);
    slices[size_t(r)] = {r, first, count};
    first += count;
  }
  return slices;
}

// Parses Darknet's -gpus list ("0,1,2,3") into device indices; throws on empty entries,
// non-numbers, negatives and repeats.
inline std::vector<int> parse_gpu_list(const std::string& text) {
  std::vector<int> gpus;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                           : comma - start);
    if (item.empty() || item.size() > 4 || item.find_first_not_of("0123456789") != std::string::npos)
      fail("-gpus '", text, "': '", item, "' is not a GPU index");
    const int g = std::stoi(item);
    for (int seen : gpus)
      if (seen == g) fail("-gpus '", text, "': GPU ", g, " is listed twice");
    gpus.push_back(g);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return gpus;
}

}  // namespace mishnet::cuda
