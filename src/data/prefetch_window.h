// Mini-batches built ahead of the trainer by worker threads: a window of at most `prefetch`
// mini-batches past the one asked for last. Built for loaders whose mini-batch k is a function
// of (seed, k) alone: a request outside the window (a resumed run) restarts it there, and work
// begun for an old seed or window is dropped, so the thread count and timing never show in the
// data. Used by the classification and detection loaders.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace mishnet::data {

struct BuiltBatch {
  std::vector<float> images, truth;
};

class PrefetchWindow {
 public:
  // build(k, seed, out) fills mini-batch k; it runs on the workers (threads > 0) or inside
  // fetch (threads == 0) and must be safe to call concurrently.
  using BuildFn = std::function<void(int64_t, uint64_t, BuiltBatch&)>;
  PrefetchWindow(BuildFn build, int threads, int prefetch, uint64_t seed);
  ~PrefetchWindow();
  PrefetchWindow(const PrefetchWindow&) = delete;
  PrefetchWindow& operator=(const PrefetchWindow&) = delete;

  // Mini-batch k (rethrows what its build threw).
  BuiltBatch fetch(int64_t k);
  void set_seed(uint64_t seed);
  uint64_t seed() const;

 private:
  struct Slot {
    BuiltBatch batch;
    std::exception_ptr error;
  };
  void worker_loop();

  BuildFn build_;
  int prefetch_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  bool stop_ = false;
  uint64_t seed_;
  int64_t window_start_ = 0, next_unclaimed_ = 0;
  uint64_t generation_ = 0;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> workers_;
};

}  // namespace mishnet::data
