// Subcommands of the `mishnet` program register themselves, one file each:
//   static CommandRegistrar reg({"detector", "test"}, "Detect objects in images", setup_fn);
// setup_fn adds options to the given CLI11 app and sets its callback. Errors are thrown as
// mishnet::Error; main() prints them and exits non-zero.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mishnet::cli {

struct CommandSpec {
  std::vector<std::string> path;  // {"detector", "test"}
  std::string description;
  std::function<void(CLI::App&)> setup;
};

std::vector<CommandSpec>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::vector<std::string> path, std::string description,
                   std::function<void(CLI::App&)> setup) {
    command_registry().push_back({std::move(path), std::move(description), std::move(setup)});
  }
};

// Options shared by commands that load a network.
struct NetworkArgs {
  bool lenient = false;
  int width = 0, height = 0;
  bool force_reference = false;
  bool plain_layout = false;  // every tensor NCHW between layers (NetworkOptions::blocked_layout)
  // Inference commands only (add_device_options): -gpu N / -cpu, see core/backend_choice.h.
  bool choose_device = false;
  std::optional<int> gpu;
  bool cpu = false;
};
void add_network_options(CLI::App& app, NetworkArgs& args);
// -gpu N (Darknet's -i N) and -cpu (Darknet's -nogpu): where an inference command runs.
void add_device_options(CLI::App& app, NetworkArgs& args);

}  // namespace mishnet::cli
