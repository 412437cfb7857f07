// The GPU training network (network_cuda_training.h). One stream; layers with a device backward
// run there, the others (no trainable parameters: loss layers) on the host between a download
// of what they read and an upload of what they wrote. Nothing here has run on a GPU yet.
#include "core/network_cuda_training.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string>

#include "mishnet/error.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/conv_geometry.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/event.h"
#include "backend/cuda/staging_slots.h"
#endif

namespace mishnet {

#if defined(MISHNET_HAVE_CUDA)

struct CudaTrainingNetwork::Impl {
  Network& net;
  int device;
  DeviceTrainingPlan plan;
  DeviceTrainingMemory memory;
  GradientSchedule gradient_schedule;  // when each gradient is zeroed
  cuda::Stream stream;
  cuda::DeviceBuffer activations;  // outputs, then gradients (memory's offsets)
  cuda::DeviceBuffer params, grads, velocity, second;
  cuda::DeviceBuffer input;
  cuda::PinnedBuffer pinned_input;
  cuda::DeviceBuffer truth;  // the batch's ground truth, for the device losses
  cuda::PinnedBuffer pinned_truth;
  std::vector<Tensor> outputs, deltas;                  // device
  std::vector<std::vector<float*>> layer_params, layer_grads;
  std::vector<std::unique_ptr<CudaLayerTraining>> state;
  // Host copies for the host layers and the layers they read (plan.host_output/host_delta).
  std::vector<std::vector<float>> host_output_store, host_delta_store;
  std::vector<Tensor> host_outputs, host_deltas;
  // Input staging (stage_input): made on first use. `copied` marks the end of a slot's upload
  // on the copy stream; the forward's stream waits for it.
  struct StagedInput {
    cuda::PinnedBuffer host;
    cuda::DeviceBuffer device;
    std::unique_ptr<cuda::Event> copied;
  };
  std::mutex staging_mutex;
  cuda::StagingSlots slots;
  std::array<StagedInput, 2> staged;
  std::unique_ptr<cuda::Stream> copy_stream;
  // Mixed precision: the loss scale (one scaler per GPU; all GPUs record the same checks, so
  // they agree) and whether the gradients of the step are unscaled and may be applied.
  bool mixed = false;
  LossScaler scaler;
  bool gradients_ready = true;

  Impl(Network& n, int d) : net(n), device(d), mixed(n.config().mixed_precision) {}

  size_t param_bytes() const { return net.num_params() * sizeof(float); }
  static size_t bytes(const Tensor& t) { return t.size() * sizeof(float); }

