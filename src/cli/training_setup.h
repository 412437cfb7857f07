// What `classifier train` and `detector train` do before their loop: the training network
// (batch = [net] batch / subdivisions), weights loaded or freshly initialised from the seed, and
// the Trainer options (backup directory, checkpoint names).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "mishnet/data_file.h"
#include "mishnet/network.h"
#include "mishnet/trainer.h"
#include "train/gpu_training.h"

namespace mishnet::cli {

struct TrainingSetup {
  Network net;
  NetworkOptions options;  // as built (for inference copies: change batch)
  uint64_t seed = 0;       // the run's seed (given, or drawn and printed by the caller)
};

// `seed_given` false draws a random seed. With `weights` empty the network is initialised from
// the seed; else the weights are loaded (a "Loaded N layers" line is printed).
TrainingSetup build_training_network(const std::string& cfg_path, const std::string& weights,
                                     const NetworkArgs& args, uint64_t seed, bool seed_given);

// Darknet's -gpus 0,1,... (and -gpu N, one GPU) and -cpu on the training commands. Without them
// training runs on the CPU; with them on the listed GPUs (docs/gpu.md, "Training on the GPU"),
// or the command fails with the reason (built without CUDA, no device, no such device, several
// GPUs without NCCL): never a silent fallback to the CPU.
struct TrainingDeviceArgs {
  std::string gpus;
  std::optional<int> gpu;
  bool cpu = false;
};
void add_training_device_options(CLI::App& app, TrainingDeviceArgs& args);
// The GPUs to train on (empty: the CPU). Checks the options against each other and the
// machine before anything is read; throws with the reason.
std::vector<int> check_training_device(const TrainingDeviceArgs& args, bool reference = false);
// How GpuTraining builds a GPU's replica: `cfg` with `options` at the replica's batch and size.
GpuTraining::ReplicaFactory replica_factory(Cfg cfg, const NetworkOptions& options);
// The Trainer's device for `gpus` (null when empty): replicas for several GPUs are built from
// `cfg_path` with setup.options. Prints where training runs.
std::unique_ptr<TrainingDevice> make_training_device(TrainingSetup& setup,
                                                     const std::string& cfg_path,
                                                     const std::vector<int>& gpus);

// backup_dir from the .data `backup` (created), name from the cfg's file stem.
TrainerOptions trainer_options_for(const DataFile& data, const std::string& cfg_path, uint64_t seed,
                                   int64_t max_batches);

}  // namespace mishnet::cli
