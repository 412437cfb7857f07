// mishnet forward CFG WEIGHTS (--input IMAGE | --random SEED) [--layers 29,36] --save-outputs DIR
//
// Runs one forward pass and writes the input and chosen layer outputs as .npy files, so they can
// be compared with another framework (OpenCV DNN, PyTorch) on the same cfg and weights.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "mishnet/error.h"
#include "mishnet/image.h"
#include "mishnet/npy.h"

namespace mishnet::cli {
namespace {

struct ForwardArgs {
  std::string cfg, weights, input, out_dir;
  uint64_t seed = 0;
  bool random = false;
  std::vector<int> layers;
  NetworkArgs net;
};

void run_forward(const ForwardArgs& a) {
  if (a.input.empty() == !a.random) fail("give exactly one of --input IMAGE or --random SEED");
  Network net = load_network(a.cfg, a.weights, a.net);
  const Shape in_shape = net.input_shape();

  std::vector<int> layers;
  if (a.layers.empty()) {
    for (int i = 0; i < net.num_layers(); ++i) layers.push_back(i);
  } else {
    for (int l : a.layers) {
      int i = l < 0 ? net.num_layers() + l : l;  // -1 is the last layer
      if (i < 0 || i >= net.num_layers())
        fail("--layers: layer ", l, " does not exist: ", a.cfg, " has layers 0..", net.num_layers() - 1);
      layers.push_back(i);
    }
  }
  net.keep_outputs(layers);

  std::vector<float> input(in_shape.size());
  std::string source;
  if (a.random) {
    // Uniform in [0,1) from the top 24 bits of mt19937_64: the same values on every platform.
    std::mt19937_64 rng(a.seed);
    for (float& v : input) v = float(rng() >> 40) * (1.0f / 16777216.0f);
    source = "random seed " + std::to_string(a.seed);
  } else {
    Image im = load_image(a.input, in_shape.c);
    Image fitted = fit_image_to_network(im, in_shape.w, in_shape.h, net.config().letter_box != 0);
    for (int b = 0; b < in_shape.n; ++b)
      std::copy(fitted.data.begin(), fitted.data.end(), input.begin() + ptrdiff_t(size_t(b) * in_shape.per_image()));
    source = a.input + " (" + std::to_string(im.w) + "x" + std::to_string(im.h);
    if (im.w == in_shape.w && im.h == in_shape.h) source += ", used as is)";
    else source += net.config().letter_box ? ", letterboxed)" : ", resized)";
  }

  net.forward(input.data());

  std::filesystem::create_directories(a.out_dir);
  auto dims = [](const Shape& s) {
    return std::vector<size_t>{size_t(s.n), size_t(s.c), size_t(s.h), size_t(s.w)};
  };
  std::string input_path = (std::filesystem::path(a.out_dir) / "input.npy").string();
  save_npy(input_path, input.data(), dims(in_shape));
  std::printf("input %dx%dx%d from %s -> %s\n", in_shape.w, in_shape.h, in_shape.c, source.c_str(),
              input_path.c_str());
  for (int i : layers) {
    Tensor t = net.output(i);
    std::string path = (std::filesystem::path(a.out_dir) / ("layer_" + std::to_string(i) + ".npy")).string();
    save_npy(path, t.data, dims(t.shape));
    std::printf("layer %3d %-14s %dx%dx%d -> %s\n", i, net.layer(i).type(), t.shape.w, t.shape.h, t.shape.c,
                path.c_str());
  }
}

CommandRegistrar reg({"forward"}, "Run one forward pass and save layer outputs as .npy", [](CLI::App& app) {
  auto a = std::make_shared<ForwardArgs>();
  app.add_option("cfg", a->cfg, "Network .cfg file")->required();
  app.add_option("weights", a->weights, "Network .weights file")->required();
  auto* input = app.add_option("--input", a->input, "Input image (resized or letterboxed to the network)");
  auto* random = app.add_option("--random", a->seed, "Uniform [0,1) input from this seed");
  input->excludes(random);
  app.add_option("--layers", a->layers, "Layers to save, comma separated; negative counts from the end (default: all)")
      ->delimiter(',');
  app.add_option("--save-outputs", a->out_dir, "Directory for input.npy and layer_<index>.npy")->required();
  add_network_options(app, a->net);
  add_device_options(app, a->net);
  app.callback([a, random] {
    a->random = random->count() > 0;
    run_forward(*a);
  });
});

}  // namespace
}  // namespace mishnet::cli
