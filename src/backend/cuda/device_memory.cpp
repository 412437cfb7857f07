#include "backend/cuda/device_memory.h"

#include <utility>

#include "backend/cuda/cuda_check.h"

namespace mishnet::cuda {

void copy_to_device(void* device_dst, const void* host_src, size_t bytes, StreamHandle s) {
  if (bytes == 0) return;
  if (s) {
    MISHNET_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, s));
  } else {
    MISHNET_CUDA_CHECK(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice));
  }
}

void copy_to_host(void* host_dst, const void* device_src, size_t bytes, StreamHandle s) {
  if (bytes == 0) return;
  if (s) {
    MISHNET_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, bytes, cudaMemcpyDeviceToHost, s));
  } else {
    MISHNET_CUDA_CHECK(cudaMemcpy(host_dst, device_src, bytes, cudaMemcpyDeviceToHost));
  }
}

void copy_on_device(void* dst, const void* src, size_t bytes, StreamHandle s) {
  if (bytes == 0) return;
  MISHNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
  if (!s) MISHNET_CUDA_CHECK(cudaStreamSynchronize(nullptr));
}

void zero_device(void* dst, size_t bytes, StreamHandle s) {
  if (bytes == 0) return;
  MISHNET_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, s));
}

DeviceBuffer::DeviceBuffer(size_t bytes) { reserve(bytes); }
DeviceBuffer::~DeviceBuffer() { release(); }
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    release();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::reserve(size_t bytes) {
  if (bytes <= bytes_) return;
  release();
  MISHNET_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  bytes_ = bytes;
}

void DeviceBuffer::release() noexcept {
  // cudaFree after a device fault reports the fault again; a destructor must not throw.
  if (ptr_) (void)cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes) {
  MISHNET_CUDA_CHECK(cudaMallocHost(&ptr_, bytes));
  bytes_ = bytes;
}
PinnedBuffer::~PinnedBuffer() { release(); }
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    release();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}
void PinnedBuffer::release() noexcept {
  if (ptr_) (void)cudaFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

Stream::Stream() { MISHNET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
Stream::~Stream() {
  if (stream_) (void)cudaStreamDestroy(stream_);
}
void Stream::synchronize() const { MISHNET_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace mishnet::cuda
