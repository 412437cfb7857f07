// A bounded queue between two pipeline stages. Two policies: `block` (a full queue makes the
// producer wait, so every item arrives in order: video files) and `drop_oldest` (a full queue
// discards its oldest item, so the consumer always gets the freshest one: cameras and streams,
// where an old frame is worth less than keeping latency low).
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace mishnet::demo {

enum class QueuePolicy { block, drop_oldest };

template <typename T>
class BoundedQueue {
 public:
  BoundedQueue(size_t capacity, QueuePolicy policy) : capacity_(capacity < 1 ? 1 : capacity), policy_(policy) {}

  // False when the queue was closed (the item is dropped: nobody will read it).
  bool push(T item) {
    std::unique_lock lock(mutex_);
    if (policy_ == QueuePolicy::block)
      not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    if (items_.size() >= capacity_) {
      items_.pop_front();
      ++dropped_;
    }
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // The next item; nullopt once the queue is closed and empty.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  // No more pushes; pops drain what is left. Wakes every waiter.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  // Closes and discards what is queued (an error elsewhere: nothing more will be used).
  void abandon() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    items_.clear();
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  const size_t capacity_;
  const QueuePolicy policy_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> items_;
  bool closed_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace mishnet::demo
