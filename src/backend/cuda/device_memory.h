// Device and pinned host memory, streams: RAII owners without CUDA types. Every call is checked
// (cuda_check.h); a failed allocation throws mishnet::Error with the size asked for.
#pragma once
#include <cstddef>
#include <vector>

#include "backend/cuda/arena_layout.h"
#include "backend/cuda/stream_handle.h"

namespace mishnet::cuda {

// Copies; with a stream they are asynchronous (pinned host memory needed for real overlap),
// without one they complete before returning.
void copy_to_device(void* device_dst, const void* host_src, size_t bytes, StreamHandle s = nullptr);
void copy_to_host(void* host_dst, const void* device_src, size_t bytes, StreamHandle s = nullptr);
void copy_on_device(void* dst, const void* src, size_t bytes, StreamHandle s = nullptr);
void zero_device(void* dst, size_t bytes, StreamHandle s = nullptr);

// Untyped device memory on the current device.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  // At least `bytes` (contents are lost when it grows): workspaces.
  void reserve(size_t bytes);

 private:
  void release() noexcept;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// `count` elements of T on the device.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t count) : buffer_(count * sizeof(T)), count_(count) {}
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }

  T* data() const { return static_cast<T*>(buffer_.data()); }
  size_t size() const { return count_; }
  void upload(const std::vector<T>& host, StreamHandle s = nullptr) {
    check_count(host.size());
    copy_to_device(data(), host.data(), count_ * sizeof(T), s);
  }
  std::vector<T> to_host() const {
    std::vector<T> host(count_);
    copy_to_host(host.data(), data(), count_ * sizeof(T));
    return host;
  }
  void zero(StreamHandle s = nullptr) { zero_device(data(), count_ * sizeof(T), s); }

 private:
  void check_count(size_t n) const {
    if (n != count_) fail("DeviceArray: ", n, " host elements for ", count_, " device elements");
  }
  DeviceBuffer buffer_;
  size_t count_ = 0;
};

// Page-locked host memory: device copies from it run asynchronously and at full speed (the
// next batch uploads while the current one trains).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void release() noexcept;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A non-blocking stream (does not synchronise with the legacy default stream).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  StreamHandle handle() const { return stream_; }
  void synchronize() const;

 private:
  StreamHandle stream_ = nullptr;
};

// One device allocation carved into blocks at planned offsets (ArenaLayout): a network's
// tensors are planned once from the shapes and allocated together.
class DeviceArena {
 public:
  explicit DeviceArena(size_t bytes) : buffer_(bytes) {}
  explicit DeviceArena(const ArenaLayout& layout) : buffer_(layout.total()) {}

  size_t bytes() const { return buffer_.bytes(); }
  // The block at `offset` holding `count` elements of T; throws when it does not fit.
  template <typename T>
  T* at(size_t offset, size_t count) const {
    check_arena_range(buffer_.bytes(), offset, count * sizeof(T));
    return reinterpret_cast<T*>(static_cast<char*>(buffer_.data()) + offset);
  }

 private:
  DeviceBuffer buffer_;
};

}  // namespace mishnet::cuda
