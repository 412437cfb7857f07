// mishnet init CFG OUT.weights [--seed N]: freshly initialised weights for any cfg.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "mishnet/weights.h"

namespace mishnet::cli {
namespace {

struct InitArgs {
  std::string cfg, out;
  uint64_t seed = 1;
  NetworkArgs net;
};

CommandRegistrar reg({"init"}, "Write freshly initialised .weights for a cfg", [](CLI::App& app) {
  auto a = std::make_shared<InitArgs>();
  app.add_option("cfg", a->cfg, "Network .cfg file")->required();
  app.add_option("out", a->out, "Output .weights file")->required();
  app.add_option("--seed", a->seed, "Random seed (default 1)");
  add_network_options(app, a->net);
  app.callback([a] {
    Network net = load_network(a->cfg, "", a->net);
    init_weights(net, a->seed);
    save_weights(net, a->out);
    std::printf("%s: %zu parameters, seed %llu\n", a->out.c_str(), net.num_params(),
                static_cast<unsigned long long>(a->seed));
  });
});

}  // namespace
}  // namespace mishnet::cli
