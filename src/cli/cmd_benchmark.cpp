// mishnet benchmark CFG [WEIGHTS] [-width W -height H] [-batch N] [-iters N] [-threads N] [--layers]
//
// Times forward passes on a random input: warm-up first (primitive creation, caches), then N
// timed passes; reports the median, never the mean, so one slow pass does not move the result.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "mishnet/error.h"
#include "mishnet/weights.h"

namespace mishnet::cli {
namespace {

struct BenchmarkArgs {
  std::string cfg, weights;
  int batch = 1;
  int iters = 10;
  int warmup = 3;
  int threads = 0;
  bool layers = false;
  NetworkArgs net;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string shape_text(const Shape& s) {
  return std::to_string(s.w) + "x" + std::to_string(s.h) + "x" + std::to_string(s.c);
}

void print_layer_table(const Network& net, const std::vector<std::vector<double>>& times, int batch) {
  struct Row {
    int index;
    double ms;
  };
  std::vector<Row> rows;
  double total = 0;
  for (int i = 0; i < net.num_layers(); ++i) {
    rows.push_back({i, median(times[size_t(i)])});
    total += rows.back().ms;
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.ms > b.ms; });
  std::printf("\nper layer, slowest first (median of the timed passes, whole batch):\n");
  std::printf("%5s %-16s %-14s %9s %10s %9s %7s\n", "layer", "type", "output", "BFLOPs", "ms", "GFLOP/s",
              "share");
  for (const Row& r : rows) {
    const Layer& l = net.layer(r.index);
    double gflops = l.bflops() * batch;
    std::printf("%5d %-16s %-14s %9.3f %10.3f", r.index, l.type(), shape_text(l.output_shape).c_str(),
                l.bflops(), r.ms);
    if (gflops > 0 && r.ms > 0) std::printf(" %9.1f", gflops / (r.ms / 1000.0));
    else std::printf(" %9s", "-");
    std::printf(" %6.1f%%\n", total > 0 ? 100.0 * r.ms / total : 0.0);
  }
  std::printf("sum of layers %.3f ms\n", total);
  std::printf("slowest:");
  for (size_t k = 0; k < std::min<size_t>(3, rows.size()); ++k)
    std::printf("%s layer %d (%s, %.3f ms, %.1f%%)", k ? "," : "", rows[k].index, net.layer(rows[k].index).type(),
                rows[k].ms, total > 0 ? 100.0 * rows[k].ms / total : 0.0);
  std::printf("\n");
}

void run_benchmark(const BenchmarkArgs& a) {
  if (a.batch < 1) fail("--batch must be at least 1");
  if (a.iters < 1) fail("--iters must be at least 1");
  if (a.warmup < 0) fail("--warmup must not be negative");
  if (a.threads < 0) fail("--threads must not be negative");
  if (a.threads > 0) omp_set_num_threads(a.threads);

  Network net = load_network(a.cfg, a.weights, a.net, a.batch);
  if (a.weights.empty()) init_weights(net, 1);
  net.set_profiling(a.layers);

  const Shape in = net.input_shape();
  std::vector<float> input(in.size());
  std::mt19937_64 rng(1);
  for (float& v : input) v = float(rng() >> 40) * (1.0f / 16777216.0f);

  const std::string backend = net.backend() == BackendKind::cuda
                                  ? "cuda (GPU " + std::to_string(net.device()) + ")"
                                  : backend_name(net.backend());
  std::printf("%s: input %s, batch %d, %d threads, %s backend, %.3f BFLOPs per image\n", a.cfg.c_str(),
              shape_text(in).c_str(), in.n, omp_get_max_threads(), backend.c_str(), net.bflops());
  std::printf("weights: %s; %d warm-up then %d timed forward passes\n",
              a.weights.empty() ? "random (init seed 1)" : a.weights.c_str(), a.warmup, a.iters);

  for (int i = 0; i < a.warmup; ++i) net.forward(input.data());
  std::vector<double> pass_ms;
  std::vector<std::vector<double>> layer_ms(size_t(net.num_layers()));
  for (int i = 0; i < a.iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    net.forward(input.data());
    pass_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (a.layers)
      for (int l = 0; l < net.num_layers(); ++l) layer_ms[size_t(l)].push_back(net.layer_times_ms()[size_t(l)]);
  }

  const double batch_ms = median(pass_ms);
  const double per_image_ms = batch_ms / in.n;
  auto [min_it, max_it] = std::minmax_element(pass_ms.begin(), pass_ms.end());
  std::printf("median %.3f ms per image (batch of %d: median %.3f ms, min %.3f, max %.3f)\n", per_image_ms, in.n,
              batch_ms, *min_it, *max_it);
  std::printf("%.2f images/s\n", per_image_ms > 0 ? 1000.0 / per_image_ms : 0.0);
  std::printf("%.1f GFLOP/s\n", batch_ms > 0 ? net.bflops() * in.n / (batch_ms / 1000.0) : 0.0);
  if (a.layers) print_layer_table(net, layer_ms, in.n);
}

CommandRegistrar reg({"benchmark"}, "Time forward passes (median), optionally per layer", [](CLI::App& app) {
  auto a = std::make_shared<BenchmarkArgs>();
  app.add_option("cfg", a->cfg, "Network .cfg file")->required();
  app.add_option("weights", a->weights, "Network .weights file (default: random weights, seed 1)");
  app.add_option("--batch", a->batch, "Images per forward pass (default 1)");
  app.add_option("--iters", a->iters, "Timed forward passes (default 10)");
  app.add_option("--warmup", a->warmup, "Untimed forward passes first (default 3)");
  app.add_option("--threads", a->threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)");
  app.add_flag("--layers", a->layers, "Also time each layer: sorted table and the 3 slowest");
  add_network_options(app, a->net);
  add_device_options(app, a->net);
  app.callback([a] { run_benchmark(*a); });
});

}  // namespace
}  // namespace mishnet::cli
