// mishnet classifier predict DATA CFG WEIGHTS [IMAGE...] [-top N]
//
// Darknet's classifier predict: the shorter side resized to the network width, the centre crop,
// one forward pass, then the top classes as "NN.NN%: name". With no IMAGE, paths are read from
// standard input, one per line.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "mishnet/data_file.h"
#include "mishnet/error.h"
#include "mishnet/image.h"

namespace mishnet::cli {
namespace {

struct PredictArgs {
  std::string data, cfg, weights;
  std::vector<std::string> images;
  int top = 0;
  NetworkArgs net;
};

// Indices of the k largest scores, ties to the lower index (as Darknet's top_k).
std::vector<int> top_k(const float* scores, int n, int k) {
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  k = std::min(k, n);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  order.resize(size_t(k));
  return order;
}

void run_predict(const PredictArgs& a) {
  DataFile data = DataFile::parse_file(a.data);
  std::vector<std::string> names = data.class_names();
  Network net = load_network(a.cfg, a.weights, a.net);
  const Shape in = net.input_shape();
  const int outputs = int(net.layer(net.num_layers() - 1).output_shape.per_image());
  if (const DataFile::Option* classes = data.find("classes"); classes && data.get_int("classes", 0) != outputs)
    fail_at(a.data, classes->line, "classes=", classes->value, " but the last layer of ", a.cfg, " has ",
            outputs, " outputs");
  if (int(names.size()) < outputs)
    fail(data.existing_file(data.has("names") ? "names" : "labels"), ": has ", names.size(),
         " names but the network has ", outputs, " outputs");
  int top = a.top > 0 ? a.top : data.get_int("top", 1);
  top = std::min(top, outputs);

  auto predict = [&](const std::string& path) {
    Image im = load_image(path, in.c);
    Image crop = centre_crop_image(im, in.w, in.h);
    auto t0 = std::chrono::steady_clock::now();
    Tensor out = net.forward(crop.data.data());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: Predicted in %f milli-seconds.\n", path.c_str(), ms);
    for (int index : top_k(out.data, outputs, top))
      std::printf("%5.2f%%: %s\n", double(out.data[index]) * 100.0, names[size_t(index)].c_str());
    std::fflush(stdout);
  };

  if (!a.images.empty()) {
    for (const std::string& path : a.images) predict(path);
    return;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) predict(line);
  }
}

CommandRegistrar reg({"classifier", "predict"}, "Classify images: top classes with their scores",
                     [](CLI::App& app) {
                       auto a = std::make_shared<PredictArgs>();
                       app.add_option("data", a->data, ".data file (names or labels, top, classes)")->required();
                       app.add_option("cfg", a->cfg, "Network .cfg file")->required();
                       app.add_option("weights", a->weights, "Network .weights file")->required();
                       app.add_option("images", a->images, "Images to classify (default: paths from stdin)");
                       app.add_option("-t,--top", a->top, "How many classes to print (default: top= in .data, else 1)");
                       add_network_options(app, a->net);
                       add_device_options(app, a->net);
                       app.callback([a] { run_predict(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