  void download_output(int j) {
    cuda::copy_to_host(host_outputs[size_t(j)].data, outputs[size_t(j)].data,
                       bytes(outputs[size_t(j)]), stream.handle());
  }
  void download_delta(int j) {
    cuda::copy_to_host(host_deltas[size_t(j)].data, deltas[size_t(j)].data,
                       bytes(deltas[size_t(j)]), stream.handle());
  }
  void upload_output(int j) {
    cuda::copy_to_device(outputs[size_t(j)].data, host_outputs[size_t(j)].data,
                         bytes(outputs[size_t(j)]), stream.handle());
  }
  void upload_delta(int j) {
    cuda::copy_to_device(deltas[size_t(j)].data, host_deltas[size_t(j)].data,
                         bytes(deltas[size_t(j)]), stream.handle());
  }
  // Layers a host layer reads: i-1 (ctx.input, input_delta) and its inputs.
  std::vector<int> read_by(int i) const {
    std::vector<int> r;
    if (i > 0) r.push_back(i - 1);
    for (int src : net.layer(i).inputs)
      if (src >= 0 && src != i - 1) r.push_back(src);
    return r;
  }
};

CudaTrainingNetwork::CudaTrainingNetwork(Network& net, int device, bool reuse_gradients) {
  if (!net.training())
    fail("CudaTrainingNetwork: the network must be in training mode (set_training(true))");
  // The plan first: a network that cannot train on the GPU says so without touching a device.
  DeviceTrainingPlan plan = plan_device_training(net);
  if (!plan.problems.empty()) {
    std::string lines;
    for (const std::string& p : plan.problems) lines += "\n  " + p;
    fail(net.cfg_path(), ": cannot train on the GPU:", lines,
         "\n(train these on the CPU: leave out -gpus, or use -cpu)");
  }
  // Before any allocation or stream: they belong to the current device.
  cuda::use_device(device);
  impl_ = std::make_unique<Impl>(net, device);
  Impl& m = *impl_;
  m.plan = std::move(plan);
  const int n = net.num_layers();
  const int batch = net.batch();
  std::vector<size_t> floats;
  for (int i = 0; i < n; ++i) floats.push_back(net.layer(i).output_shape.per_image() * size_t(batch));
  m.gradient_schedule = schedule_gradients(net);
  const size_t align = 64;
  m.memory = plan_device_training_memory(
      floats, place_gradients(floats, m.gradient_schedule, align, reuse_gradients), align);
  m.activations = cuda::DeviceBuffer(m.memory.total * sizeof(float));
  float* base = static_cast<float*>(m.activations.data());
  m.outputs.assign(size_t(n), Tensor{});
  m.deltas.assign(size_t(n), Tensor{});
  m.host_outputs.assign(size_t(n), Tensor{});
  m.host_deltas.assign(size_t(n), Tensor{});
  m.host_output_store.assign(size_t(n), {});
  m.host_delta_store.assign(size_t(n), {});
  for (int i = 0; i < n; ++i) {
    Shape s = net.layer(i).output_shape;
    s.n = batch;
    m.outputs[size_t(i)] = Tensor{base + m.memory.output_offset[size_t(i)], s};
    m.deltas[size_t(i)] = Tensor{base + m.memory.delta_offset[size_t(i)], s};
    if (m.plan.host_output[size_t(i)]) {
      m.host_output_store[size_t(i)].assign(s.size(), 0.0f);
      m.host_outputs[size_t(i)] = Tensor{m.host_output_store[size_t(i)].data(), s};
    }
    if (m.plan.host_delta[size_t(i)]) {
      m.host_delta_store[size_t(i)].assign(s.size(), 0.0f);
      m.host_deltas[size_t(i)] = Tensor{m.host_delta_store[size_t(i)].data(), s};
    }
  }
  const size_t pbytes = std::max<size_t>(m.param_bytes(), sizeof(float));
  m.params = cuda::DeviceBuffer(pbytes);
  m.grads = cuda::DeviceBuffer(pbytes);
  m.velocity = cuda::DeviceBuffer(pbytes);
  if (net.config().adam) m.second = cuda::DeviceBuffer(pbytes);
  cuda::zero_device(m.velocity.data(), pbytes, m.stream.handle());
  if (net.config().adam) cuda::zero_device(m.second.data(), pbytes, m.stream.handle());
  cuda::zero_device(m.grads.data(), pbytes, m.stream.handle());
  float* pbase = static_cast<float*>(m.params.data());
  float* gbase = static_cast<float*>(m.grads.data());
  m.layer_params.assign(size_t(n), {});
  m.layer_grads.assign(size_t(n), {});
  const size_t limit = cuda::workspace_limit_bytes(net.config().workspace_size_limit_MB);
  m.state.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    Layer& l = net.layer(i);
    for (const Param& p : l.params) {
      const size_t offset = size_t(p.data - net.param_data());
      m.layer_params[size_t(i)].push_back(pbase + offset);
      m.layer_grads[size_t(i)].push_back(gbase + offset);
    }
    if (m.plan.place[size_t(i)] == TrainPlace::device)
      m.state[size_t(i)] = l.make_cuda_training(batch, limit);
    else
      l.prepare(net.backend());
  }
  const size_t in_bytes = net.input_shape().size() * sizeof(float);
  m.input = cuda::DeviceBuffer(in_bytes);
  m.pinned_input = cuda::PinnedBuffer(in_bytes);
  const size_t truth_bytes = net.truth_floats() * size_t(batch) * sizeof(float);
  if (truth_bytes > 0) {
    m.truth = cuda::DeviceBuffer(truth_bytes);
    m.pinned_truth = cuda::PinnedBuffer(truth_bytes);
  }
  upload_parameters();
}

