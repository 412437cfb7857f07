// Building a network from the command line's arguments.
#pragma once
#include <string>

#include "cli/command.h"
#include "mishnet/network.h"

namespace mishnet::cli {

// Loads the cfg (and weights, when a path is given) for inference: batch 1 unless given.
Network load_network(const std::string& cfg, const std::string& weights, const NetworkArgs& args,
                     int batch = 1);

}  // namespace mishnet::cli
