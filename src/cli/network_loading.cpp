#include "cli/network_loading.h"

#include "mishnet/weights.h"

namespace mishnet::cli {

Network load_network(const std::string& cfg, const std::string& weights, const NetworkArgs& args,
                     int batch) {
  NetworkOptions o;
  o.lenient = args.lenient;
  o.width = args.width;
  o.height = args.height;
  o.batch = batch;
  o.backend = args.force_reference ? BackendKind::reference : BackendKind::cpu;
  Network net = Network::from_cfg_file(cfg, o);
  if (!weights.empty()) load_weights(net, weights);
  return net;
}

}  // namespace mishnet::cli
