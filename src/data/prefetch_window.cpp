#include "data/prefetch_window.h"

#include <algorithm>

namespace mishnet::data {

PrefetchWindow::PrefetchWindow(BuildFn build, int threads, int prefetch, uint64_t seed)
    : build_(std::move(build)), prefetch_(std::max(prefetch, 1)), seed_(seed) {
  for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { worker_loop(); });
}

PrefetchWindow::~PrefetchWindow() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void PrefetchWindow::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || next_unclaimed_ < window_start_ + prefetch_; });
    if (stop_) return;
    const int64_t k = next_unclaimed_++;
    const uint64_t generation = generation_, seed = seed_;
    lock.unlock();
    Slot slot;
    try {
      build_(k, seed, slot.batch);
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    if (generation == generation_) {
      ready_[k] = std::move(slot);
      ready_cv_.notify_all();
    }
  }
}

BuiltBatch PrefetchWindow::fetch(int64_t k) {
  Slot slot;
  if (workers_.empty()) {
    build_(k, seed(), slot.batch);
    return std::move(slot.batch);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (k < window_start_ || k > next_unclaimed_) {
    // Not in the window (a resumed or rewound run): restart it at k.
    ready_.clear();
    window_start_ = next_unclaimed_ = k;
    ++generation_;
  } else {
    ready_.erase(ready_.begin(), ready_.lower_bound(k));
    window_start_ = k;
  }
  work_cv_.notify_all();
  ready_cv_.wait(lock, [&] { return ready_.count(k) > 0; });
  auto it = ready_.find(k);
  slot = std::move(it->second);
  ready_.erase(it);
  window_start_ = k + 1;
  lock.unlock();
  work_cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

void PrefetchWindow::set_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (seed == seed_) return;
  seed_ = seed;
  ready_.clear();
  next_unclaimed_ = window_start_;
  ++generation_;
  work_cv_.notify_all();
}

uint64_t PrefetchWindow::seed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seed_;
}

}  // namespace mishnet::data