CudaTrainingNetwork::~CudaTrainingNetwork() = default;

int CudaTrainingNetwork::device() const { return impl_->device; }
const DeviceTrainingPlan& CudaTrainingNetwork::plan() const { return impl_->plan; }
size_t CudaTrainingNetwork::num_params() const { return impl_->net.num_params(); }
float* CudaTrainingNetwork::device_gradients() { return static_cast<float*>(impl_->grads.data()); }
cuda::StreamHandle CudaTrainingNetwork::stream() const { return impl_->stream.handle(); }
void CudaTrainingNetwork::synchronize() const { impl_->stream.synchronize(); }

void CudaTrainingNetwork::upload_parameters() {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  cuda::copy_to_device(m.params.data(), m.net.param_data(), m.param_bytes(), m.stream.handle());
  m.stream.synchronize();  // from pageable memory: done before the host changes it
}

void CudaTrainingNetwork::download_parameters() {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  cuda::copy_to_host(m.net.param_data(), m.params.data(), m.param_bytes(), m.stream.handle());
  m.stream.synchronize();
  m.net.parameters_changed();
}

void CudaTrainingNetwork::upload_optimizer(const Optimizer& opt) {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  if (opt.velocity.size() != m.net.num_params() ||
      (opt.adam() && opt.second.size() != m.net.num_params()))
    fail("CudaTrainingNetwork: optimizer state does not match the network");
  cuda::copy_to_device(m.velocity.data(), opt.velocity.data(), m.param_bytes(), m.stream.handle());
  if (opt.adam())
    cuda::copy_to_device(m.second.data(), opt.second.data(), m.param_bytes(), m.stream.handle());
  m.stream.synchronize();
}

void CudaTrainingNetwork::download_optimizer(Optimizer& opt) const {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  opt.velocity.resize(m.net.num_params());
  cuda::copy_to_host(opt.velocity.data(), m.velocity.data(), m.param_bytes(), m.stream.handle());
  if (opt.adam()) {
    opt.second.resize(m.net.num_params());
    cuda::copy_to_host(opt.second.data(), m.second.data(), m.param_bytes(), m.stream.handle());
  }
  m.stream.synchronize();
}

void CudaTrainingNetwork::stage_input(const float* input) {
  Impl& m = *impl_;
  cuda::use_device(m.device);  // this thread may be another than the one that trains
  const size_t in_bytes = m.net.input_shape().size() * sizeof(float);
  int s = 0;
  {
    std::lock_guard<std::mutex> lock(m.staging_mutex);
    if (!m.copy_stream) {
      m.copy_stream = std::make_unique<cuda::Stream>();
      for (auto& slot : m.staged) {
        slot.host = cuda::PinnedBuffer(in_bytes);
        slot.device = cuda::DeviceBuffer(in_bytes);
        slot.copied = std::make_unique<cuda::Event>();
      }
    }
    s = m.slots.begin(input);
  }
  Impl::StagedInput& slot = m.staged[size_t(s)];
  // A reused slot's earlier upload may still be reading the pinned buffer.
  slot.copied->synchronize();
  std::memcpy(slot.host.data(), input, in_bytes);
  cuda::copy_to_device(slot.device.data(), slot.host.data(), in_bytes, m.copy_stream->handle());
  slot.copied->record(m.copy_stream->handle());
  std::lock_guard<std::mutex> lock(m.staging_mutex);
  m.slots.finish(s);
}

void CudaTrainingNetwork::zero_grads() {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  cuda::zero_device(m.grads.data(), m.param_bytes(), m.stream.handle());
}

