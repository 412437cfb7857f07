// The `mishnet` command: Darknet-style subcommands (`mishnet detector test ...`).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>

#include "cli/command.h"
#include "mishnet/error.h"

namespace mishnet::cli {

std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}

void add_network_options(CLI::App& app, NetworkArgs& args) {
  app.add_flag("--lenient", args.lenient, "Unknown, unused or duplicate cfg keys are warnings");
  app.add_option("--width", args.width, "Override the network input width");
  app.add_option("--height", args.height, "Override the network input height");
  app.add_flag("--reference", args.force_reference,
               "Run the plain reference ops instead of oneDNN (slow; for checking)");
  app.add_flag("--plain-layout", args.plain_layout,
               "Keep every tensor NCHW between layers instead of oneDNN's nChw16c where layers "
               "can (CPU inference; for comparisons)");
}

void add_device_options(CLI::App& app, NetworkArgs& args) {
  args.choose_device = true;
  app.add_option_function<int>(
      "--gpu,-i", [&args](int n) { args.gpu = n; },
      "Run on CUDA device N (default: GPU 0 in a CUDA build with a device, else the CPU)");
  app.add_flag("--cpu,--nogpu", args.cpu, "Run on the CPU even when a CUDA device exists");
}

}  // namespace mishnet::cli

namespace {

// Darknet spells long options with one dash (-thresh 0.25); CLI11 wants two. Rewrite
// "-word" to "--word" unless it is a one-letter flag or a negative number.
std::vector<std::string> darknet_style_args(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool single_dash_word = a.size() > 2 && a[0] == '-' && a[1] != '-' &&
                            !(std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.');
    args.push_back(single_dash_word ? "-" + a : a);
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mishnet::cli;
  CLI::App app{"mishnet: train and run Darknet-style convolutional networks (cfg + weights)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mishnet ") + MISHNET_VERSION);

  std::map<std::string, CLI::App*> groups;
  for (auto& spec : command_registry()) {
    CLI::App* parent = &app;
    std::string key;
    for (size_t i = 0; i + 1 < spec.path.size(); ++i) {
      key += spec.path[i] + " ";
      auto it = groups.find(key);
      if (it == groups.end()) {
        CLI::App* g = parent->add_subcommand(spec.path[i], spec.path[i] + " commands");
        g->require_subcommand(1);
        it = groups.emplace(key, g).first;
      }
      parent = it->second;
    }
    CLI::App* cmd = parent->add_subcommand(spec.path.back(), spec.description);
    spec.setup(*cmd);
  }

  std::vector<std::string> args = darknet_style_args(argc, argv);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mishnet::Error& e) {
    std::cerr << "mishnet: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mishnet: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
