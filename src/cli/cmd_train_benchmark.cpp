// mishnet train-benchmark CFG [-width W -height H] [--batch N] [--iters N] [--warmup N] [--threads N]
//                          [-gpus 0,1 | -gpu N]
//
// Times whole training steps on random images and random truth (one-hot for classifiers, ten
// random boxes per image for [yolo] heads): zero the gradients,
// forward with batch statistics, backward from the cfg's loss layers, SGD/Adam update as the
// cfg's [net] says. No data loading, so the figure is the network's cost alone and can be
// compared with a framework timed the same way (bench/bench_training.py). Reports the median
// step, never the mean, and the process's peak resident memory. With -gpus the steps run on the
// GPUs as `classifier train -gpus` runs them (GpuTraining: the batch split across the GPUs).
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <memory>
#include <random>
#include <vector>

#include "cli/command.h"
#include "cli/training_setup.h"
#include "layers/detection_output.h"
#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"
#include "mishnet/weights.h"
#include "train/gpu_training.h"
#include "train/param_update.h"

namespace mishnet::cli {
namespace {

struct TrainBenchmarkArgs {
  std::string cfg;
  int batch = 8;
  int iters = 5;
  int warmup = 2;
  int threads = 0;
  bool layers = false;
  int optimized_memory = -1;
  NetworkArgs net;
  TrainingDeviceArgs device;
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// Classes of the network's [yolo] heads, or 0 when it has none.
int yolo_classes(const Network& net) {
  for (int l = 0; l < net.num_layers(); ++l)
    if (std::string(net.layer(l).type()) == "yolo")
      return static_cast<const DetectionOutputLayer&>(net.layer(l)).classes();
  return 0;
}

// Median forward and backward milliseconds per layer, then the totals per layer type: where a
// training step spends its time.
void print_layer_profile(const Network& net, const std::vector<std::vector<double>>& fwd_ms,
                         const std::vector<std::vector<double>>& bwd_ms) {
  std::printf("%5s %-14s %-18s %10s %10s %8s\n", "layer", "type", "output", "fwd ms", "bwd ms",
              "GFLOP/s");
  std::map<std::string, std::pair<double, double>> by_type;
  double total_f = 0, total_b = 0;
  for (int l = 0; l < net.num_layers(); ++l) {
    const Layer& layer = net.layer(l);
    const double f = median_of(fwd_ms[size_t(l)]), b = median_of(bwd_ms[size_t(l)]);
    const Shape s = layer.output_shape;
    // Forward + backward-data + backward-weights: about three times the forward FLOPs.
    const double flops = 3.0 * layer.bflops() * net.input_shape().n;
    std::string shape = std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
    std::printf("%5d %-14s %-18s %10.2f %10.2f %8.1f\n", l, layer.type(), shape.c_str(), f, b,
                f + b > 0 ? flops / ((f + b) * 1e-3) : 0.0);
    by_type[layer.type()].first += f;
    by_type[layer.type()].second += b;
    total_f += f;
    total_b += b;
  }
  std::printf("by type:\n");
  for (auto& [type, fb] : by_type)
    std::printf("  %-14s fwd %9.1f ms  bwd %9.1f ms\n", type.c_str(), fb.first, fb.second);
  std::printf("  %-14s fwd %9.1f ms  bwd %9.1f ms\n", "all layers", total_f, total_b);
}

void run_train_benchmark(const TrainBenchmarkArgs& a) {
  if (a.batch < 1) fail("--batch must be at least 1");
  if (a.iters < 1) fail("--iters must be at least 1");
  if (a.warmup < 0) fail("--warmup must not be negative");
  if (a.threads < 0) fail("--threads must not be negative");
  if (a.threads > 0) omp_set_num_threads(a.threads);
  // Checked before anything is built: a missing GPU is a one-line error, never a CPU run.
  const std::vector<int> gpus = check_training_device(a.device, a.net.force_reference);
  if (!gpus.empty() && a.layers)
    fail("--layers with -gpus: the per-layer profile times the CPU path only");

  NetworkOptions o;
  o.lenient = a.net.lenient;
  o.batch = a.batch;
  o.width = a.net.width;
  o.height = a.net.height;
  o.optimized_memory = a.optimized_memory;
  o.backend = a.net.force_reference ? BackendKind::reference : BackendKind::cpu;
  const Cfg cfg = parse_cfg_file(a.cfg);
  Network net = Network::from_cfg(cfg, o);
  if (net.config().mixed_precision && gpus.empty())
    std::cerr << a.cfg
              << ": note: [net] mixed_precision=1 applies to GPU training only; the CPU ignores "
                 "it\n";
  init_weights(net, 1);
  net.set_training(true);
  Optimizer optimizer(net);
  std::unique_ptr<GpuTraining> device;
  if (!gpus.empty()) {
    device = std::make_unique<GpuTraining>(net, gpus, replica_factory(cfg, o));
    device->upload(net, optimizer);
  }

  const Shape in = net.input_shape();
  const size_t truth_per_image = net.truth_floats();
  if (truth_per_image == 0) fail(a.cfg, ": the network has no loss layer to train against");
  std::vector<float> input(in.size());
  std::vector<float> truth(truth_per_image * size_t(in.n), 0.0f);
  std::mt19937_64 data_rng(1);
  for (float& v : input) v = float(data_rng() >> 40) * (1.0f / 16777216.0f);
  const int detection_classes = yolo_classes(net);
  if (detection_classes > 0) {
    // [yolo] heads: ten random boxes per image in Darknet's truth layout (x, y, w, h, class),
    // so that the loss assigns anchors and computes box, objectness and class terms.
    for (int b = 0; b < in.n; ++b)
      for (size_t k = 0; k < 10 && (k + 1) * 5 <= truth_per_image; ++k) {
        float* box = truth.data() + size_t(b) * truth_per_image + k * 5;
        auto uniform = [&](float lo, float hi) {
          return lo + (hi - lo) * float(data_rng() >> 40) * (1.0f / 16777216.0f);
        };
        box[0] = uniform(0.1f, 0.9f);
        box[1] = uniform(0.1f, 0.9f);
        box[2] = uniform(0.05f, 0.4f);
        box[3] = uniform(0.05f, 0.4f);
        box[4] = float(data_rng() % uint64_t(detection_classes));
      }
  } else {
    // One-hot per image: right for softmax/cost heads.
    for (int b = 0; b < in.n; ++b) truth[size_t(b) * truth_per_image + data_rng() % truth_per_image] = 1.0f;
  }

  // A small fixed rate: the benchmark must not diverge into NaNs/denormals over its steps.
  const float lr = 1e-4f;
  std::mt19937_64 rng(2);
  float loss = 0;
  auto step = [&] {
    auto t0 = std::chrono::steady_clock::now();
    if (device)
      device->zero_grads();
    else
      net.zero_grads();
    auto t1 = std::chrono::steady_clock::now();
    loss = device ? float(device->forward_backward(input.data(), truth.data(), rng))
                  : net.forward_backward(input.data(), truth.data(), rng);
    auto t2 = std::chrono::steady_clock::now();
    // The device's forward_backward and update return after their streams finish.
    if (device)
      device->update(plan_update(optimizer, net, lr, in.n), net.config().adam);
    else
      optimizer.step(net, lr, in.n);
    auto t3 = std::chrono::steady_clock::now();
    if (a.layers)
      std::printf("zero %.1f ms, forward+backward %.1f ms, update %.1f ms\n",
                  std::chrono::duration<double, std::milli>(t1 - t0).count(),
                  std::chrono::duration<double, std::milli>(t2 - t1).count(),
                  std::chrono::duration<double, std::milli>(t3 - t2).count());
  };

  std::string where = std::string(backend_name(net.backend())) + " backend";
  if (device) {
    where = "GPU";
    for (size_t k = 0; k < gpus.size(); ++k) where += (k ? "," : " ") + std::to_string(gpus[k]);
  }
  std::printf("%s: input %dx%dx%d, batch %d, %d threads, %s, %.3f BFLOPs forward per image, %zu params\n",
              a.cfg.c_str(), in.w, in.h, in.c, in.n, omp_get_max_threads(), where.c_str(),
              net.bflops(), net.num_params());
  std::printf("step: zero grads, forward (batch statistics), backward, %s update; %d warm-up then %d timed\n",
              optimizer.second.empty() ? "SGD" : "Adam", a.warmup, a.iters);
  for (int i = 0; i < a.warmup; ++i) step();
  net.set_profiling(a.layers);
  std::vector<double> secs;
  const int n = net.num_layers();
  std::vector<std::vector<double>> fwd_ms(static_cast<size_t>(n)), bwd_ms(static_cast<size_t>(n));
  for (int i = 0; i < a.iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step();
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (a.layers)
      for (int l = 0; l < n; ++l) {
        fwd_ms[size_t(l)].push_back(net.layer_times_ms()[size_t(l)]);
        bwd_ms[size_t(l)].push_back(net.layer_backward_times_ms()[size_t(l)]);
      }
    std::printf("step %d: %.3f s, loss %.4f\n", i + 1, secs.back(), double(loss));
    std::fflush(stdout);
  }
  auto [mn, mx] = std::minmax_element(secs.begin(), secs.end());
  if (a.layers) print_layer_profile(net, fwd_ms, bwd_ms);
  std::printf("median %.3f s per iteration (min %.3f, max %.3f)\n", median_of(secs), *mn, *mx);
  std::printf("peak RSS %.0f MiB\n", peak_rss_mib());
}

CommandRegistrar reg({"train-benchmark"}, "Time training steps (forward, backward, update; median)",
                     [](CLI::App& app) {
                       auto a = std::make_shared<TrainBenchmarkArgs>();
                       app.add_option("cfg", a->cfg, "Network .cfg file (needs a loss layer)")->required();
                       app.add_option("--batch", a->batch, "Images per step (default 8)");
                       app.add_option("--iters", a->iters, "Timed steps (default 5)");
                       app.add_option("--warmup", a->warmup, "Untimed steps first (default 2)");
                       app.add_option("--threads", a->threads, "OpenMP threads (default: OMP_NUM_THREADS)");
                       app.add_flag("--layers", a->layers, "Per-layer forward/backward profile (medians)");
                       app.add_option("--optimized_memory", a->optimized_memory,
                                      "Override [net] optimized_memory (1: rebuild Mish/Swish outputs in backward too)");
                       add_network_options(app, a->net);
                       add_training_device_options(app, a->device);
                       app.callback([a] { run_train_benchmark(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
