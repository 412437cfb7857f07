// mishnet summary CFG [-width W -height H]: the layer table and total BFLOPs.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"

namespace mishnet::cli {
namespace {

struct SummaryArgs {
  std::string cfg;
  NetworkArgs net;
};

void run_summary(const SummaryArgs& a) {
  Network net = load_network(a.cfg, "", a.net);
  std::printf("%5s %-10s %8s %10s   %-16s -> %-16s %9s\n", "layer", "type", "filters", "size/str",
              "input", "output", "BFLOPs");
  for (int i = 0; i < net.num_layers(); ++i) {
    const Layer& l = net.layer(i);
    auto shape = [](const Shape& s) {
      return std::to_string(s.w) + "x" + std::to_string(s.h) + "x" + std::to_string(s.c);
    };
    std::string in = shape(l.input_shape), out = shape(l.output_shape);
    std::printf("%5d %-10s %8s %10s   %-16s -> %-16s", i, l.type(), l.summary_filters().c_str(),
                l.summary_geometry().c_str(), in.c_str(), out.c_str());
    if (l.bflops() > 0) std::printf(" %9.3f", l.bflops());
    std::printf("\n");
  }
  std::printf("Total BFLOPS %.3f\n", net.bflops());
  size_t params = net.num_params();
  std::printf("Parameters %zu (%.1f MB as .weights)\n", params, double(params) * 4 / 1e6);
}

CommandRegistrar reg({"summary"}, "Print the layer table and total BFLOPs of a cfg",
                     [](CLI::App& app) {
                       auto a = std::make_shared<SummaryArgs>();
                       app.add_option("cfg", a->cfg, "Network .cfg file")->required();
                       add_network_options(app, a->net);
                       app.callback([a] { run_summary(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