float CudaTrainingNetwork::forward_backward(const float* input, const float* truth,
                                            std::mt19937_64& rng) {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  Network& net = m.net;
  const int n = net.num_layers();
  const auto handle = m.stream.handle();
  // Every gradient starts at zero, zeroed just before its first writer (the CPU zeroes each
  // as it goes live: the same values); gradients may share memory (device_gradient_plan.h).
  const auto zero_gradients_before = [&](int step) {
    for (int g : m.gradient_schedule.zero_before[size_t(step)])
      cuda::zero_device(m.deltas[size_t(g)].data, Impl::bytes(m.deltas[size_t(g)]), handle);
  };
  const Shape in_shape = net.input_shape();
  const size_t in_bytes = in_shape.size() * sizeof(float);
  // The input: staged ahead by stage_input (the stream waits for its copy), or uploaded now.
  std::optional<int> slot;
  {
    std::lock_guard<std::mutex> lock(m.staging_mutex);
    slot = m.slots.take(input);
  }
  struct ReleaseSlot {  // after the last reader: the stream is synchronised before leaving
    Impl& m;
    std::optional<int> slot;
    ~ReleaseSlot() {
      // On an error the stream may still read the slot: it stays in use (never rewritten).
      if (!slot || std::uncaught_exceptions() > 0) return;
      std::lock_guard<std::mutex> lock(m.staging_mutex);
      try {
        m.slots.release(*slot);
      } catch (const Error&) {
        // Only a bookkeeping bug can get here; a destructor must not throw. The slot stays busy.
      }
    }
  } release_slot{m, slot};
  float* device_input = static_cast<float*>(m.input.data());
  if (slot) {
    m.staged[size_t(*slot)].copied->make_wait(handle);
    device_input = static_cast<float*>(m.staged[size_t(*slot)].device.data());
  } else {
    std::memcpy(m.pinned_input.data(), input, in_bytes);
    cuda::copy_to_device(m.input.data(), m.pinned_input.data(), in_bytes, handle);
  }
  const Tensor device_in{device_input, in_shape};
  const Tensor host_in{const_cast<float*>(input), in_shape};
  const float* device_truth = nullptr;
  if (truth && m.truth.bytes() > 0) {
    std::memcpy(m.pinned_truth.data(), truth, m.truth.bytes());
    cuda::copy_to_device(m.truth.data(), m.pinned_truth.data(), m.truth.bytes(), handle);
    device_truth = static_cast<const float*>(m.truth.data());
  }

  float loss = 0.0f;
  for (int i = 0; i < n; ++i) {
    Layer& l = net.layer(i);
    l.cost = 0.0f;
    zero_gradients_before(forward_step(i));
    const Tensor& in = i == 0 ? device_in : m.outputs[size_t(i - 1)];
    if (m.plan.place[size_t(i)] == TrainPlace::device) {
      CudaTrainContext ctx{in, m.outputs, m.layer_params[size_t(i)], m.layer_grads[size_t(i)],
                           m.state[size_t(i)].get(), handle, &rng};
      ctx.truth = device_truth;
      ctx.host_truth = truth;
      if (l.truth_floats() > 0) ctx.delta = m.deltas[size_t(i)];
      l.forward_cuda_train(ctx, m.outputs[size_t(i)]);
      loss += l.cost;  // a device loss layer read its loss back
      continue;
    }
    // Host layer: its inputs come down, the CPU forward (and loss) runs, its output (and, for a
    // loss layer, its gradient) goes up.
    for (int j : m.read_by(i)) m.download_output(j);
    m.stream.synchronize();
    const bool loss_layer = l.truth_floats() > 0;
    Tensor& hd = m.host_deltas[size_t(i)];
    if (loss_layer) std::fill(hd.data, hd.data + hd.size(), 0.0f);
    ForwardContext ctx{i == 0 ? host_in : m.host_outputs[size_t(i - 1)], m.host_outputs, true,
                       truth, loss_layer ? hd : Tensor{}, &rng};
    l.forward(ctx, m.host_outputs[size_t(i)]);
    loss += l.cost;
    m.upload_output(i);
    if (loss_layer) m.upload_delta(i);
    m.stream.synchronize();  // the host copies may be rewritten by the next host layer
  }
  if (m.mixed) {
    // The loss layers' output gradients times the loss scale, on the device, wherever the loss
    // ran (host or device): every gradient of the backward pass is then scaled, so small ones
    // survive the half convolutions. The loss returned stays unscaled.
    const float scale = m.scaler.scale();
    for (int i = 0; i < n; ++i)
      if (net.layer(i).truth_floats() > 0)
        cuda::scale_values(m.deltas[size_t(i)].data, m.deltas[size_t(i)].size(), scale, handle);
    m.gradients_ready = false;
  }

  for (int i = n - 1; i >= 0; --i) {
    Layer& l = net.layer(i);
    if (l.stopbackward) break;
    zero_gradients_before(backward_step(i, n));
    const Tensor& in = i == 0 ? device_in : m.outputs[size_t(i - 1)];
    if (m.plan.place[size_t(i)] == TrainPlace::device) {
      CudaBackwardContext ctx{in,
                              m.outputs[size_t(i)],
                              m.deltas[size_t(i)],
                              i == 0 ? Tensor{} : m.deltas[size_t(i - 1)],
                              m.outputs,
                              m.deltas,
                              m.layer_params[size_t(i)],
                              m.layer_grads[size_t(i)],
                              m.state[size_t(i)].get(),
                              handle};
      l.backward_cuda(ctx);
      continue;
    }
    // Host layer: its gradient and the gradients it adds to come down (with their current
    // sums), the CPU backward adds, they go back up. The outputs it reads are still on the host
    // from its forward: device outputs are neither reused nor changed by any backward step, and
    // a host copy is only ever overwritten with the same device values.
    const std::vector<int> reads = m.read_by(i);
    m.download_delta(i);
    for (int j : reads) m.download_delta(j);
    m.stream.synchronize();
    BackwardContext ctx{i == 0 ? host_in : m.host_outputs[size_t(i - 1)],
                        m.host_outputs[size_t(i)],
                        m.host_deltas[size_t(i)],
                        i == 0 ? Tensor{} : m.host_deltas[size_t(i - 1)],
                        m.host_outputs,
                        m.host_deltas};
    l.backward(ctx);
    for (int j : reads) m.upload_delta(j);
    m.stream.synchronize();
  }
  m.stream.synchronize();
  return loss;
}

