// Network's CUDA backend (docs/gpu.md, "Running a network on the GPU"): parameters uploaded once
// after prepare, layer outputs in one device arena with the host arena's plan, the input
// uploaded from a pinned buffer, layers without a CUDA forward run on the CPU in between
// (core/device_plan.h), and the kept outputs downloaded so callers read host tensors.
#include <chrono>
#include <cstring>
#include <iostream>

#include "core/device_plan.h"
#include "mishnet/error.h"
#include "mishnet/network.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

std::vector<bool> Network::cuda_layers() const {
  std::vector<bool> on(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) on[i] = layers_[i]->has_cuda_forward();
  return on;
}

#if defined(MISHNET_HAVE_CUDA)

struct Network::CudaState {
  explicit CudaState(int device) : device(device) {}
  int device;
  cuda::Stream stream;
  cuda::DeviceBuffer params;                   // every layer's cuda_parameters()
  std::vector<std::vector<float*>> layer_params;
  // Rebuilt when the host arena is re-planned (keep_outputs).
  cuda::DeviceBuffer arena;
  std::vector<Tensor> outputs;                 // device tensors at the host plan's offsets
  std::vector<bool> kept;
  DevicePlan plan;
  cuda::DeviceBuffer input;
  cuda::PinnedBuffer pinned_input;
};

void Network::CudaStateDeleter::operator()(CudaState* s) const { delete s; }

void Network::prepare_cuda() {
  const std::vector<bool> on = cuda_layers();
  if (!cuda_ || cuda_->device != device_) {
    // Once per network (and before the device is touched, so it shows without one too).
    for (size_t i = 0; i < layers_.size(); ++i)
      if (!on[i])
        std::cerr << "cuda: layer " << i << " [" << layers_[i]->type()
                  << "] has no CUDA forward with these options: it runs on the CPU (inputs "
                     "downloaded, output uploaded)\n";
    cuda::use_device(device_);
    cuda_.reset(new CudaState(device_));
  }
  cuda::use_device(device_);
  CudaState& s = *cuda_;
  for (size_t i = 0; i < layers_.size(); ++i)
    layers_[i]->prepare(on[i] ? BackendKind::cuda : BackendKind::cpu);

  // One device allocation for all parameters, 64-float aligned blocks.
  std::vector<std::vector<std::span<const float>>> blocks(layers_.size());
  size_t total = 0;
  const size_t align = 64;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (!on[i]) continue;
    blocks[i] = layers_[i]->cuda_parameters();
    for (const auto& b : blocks[i]) total += (b.size() + align - 1) / align * align;
  }
  if (s.params.bytes() != total * sizeof(float)) s.params = cuda::DeviceBuffer(total * sizeof(float));
  s.layer_params.assign(layers_.size(), {});
  float* base = static_cast<float*>(s.params.data());
  size_t offset = 0;
  for (size_t i = 0; i < layers_.size(); ++i)
    for (const auto& b : blocks[i]) {
      cuda::copy_to_device(base + offset, b.data(), b.size() * sizeof(float), s.stream.handle());
      s.layer_params[i].push_back(base + offset);
      offset += (b.size() + align - 1) / align * align;
    }
  // The host blocks (folded weights) may change at the next prepare: finish the copies now.
  s.stream.synchronize();
}

Tensor Network::forward_cuda(const float* input) {
  cuda::use_device(device_);
  CudaState& s = *cuda_;
  const int n = num_layers();
  if (s.outputs.size() != size_t(n) || s.kept != output_kept_ ||
      s.arena.bytes() != arena_.size() * sizeof(float)) {
    if (s.arena.bytes() != arena_.size() * sizeof(float))
      s.arena = cuda::DeviceBuffer(arena_.size() * sizeof(float));
    float* base = static_cast<float*>(s.arena.data());
    s.outputs.assign(size_t(n), Tensor{});
    std::vector<std::vector<int>> inputs(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      s.outputs[size_t(i)] = Tensor{base + (outputs_[size_t(i)].data - arena_.data()),
                                    outputs_[size_t(i)].shape};
      inputs[size_t(i)] = layers_[size_t(i)]->inputs;
    }
    s.kept = output_kept_;
    s.plan = plan_device_execution(cuda_layers(), inputs, output_kept_);
  }
  const Shape in_shape = input_shape();
  const size_t in_bytes = in_shape.size() * sizeof(float);
  if (s.input.bytes() != in_bytes) {
    s.input = cuda::DeviceBuffer(in_bytes);
    s.pinned_input = cuda::PinnedBuffer(in_bytes);
  }
  // The plan's steps with CUDA copies and launches on the network's stream.
  struct Steps final : DeviceSteps {
    Network& net;
    CudaState& s;
    const float* input;
    size_t in_bytes;
    Tensor host_in, device_in;
    std::chrono::steady_clock::time_point t0;

    Steps(Network& net, CudaState& s, const float* input, const Shape& in_shape)
        : net(net), s(s), input(input), in_bytes(in_shape.size() * sizeof(float)),
          host_in{const_cast<float*>(input), in_shape},
          device_in{static_cast<float*>(s.input.data()), in_shape} {}
    static size_t bytes(const Tensor& t) { return t.size() * sizeof(float); }

    void upload_input() override {
      std::memcpy(s.pinned_input.data(), input, in_bytes);
      cuda::copy_to_device(s.input.data(), s.pinned_input.data(), in_bytes, s.stream.handle());
    }
    void run_on_device(int i) override {
      CudaForwardContext ctx{i == 0 ? device_in : s.outputs[size_t(i - 1)], s.outputs,
                             s.layer_params[size_t(i)], s.stream.handle()};
      net.layers_[size_t(i)]->forward_cuda(ctx, s.outputs[size_t(i)]);
    }
    void download(int j) override {
      cuda::copy_to_host(net.outputs_[size_t(j)].data, s.outputs[size_t(j)].data,
                         bytes(net.outputs_[size_t(j)]), s.stream.handle());
    }
    void wait() override { s.stream.synchronize(); }
    void run_on_host(int i) override {
      ForwardContext ctx{i == 0 ? host_in : net.outputs_[size_t(i - 1)], net.outputs_, false};
      net.layers_[size_t(i)]->forward(ctx, net.outputs_[size_t(i)]);
    }
    void upload(int i) override {
      cuda::copy_to_device(s.outputs[size_t(i)].data, net.outputs_[size_t(i)].data,
                           bytes(net.outputs_[size_t(i)]), s.stream.handle());
    }
    // With profiling, each layer's time includes waiting for its kernels.
    void begin_layer(int) override {
      if (net.profiling_) t0 = std::chrono::steady_clock::now();
    }
    void end_layer(int i) override {
      if (!net.profiling_) return;
      s.stream.synchronize();
      net.layer_times_ms_[size_t(i)] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
  };
  layer_times_ms_.assign(size_t(n), 0.0);
  Steps steps(*this, s, input, in_shape);
  execute_device_plan(s.plan, steps);
  return outputs_.back();
}

#else  // no CUDA in this build

struct Network::CudaState {};
void Network::CudaStateDeleter::operator()(CudaState* s) const { delete s; }

void Network::prepare_cuda() {
  fail("the network's backend is cuda but mishnet was built without CUDA (configure with "
       "-DMISHNET_CUDA=ON)");
}

Tensor Network::forward_cuda(const float*) {
  prepare_cuda();
  return {};
}

#endif

}  // namespace mishnet
