#include "cli/training_setup.h"

#include <cstdio>
#include <filesystem>
#include <random>
#include <utility>

#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/weights.h"
#include "core/device_training_plan.h"
#include "train/gpu_training.h"

namespace mishnet::cli {

TrainingSetup build_training_network(const std::string& cfg_path, const std::string& weights,
                                     const NetworkArgs& args, uint64_t seed, bool seed_given) {
  Cfg cfg = parse_cfg_file(cfg_path);
  NetConfig nc = NetConfig::parse(cfg.sections[0]);
  if (nc.subdivisions < 1 || nc.batch % nc.subdivisions != 0)
    fail(cfg_path, ": [net] batch (", nc.batch, ") is not divisible by subdivisions (", nc.subdivisions, ")");
  NetworkOptions o;
  o.lenient = args.lenient;
  o.batch = nc.batch / nc.subdivisions;
  o.width = args.width;
  o.height = args.height;
  o.backend = args.force_reference ? BackendKind::reference : BackendKind::cpu;
  Network net = Network::from_cfg(cfg, o);
  if (!seed_given) seed = std::random_device{}();
  if (!weights.empty()) {
    int loaded = load_weights(net, weights);
    std::printf("Loaded %d layers from %s\n", loaded, weights.c_str());
  } else {
    init_weights(net, seed);
  }
  net.set_training(true);
  return TrainingSetup{std::move(net), o, seed};
}

void add_training_device_options(CLI::App& app, TrainingDeviceArgs& args) {
  app.add_option("--gpus", args.gpus,
                 "GPUs to train on (Darknet's -gpus 0,1): data parallel, the batch split across "
                 "them (default: the CPU)");
  app.add_option_function<int>(
      "--gpu,-i", [&args](int n) { args.gpu = n; }, "Train on CUDA device N (as -gpus N)");
  app.add_flag("--cpu,--nogpu", args.cpu, "Train on the CPU (the default)");
}

std::vector<int> check_training_device(const TrainingDeviceArgs& args, bool reference) {
  if (args.gpus.empty() && !args.gpu) return {};
  const std::string list = args.gpu ? std::to_string(*args.gpu) : args.gpus;
  if (args.gpu && !args.gpus.empty())
    fail("-gpu ", *args.gpu, " and -gpus ", args.gpus, ": give one of them");
  if (args.gpu && *args.gpu < 0) fail("-gpu ", *args.gpu, ": not a GPU index");
  if (args.cpu) fail("-gpus ", list, " with -cpu: choose one");
  if (reference) fail("-gpus ", list, " with --reference: the reference ops run on the CPU only");
  return check_training_gpus(list);
}

GpuTraining::ReplicaFactory replica_factory(Cfg cfg, const NetworkOptions& options) {
  return [cfg = std::move(cfg), options](int batch, int width, int height) {
    NetworkOptions o = options;
    o.batch = batch;
    o.width = width;
    o.height = height;
    return Network::from_cfg(cfg, o);
  };
}

std::unique_ptr<TrainingDevice> make_training_device(TrainingSetup& setup,
                                                     const std::string& cfg_path,
                                                     const std::vector<int>& gpus) {
  if (gpus.empty()) return nullptr;
  std::string text;
  for (int g : gpus) text += (text.empty() ? "" : ",") + std::to_string(g);
  const DeviceTrainingFootprint f = device_training_footprint(setup.net);
  const double mib = 1024.0 * 1024.0;
  std::printf("Training on GPU%s %s (batch %d per mini-batch%s); on %s: %.0f MiB of outputs "
              "and gradients, %.0f MiB of parameters, gradients and optimizer state, plus the "
              "layers' own state and the cuDNN workspace\n",
              gpus.size() > 1 ? "s" : "", text.c_str(), setup.net.batch(),
              gpus.size() > 1 ? ", split across the GPUs; gradients all-reduced with NCCL" : "",
              gpus.size() > 1 ? "the GPUs together (the batch is split)" : "the GPU",
              double(f.activations) / mib, double(f.parameters * gpus.size()) / mib);
  std::fflush(stdout);
  auto device = std::make_unique<GpuTraining>(
      setup.net, gpus, replica_factory(parse_cfg_file(cfg_path), setup.options));
  return device;
}

TrainerOptions trainer_options_for(const DataFile& data, const std::string& cfg_path, uint64_t seed,
                                   int64_t max_batches) {
  TrainerOptions to;
  to.backup_dir = data.get_string("backup", "backup");
  std::filesystem::create_directories(to.backup_dir);
  to.name = std::filesystem::path(cfg_path).stem().string();
  to.seed = seed;
  to.max_batches = max_batches;
  return to;
}

}  // namespace mishnet::cli
