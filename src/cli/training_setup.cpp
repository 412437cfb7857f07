#include "cli/training_setup.h"

#include <cstdio>
#include <filesystem>
#include <random>

#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/weights.h"

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
  app.add_option("--gpus", args.gpus, "GPUs to train on (Darknet's -gpus 0,1): not yet, training runs on the CPU");
  app.add_flag("--cpu,--nogpu", args.cpu, "Train on the CPU (the only place training runs so far)");
}

void check_training_device(const TrainingDeviceArgs& args) {
  if (!args.gpus.empty())
    fail("-gpus ", args.gpus, ": training on GPUs is not implemented yet (the CUDA backend runs "
         "inference only, docs/gpu.md); leave out -gpus to train on the CPU");
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
