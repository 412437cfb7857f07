#include "data/epoch_order.h"

#include "data/augment.h"
#include "mishnet/trainer.h"

namespace mishnet::data {

std::shared_ptr<const std::vector<uint32_t>> EpochOrder::permutation(uint64_t seed, int64_t epoch) {
  const auto key = std::make_pair(seed, epoch);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  auto perm = std::make_shared<std::vector<uint32_t>>(count_);
  for (size_t i = 0; i < perm->size(); ++i) (*perm)[i] = uint32_t(i);
  Random rng(derive_seed(derive_seed(seed, stream_), uint64_t(epoch)));
  for (size_t i = perm->size(); i > 1; --i) std::swap((*perm)[i - 1], (*perm)[size_t(rng.integer(0, int(i - 1)))]);
  std::lock_guard<std::mutex> lock(mutex_);
  if (cache_.size() >= 4) cache_.erase(cache_.begin());
  cache_.emplace(key, perm);
  return perm;
}

size_t EpochOrder::image_at(int64_t position, uint64_t seed) {
  const int64_t n = int64_t(count_);
  if (!shuffle_) return size_t(position % n);
  return (*permutation(seed, position / n))[size_t(position % n)];
}

}  // namespace mishnet::data