bool CudaTrainingNetwork::mixed_precision() const { return impl_->mixed; }
float CudaTrainingNetwork::loss_scale() const { return impl_->mixed ? impl_->scaler.scale() : 1.0f; }

const LossScaler& CudaTrainingNetwork::loss_scaler() const { return impl_->scaler; }
void CudaTrainingNetwork::set_loss_scaler(const LossScaler& scaler) { impl_->scaler = scaler; }

bool CudaTrainingNetwork::gradients_overflow() {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  return cuda::gradients_overflow(static_cast<const float*>(m.grads.data()), m.net.num_params(),
                                  m.stream.handle());
}

bool CudaTrainingNetwork::finish_gradient_check(bool overflow) {
  Impl& m = *impl_;
  if (!m.mixed) fail("CudaTrainingNetwork: a gradient check without mixed precision");
  cuda::use_device(m.device);
  const float inv_scale = m.scaler.inv_scale();  // the scale the gradients were computed with
  if (!m.scaler.record_step(overflow)) return false;  // skipped: zero_grads before the next step
  cuda::scale_values(static_cast<float*>(m.grads.data()), m.net.num_params(), inv_scale,
                     m.stream.handle());
  m.gradients_ready = true;
  return true;
}

void CudaTrainingNetwork::apply(const std::vector<ParamUpdate>& updates, bool adam) {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  float* w = static_cast<float*>(m.params.data());
  float* g = static_cast<float*>(m.grads.data());
  float* v = static_cast<float*>(m.velocity.data());
  float* s = static_cast<float*>(m.second.data());
  if (adam && !s) fail("CudaTrainingNetwork: an Adam step on a network built for SGD");
  if (!m.gradients_ready)
    fail("CudaTrainingNetwork: mixed precision: the gradients are still scaled by the loss scale "
         "(finish_gradient_check before apply)");
  for (const ParamUpdate& u : updates) {
    if (u.offset + u.count > m.net.num_params())
      fail("CudaTrainingNetwork: update of floats ", u.offset, "..", u.offset + u.count,
           " outside the ", m.net.num_params(), " parameters");
    if (adam)
      cuda::adam_update(u.adam, w + u.offset, v + u.offset, s + u.offset, g + u.offset, u.count,
                        m.stream.handle());
    else
      cuda::sgd_update(u.sgd, w + u.offset, v + u.offset, g + u.offset, u.count,
                       m.stream.handle());
  }
  m.stream.synchronize();
}

