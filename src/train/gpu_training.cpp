#include "train/gpu_training.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "backend/cuda/batch_partition.h"
#include "core/network_cuda_training.h"
#include "layers/yolo.h"
#include "mishnet/error.h"
#include "train/param_update.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#include "backend/cuda/nccl_all_reduce.h"
#endif

namespace mishnet {

namespace {

// One thread that runs the tasks given to it in order: the thread that drives one GPU.
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  std::future<void> run(std::function<void()> task) {
    std::packaged_task<void()> job(std::move(task));
    std::future<void> done = job.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(job));
    }
    wake_.notify_one();
    return done;
  }

 private:
  void loop() {
    for (;;) {
      std::packaged_task<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();  // an exception lands in the future
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: started after the members it uses
};

// Waits for all, then rethrows the first failure (a GPU's error never leaves others running).
void wait_all(std::vector<std::future<void>>& done) {
  std::exception_ptr first;
  for (auto& f : done) {
    try {
      f.get();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace

struct GpuTraining::Impl {
  Network& net;
  std::vector<int> gpus;
  ReplicaFactory make_replica;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<Network>> replicas;  // empty with one GPU
  std::vector<std::unique_ptr<CudaTrainingNetwork>> nets;
  std::vector<cuda::BatchSlice> slices;
  bool gradients_reduced = false;  // check_gradients all-reduced this step's gradients
#if defined(MISHNET_HAVE_CUDA)
  std::unique_ptr<cuda::NcclAllReduce> nccl;
#endif

  Impl(Network& n, std::vector<int> g, ReplicaFactory f)
      : net(n), gpus(std::move(g)), make_replica(std::move(f)) {}

  int count() const { return int(gpus.size()); }

#if defined(MISHNET_HAVE_CUDA)
  // Runs one GPU's part of a step that all-reduces. On an error the other GPUs may be waiting in
  // an all-reduce this one never joined: the communicators are aborted so that they fail too and
  // wait_all returns this error instead of hanging.
  template <typename F>
  void guard_nccl(F&& part) {
    try {
      part();
    } catch (...) {
      if (nccl) nccl->abort();
      throw;
    }
  }
#endif
  Network& network_of(int k) { return replicas.empty() ? net : *replicas[size_t(k)]; }

  // Runs task(k) on every GPU's thread and waits.
  void on_each(const std::function<void(int)>& task) {
    std::vector<std::future<void>> done;
    for (int k = 0; k < count(); ++k) done.push_back(workers[size_t(k)]->run([&task, k] { task(k); }));
    wait_all(done);
  }

  void build() {
    slices = cuda::partition_batch(net.batch(), count());
    replicas.clear();
    if (count() > 1) {
      const Shape in = net.input_shape();
      for (int k = 0; k < count(); ++k) {
        auto r = std::make_unique<Network>(make_replica(slices[size_t(k)].count, in.w, in.h));
        if (r->num_params() != net.num_params() || r->num_layers() != net.num_layers())
          fail("GpuTraining: the replica for GPU ", gpus[size_t(k)], " does not match the network");
        r->set_training(true);
        std::copy(net.param_data(), net.param_data() + net.num_params(), r->param_data());
        replicas.push_back(std::move(r));
      }
    }
    nets.clear();
    nets.resize(size_t(count()));
    on_each([this](int k) {
      nets[size_t(k)] = std::make_unique<CudaTrainingNetwork>(network_of(k), gpus[size_t(k)]);
    });
  }

  void release() {
    if (!nets.empty()) on_each([this](int k) { nets[size_t(k)].reset(); });
    nets.clear();
    replicas.clear();
  }
};

GpuTraining::GpuTraining(Network& net, std::vector<int> gpus, ReplicaFactory make_replica)
    : impl_(std::make_unique<Impl>(net, std::move(gpus), std::move(make_replica))) {
  Impl& m = *impl_;
  if (m.gpus.empty()) fail("GpuTraining: no GPU given");
  if (m.count() > 1 && !m.make_replica)
    fail("GpuTraining: several GPUs need a way to build replica networks");
#if defined(MISHNET_HAVE_CUDA)
  if (m.count() > 1) m.nccl = std::make_unique<cuda::NcclAllReduce>(m.gpus);
#endif
  for (int k = 0; k < m.count(); ++k) m.workers.push_back(std::make_unique<Worker>());
  try {
    m.build();
  } catch (...) {
    m.release();
    throw;
  }
}

GpuTraining::~GpuTraining() {
  try {
    impl_->release();
  } catch (...) {
    // A device error while freeing: nothing left to report it to.
  }
}

int GpuTraining::gpus() const { return impl_->count(); }

void GpuTraining::upload(Network& net, const Optimizer& opt) {
  Impl& m = *impl_;
  for (auto& r : m.replicas)
    std::copy(net.param_data(), net.param_data() + net.num_params(), r->param_data());
  m.on_each([&](int k) {
    m.nets[size_t(k)]->upload_parameters();
    m.nets[size_t(k)]->upload_optimizer(opt);
  });
}

void GpuTraining::download(Network& net, Optimizer& opt) {
  Impl& m = *impl_;
  // Every GPU holds the same parameters and optimizer state; GPU 0's rolling statistics.
  m.workers[0]->run([&] {
    m.nets[0]->download_parameters();
    m.nets[0]->download_optimizer(opt);
  }).get();
  if (!m.replicas.empty()) {
    const Network& r = *m.replicas[0];
    std::copy(r.param_data(), r.param_data() + r.num_params(), net.param_data());
    net.parameters_changed();
  }
}

void GpuTraining::zero_grads() {
  impl_->gradients_reduced = false;
  impl_->on_each([this](int k) { impl_->nets[size_t(k)]->zero_grads(); });
}

double GpuTraining::forward_backward(const float* images, const float* truth,
                                     std::mt19937_64& rng) {
  Impl& m = *impl_;
  if (m.count() == 1) {
    double loss = 0.0;
    m.workers[0]->run([&] { loss = m.nets[0]->forward_backward(images, truth, rng); }).get();
    return loss;
  }
  // Each GPU draws its dropout masks from its own generator, split from one draw of the
  // iteration's (so a run is reproducible for a GPU count, not equal to one GPU's masks).
  const uint64_t base = rng();
  const size_t per_image = m.net.input_shape().per_image();
  const size_t truth_per_image = m.net.truth_floats();
  std::vector<double> losses(size_t(m.count()), 0.0);
  m.on_each([&](int k) {
    const cuda::BatchSlice& s = m.slices[size_t(k)];
    std::mt19937_64 gpu_rng(derive_seed(base, uint64_t(k)));
    losses[size_t(k)] = m.nets[size_t(k)]->forward_backward(
        images + size_t(s.first) * per_image, truth + size_t(s.first) * truth_per_image, gpu_rng);
  });
  // The per-head figures `detector train` prints come from the host network's [yolo] layers:
  // the whole batch's, from the replicas'.
  for (int i = 0; i < m.net.num_layers(); ++i) {
    auto* head = dynamic_cast<YoloLayer*>(&m.net.layer(i));
    if (!head) continue;
    std::vector<YoloStats> parts;
    for (int k = 0; k < m.count(); ++k)
      parts.push_back(static_cast<const YoloLayer&>(m.network_of(k).layer(i)).last_stats());
    head->set_last_stats(combine_yolo_stats(parts));
  }
  double loss = 0.0;
  for (double l : losses) loss += l;
  return loss;
}

void GpuTraining::stage(const float* images, const float* /*truth*/) {
  Impl& m = *impl_;
  // On the calling thread (not the GPUs' workers, busy training): only copies are queued.
  const size_t per_image = m.net.input_shape().per_image();
  for (int k = 0; k < m.count(); ++k)
    m.nets[size_t(k)]->stage_input(images + size_t(m.slices[size_t(k)].first) * per_image);
}

void GpuTraining::update(const std::vector<ParamUpdate>& updates, bool adam) {
  Impl& m = *impl_;
  m.on_each([&](int k) {
    CudaTrainingNetwork& g = *m.nets[size_t(k)];
#if defined(MISHNET_HAVE_CUDA)
    m.guard_nccl([&] {
      // The gradient of the whole batch on every GPU (sums over images), then the same update.
      if (m.nccl && !m.gradients_reduced)
        m.nccl->all_reduce_sum(k, g.device_gradients(), g.num_params(), g.stream());
      g.apply(updates, adam);
    });
#else
    g.apply(updates, adam);
#endif
  });
  m.gradients_reduced = false;
}

GradientCheck GpuTraining::check_gradients() {
  Impl& m = *impl_;
  if (!m.nets[0]->mixed_precision()) return {};
  GradientCheck check;
  check.loss_scale = m.nets[0]->loss_scale();
  std::vector<char> overflow(size_t(m.count()), 0);
  m.on_each([&](int k) {
    CudaTrainingNetwork& g = *m.nets[size_t(k)];
#if defined(MISHNET_HAVE_CUDA)
    m.guard_nccl([&] {
      // The check after the sum: an overflow on one GPU reaches every GPU's sums.
      if (m.nccl) m.nccl->all_reduce_sum(k, g.device_gradients(), g.num_params(), g.stream());
      overflow[size_t(k)] = g.gradients_overflow() ? 1 : 0;
    });
#else
    overflow[size_t(k)] = g.gradients_overflow() ? 1 : 0;
#endif
  });
  m.gradients_reduced = true;
  // One decision for all GPUs, so their loss scalers stay equal.
  check.skip = std::any_of(overflow.begin(), overflow.end(), [](char o) { return o != 0; });
  m.on_each([&](int k) { m.nets[size_t(k)]->finish_gradient_check(check.skip); });
  check.next_loss_scale = m.nets[0]->loss_scale();
  return check;
}

LossScaleState GpuTraining::loss_scale_state() const {
  const Impl& m = *impl_;
  if (m.nets.empty() || !m.nets[0]->mixed_precision()) return {};
  // Every GPU records the same checks, so GPU 0's scaler is every GPU's.
  const LossScaler& s = m.nets[0]->loss_scaler();
  return {s.scale(), s.good_steps()};
}

void GpuTraining::restore_loss_scale(const LossScaleState& state) {
  Impl& m = *impl_;
  if (m.nets.empty() || !m.nets[0]->mixed_precision() || state.scale <= 0) return;
  LossScaler scaler = m.nets[0]->loss_scaler();
  scaler.restore(state.scale, state.good_steps);
  m.on_each([&](int k) { m.nets[size_t(k)]->set_loss_scaler(scaler); });
}

void GpuTraining::network_changed(Network& net) {
  Impl& m = *impl_;
  if (&net != &m.net) fail("GpuTraining: network_changed with another network");
  // The loss scale survives the rebuild (a fresh scaler would skip steps to find it again).
  const bool mixed = !m.nets.empty() && m.nets[0]->mixed_precision();
  const LossScaler scaler = mixed ? m.nets[0]->loss_scaler() : LossScaler();
  m.release();
  m.build();
  if (mixed) m.on_each([&](int k) { m.nets[size_t(k)]->set_loss_scaler(scaler); });
}

std::vector<int> check_training_gpus(const std::string& gpus_option) {
#if !defined(MISHNET_HAVE_CUDA)
  fail("-gpus ", gpus_option, ": this mishnet was built without CUDA (configure with "
       "-DMISHNET_CUDA=ON); leave out -gpus to train on the CPU");
#else
  const std::vector<int> gpus = cuda::parse_gpu_list(gpus_option);
  const cuda::DeviceQuery q = cuda::query_devices();
  if (q.devices.empty())
    fail("-gpus ", gpus_option, ": no CUDA device (", q.no_device_reason,
         "); leave out -gpus to train on the CPU");
  for (int g : gpus)
    if (g >= int(q.devices.size())) {
      std::string list;
      for (const auto& d : q.devices)
        list += (list.empty() ? "" : ", ") + std::to_string(d.index) + " (" + d.name + ")";
      fail("-gpus ", gpus_option, ": GPU ", g, " does not exist; this machine has ", list);
    }
  if (gpus.size() > 1 && !cuda::nccl_available())
    fail("-gpus ", gpus_option, ": training on several GPUs needs NCCL, and this mishnet was built "
         "without it; train on one GPU (-gpus ", gpus[0], ")");
  return gpus;
#endif
}

}  // namespace mishnet
