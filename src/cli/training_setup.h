// What `classifier train` and `detector train` do before their loop: the training network
// (batch = [net] batch / subdivisions), weights loaded or freshly initialised from the seed, and
// the Trainer options (backup directory, checkpoint names).
#pragma once
#include <cstdint>
#include <string>

#include "cli/command.h"
#include "mishnet/data_file.h"
#include "mishnet/network.h"
#include "mishnet/trainer.h"

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

// Darknet's -gpus 0,1,... and -cpu on the training commands. Training runs on the CPU only (the
// CUDA backend runs inference, docs/gpu.md): -gpus is an error that says so, not ignored.
struct TrainingDeviceArgs {
  std::string gpus;
  bool cpu = false;
};
void add_training_device_options(CLI::App& app, TrainingDeviceArgs& args);
void check_training_device(const TrainingDeviceArgs& args);

// backup_dir from the .data `backup` (created), name from the cfg's file stem.
TrainerOptions trainer_options_for(const DataFile& data, const std::string& cfg_path, uint64_t seed,
                                   int64_t max_batches);

}  // namespace mishnet::cli
