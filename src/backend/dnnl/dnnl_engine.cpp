#include "backend/dnnl/dnnl_engine.h"

#include <cstdlib>
#include <memory>
#include <new>

namespace mishnet::dnnl_backend {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

namespace {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

struct ScratchBuffer {
  std::unique_ptr<float, FreeDeleter> data;
  size_t bytes = 0;
};

}  // namespace

float* scratch(ScratchSlot slot, size_t bytes) {
  thread_local ScratchBuffer buffers[size_t(ScratchSlot::count)];
  ScratchBuffer& b = buffers[size_t(slot)];
  if (bytes > b.bytes) {
    constexpr size_t kAlign = 64;
    size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    b.data.reset();  // release first: the old contents are not needed
    b.bytes = 0;
    b.data.reset(static_cast<float*>(std::aligned_alloc(kAlign, rounded)));
    if (!b.data) throw std::bad_alloc();
    b.bytes = rounded;
  }
  return b.data.get();
}

}  // namespace mishnet::dnnl_backend
