// One producer (the pipeline's output stage), any number of readers (HTTP clients), each reading
// at its own pace. The broadcaster keeps the last `history` items: a reader that falls further
// behind skips to the oldest kept item, so a slow client never slows the pipeline down.
//   MJPEG: history 1, a new reader starts with the latest frame (a browser shows something at once).
//   JSON: a longer history, a new reader starts with the next item (no frame repeated).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace mishnet::demo {

class Broadcaster {
 public:
  using Item = std::shared_ptr<const std::string>;

  Broadcaster(size_t history, bool start_with_latest);

  void publish(std::string item);
  void publish(Item item);
  // Readers get what is left, then `closed`; waiters wake at once.
  void close();

  // A reader's position: the sequence number of the next item it wants.
  uint64_t join();
  void leave();
  int readers() const;

  enum class Next { item, timeout, closed };
  // Waits up to `timeout` for the item at `position` (or the oldest kept one when it is gone)
  // and advances `position` past it.
  Next next(uint64_t& position, Item& out, std::chrono::milliseconds timeout);

  // Waits until at least one reader has joined; false when `give_up` said so first (checked
  // every 100 ms) or the broadcaster was closed.
  bool wait_for_reader(const std::function<bool()>& give_up);
  // After close(): waits until every reader has left (read what was left), at most `timeout`.
  bool wait_until_readers_left(std::chrono::milliseconds timeout);

 private:
  const size_t history_;
  const bool start_with_latest_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> items_;   // items_[i] has sequence number first_ + i
  uint64_t first_ = 0;       // sequence number of items_.front()
  int readers_ = 0;
  bool closed_ = false;
};

}  // namespace mishnet::demo
