#include "demo/broadcaster.h"

namespace mishnet::demo {

Broadcaster::Broadcaster(size_t history, bool start_with_latest)
    : history_(history < 1 ? 1 : history), start_with_latest_(start_with_latest) {}

void Broadcaster::publish(std::string item) { publish(std::make_shared<const std::string>(std::move(item))); }

void Broadcaster::publish(Item item) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  items_.push_back(std::move(item));
  while (items_.size() > history_) {
    items_.pop_front();
    ++first_;
  }
  changed_.notify_all();
}

void Broadcaster::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

uint64_t Broadcaster::join() {
  std::lock_guard lock(mutex_);
  ++readers_;
  changed_.notify_all();
  const uint64_t end = first_ + items_.size();
  return start_with_latest_ && !items_.empty() ? end - 1 : end;
}

void Broadcaster::leave() {
  std::lock_guard lock(mutex_);
  --readers_;
  changed_.notify_all();
}

int Broadcaster::readers() const {
  std::lock_guard lock(mutex_);
  return readers_;
}

Broadcaster::Next Broadcaster::next(uint64_t& position, Item& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto available = [&] { return position < first_ + items_.size(); };
  if (!changed_.wait_for(lock, timeout, [&] { return closed_ || available(); })) return Next::timeout;
  if (!available()) return Next::closed;
  if (position < first_) position = first_;
  out = items_[size_t(position - first_)];
  ++position;
  return Next::item;
}

bool Broadcaster::wait_for_reader(const std::function<bool()>& give_up) {
  std::unique_lock lock(mutex_);
  while (readers_ == 0) {
    if (closed_ || give_up()) return false;
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return true;
}

bool Broadcaster::wait_until_readers_left(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return readers_ == 0; });
}

}  // namespace mishnet::demo
