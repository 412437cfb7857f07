// Which list entry each position of a run reads: position p is entry perm_e[p mod n] of epoch
// e = p / n, where perm_e is a shuffle drawn from (seed, stream, e) alone, so a resumed run reads
// what an uninterrupted one would. Shared by the classification and detection loaders; safe to
// call from several loader threads.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace mishnet::data {

class EpochOrder {
 public:
  // `stream` keeps each loader's shuffles independent of its other random draws.
  EpochOrder(size_t count, uint64_t stream, bool shuffle)
      : count_(count), stream_(stream), shuffle_(shuffle) {}

  size_t image_at(int64_t position, uint64_t seed);

 private:
  std::shared_ptr<const std::vector<uint32_t>> permutation(uint64_t seed, int64_t epoch);

  size_t count_;
  uint64_t stream_;
  bool shuffle_;
  // Recent epoch permutations, keyed by (seed, epoch): workers straddle at most an epoch
  // boundary, so a few entries are plenty.
  std::mutex mutex_;
  std::map<std::pair<uint64_t, int64_t>, std::shared_ptr<const std::vector<uint32_t>>> cache_;
};

}  // namespace mishnet::data
