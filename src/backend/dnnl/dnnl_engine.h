// The process's oneDNN CPU engine, a stream per thread, and per-thread scratch memory for the
// blocked copies that ops make of their NCHW inputs and outputs.
#pragma once
#include <cstddef>
#include <oneapi/dnnl/dnnl.hpp>

namespace mishnet::dnnl_backend {

// One engine for the process: primitives created on it can run from any thread.
dnnl::engine& cpu_engine();
// A stream per thread: a CPU stream is cheap, and executing on one stream from two threads at
// once is not something oneDNN promises to handle.
dnnl::stream& cpu_stream();

// Scratch buffers of this thread, 64-byte aligned and grow-only. Ops run one after another, so
// every op of a network shares them instead of holding its own blocked copies (which would
// double the activation memory). `slot` separates buffers that are live at the same time.
enum class ScratchSlot { src, dst, weights, count };
float* scratch(ScratchSlot slot, size_t bytes);

}  // namespace mishnet::dnnl_backend
