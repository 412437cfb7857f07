#include "cli/network_loading.h"

#include <iostream>

#include "core/backend_choice.h"
#include "mishnet/weights.h"

namespace mishnet::cli {

Network load_network(const std::string& cfg, const std::string& weights, const NetworkArgs& args,
                     int batch) {
  NetworkOptions o;
  o.lenient = args.lenient;
  o.width = args.width;
  o.height = args.height;
  o.batch = batch;
  o.blocked_layout = !args.plain_layout;
  o.backend = args.force_reference ? BackendKind::reference : BackendKind::cpu;
  if (args.choose_device) {
    static const DeviceSituation machine = current_device_situation();
    const BackendChoice c =
        choose_backend(DeviceRequest{args.gpu, args.cpu, args.force_reference}, machine);
    o.backend = c.backend;
    o.device = c.device;
    // Once per process: demos and evaluations may load more than one network.
    static bool said = false;
    if (!said && !c.message.empty()) std::cerr << c.message << '\n';
    said = true;
  }
  Network net = Network::from_cfg_file(cfg, o);
  if (!weights.empty()) load_weights(net, weights);
  return net;
}

}  // namespace mishnet::cli