std::vector<float> CudaTrainingNetwork::gradients() const {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  std::vector<float> h(m.net.num_params());
  cuda::copy_to_host(h.data(), m.grads.data(), m.param_bytes(), m.stream.handle());
  m.stream.synchronize();
  return h;
}

std::vector<float> CudaTrainingNetwork::output(int i) const {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  const Tensor& t = m.outputs.at(size_t(i));
  std::vector<float> h(t.size());
  cuda::copy_to_host(h.data(), t.data, Impl::bytes(t), m.stream.handle());
  m.stream.synchronize();
  return h;
}

std::vector<float> CudaTrainingNetwork::delta(int i) const {
  Impl& m = *impl_;
  cuda::use_device(m.device);
  const Tensor& t = m.deltas.at(size_t(i));
  std::vector<float> h(t.size());
  cuda::copy_to_host(h.data(), t.data, Impl::bytes(t), m.stream.handle());
  m.stream.synchronize();
  return h;
}

#else  // no CUDA in this build

struct CudaTrainingNetwork::Impl {};

CudaTrainingNetwork::CudaTrainingNetwork(Network&, int, bool) {
  fail("GPU training needs a CUDA build (configure with -DMISHNET_CUDA=ON); this mishnet was "
       "built without CUDA");
}
CudaTrainingNetwork::~CudaTrainingNetwork() = default;
int CudaTrainingNetwork::device() const { return 0; }
const DeviceTrainingPlan& CudaTrainingNetwork::plan() const { fail("no CUDA in this build"); }
void CudaTrainingNetwork::upload_parameters() {}
void CudaTrainingNetwork::download_parameters() {}
void CudaTrainingNetwork::upload_optimizer(const Optimizer&) {}
void CudaTrainingNetwork::download_optimizer(Optimizer&) const {}
void CudaTrainingNetwork::zero_grads() {}
void CudaTrainingNetwork::stage_input(const float*) { fail("no CUDA in this build"); }
float CudaTrainingNetwork::forward_backward(const float*, const float*, std::mt19937_64&) {
  fail("no CUDA in this build");
}
void CudaTrainingNetwork::apply(const std::vector<ParamUpdate>&, bool) {}
bool CudaTrainingNetwork::mixed_precision() const { return false; }
float CudaTrainingNetwork::loss_scale() const { return 1.0f; }
const LossScaler& CudaTrainingNetwork::loss_scaler() const { fail("no CUDA in this build"); }
void CudaTrainingNetwork::set_loss_scaler(const LossScaler&) {}
bool CudaTrainingNetwork::gradients_overflow() { return false; }
bool CudaTrainingNetwork::finish_gradient_check(bool) { return true; }
float* CudaTrainingNetwork::device_gradients() { return nullptr; }
size_t CudaTrainingNetwork::num_params() const { return 0; }
cuda::StreamHandle CudaTrainingNetwork::stream() const { return nullptr; }
void CudaTrainingNetwork::synchronize() const {}
std::vector<float> CudaTrainingNetwork::gradients() const { return {}; }
std::vector<float> CudaTrainingNetwork::output(int) const { return {}; }
std::vector<float> CudaTrainingNetwork::delta(int) const { return {}; }

#endif

}  // namespace mishnet
