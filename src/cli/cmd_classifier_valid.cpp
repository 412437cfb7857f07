// mishnet classifier valid DATA CFG WEIGHTS: top-1 and top-k on the valid list.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "mishnet/classification_data.h"
#include "mishnet/classifier_eval.h"
#include "mishnet/data_file.h"

namespace mishnet::cli {
namespace {

struct ValidArgs {
  std::string data, cfg, weights;
  int batch = 100;
  NetworkArgs net;
};

void run_valid(const ValidArgs& a) {
  DataFile data = DataFile::parse_file(a.data);
  ClassificationList list = read_classification_list(data, "valid");
  Network net = load_network(a.cfg, a.weights, a.net, a.batch);
  int k = data.get_int("top", 5);
  ClassifierScore s = evaluate_classifier(net, list, k, [&](size_t done) {
    if (done % 1000 < size_t(a.batch) || done == list.images.size()) {
      std::fprintf(stderr, "\r%zu/%zu images", done, list.images.size());
      if (done == list.images.size()) std::fprintf(stderr, "\n");
    }
  });
  std::printf("%zu images: top-1 %.2f%%, top-%d %.2f%%\n", s.images, s.top1() * 100.0, k,
              s.topk() * 100.0);
}

CommandRegistrar reg({"classifier", "valid"}, "Top-1 and top-k accuracy on the valid list",
                     [](CLI::App& app) {
                       auto a = std::make_shared<ValidArgs>();
                       app.add_option("data", a->data, ".data file (valid, labels, top)")->required();
                       app.add_option("cfg", a->cfg, "Network .cfg file")->required();
                       app.add_option("weights", a->weights, "Trained .weights")->required();
                       app.add_option("--batch", a->batch, "Images per forward pass (default 100)");
                       add_network_options(app, a->net);
                       add_device_options(app, a->net);
                       app.callback([a] { run_valid(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
