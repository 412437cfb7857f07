#include "parity/parity_util.h"

#if MISHNET_HAVE_OPENCV
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "mishnet/error.h"
#include "mishnet/weights.h"

namespace mishnet::test {
namespace {

// The activation layers OpenCV 4.6 appends after a Darknet section (darknet_io.cpp's
// setActivation); their index suffix is one past the section's own.
bool is_opencv_activation(const std::string& kind) {
  static const std::set<std::string> kinds = {"leaky", "relu", "tanh", "swish", "mish",
                                              "logistic"};
  return kinds.count(kind) > 0;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// init_weights leaves batch norm as the identity (scale 1, mean 0, variance 1, bias 0), which
// would let a wrong fold (or a wrong parameter order) pass unnoticed. Random statistics make
// each of the four blocks matter.
void randomise_batchnorm_and_biases(Network& net, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> scale(0.5f, 1.5f), mean(-0.2f, 0.2f),
      variance(0.5f, 2.0f), bias(-0.2f, 0.2f);
  auto fill = [&](Param* p, std::uniform_real_distribution<float>& d) {
    if (!p) return;
    for (size_t k = 0; k < p->count; ++k) p->data[k] = d(rng);
  };
  for (int i = 0; i < net.num_layers(); ++i) {
    Layer& l = net.layer(i);
    fill(l.find_param("scales"), scale);
    fill(l.find_param("rolling_mean"), mean);
    fill(l.find_param("rolling_variance"), variance);
    fill(l.find_param("biases"), bias);
  }
}

// With He-initialised weights and batch-norm statistics that do not normalise, every [shortcut]
// roughly doubles the variance, so after the 23 residual blocks of a Darknet-53 backbone the
// activations reach 1e4..1e5 and a logistic head saturates, which blunts the comparison. As in
// Fixup initialisation, the residual branch (the layer just before a [shortcut]) gets small
// weights; activations then stay of order 1..10.
void damp_residual_branches(Network& net) {
  constexpr float kResidualBranchScale = 0.2f;
  for (int i = 1; i < net.num_layers(); ++i) {
    if (std::string(net.layer(i).type()) != "shortcut") continue;
    Param* w = net.layer(i - 1).find_param("weights");
    if (!w) continue;
    for (size_t k = 0; k < w->count; ++k) w->data[k] *= kResidualBranchScale;
  }
}

LayerDiff compare_layer(const Network& net, int layer, const std::string& cv_name,
                        const float* ours, const cv::Mat* theirs) {
  LayerDiff d;
  d.layer = layer;
  d.mishnet_type = net.layer(layer).type();
  d.opencv_name = cv_name;
  d.shape = net.layer(layer).output_shape;
  if (!theirs) return d;
  d.opencv_count = theirs->total();
  if (d.opencv_count != d.shape.per_image() || !theirs->isContinuous()) return d;
  const float* ref = theirs->ptr<float>();
  double sum = 0;
  for (size_t k = 0; k < d.opencv_count; ++k) {
    double diff = std::fabs(double(ours[k]) - double(ref[k]));
    // NaN must fail, and std::max would drop it.
    if (!(diff <= d.max_abs_diff)) d.max_abs_diff = std::isnan(diff) ? INFINITY : diff;
    d.max_abs_ref = std::max(d.max_abs_ref, std::fabs(double(ref[k])));
    sum += diff;
  }
  d.mean_abs_diff = sum / double(d.opencv_count);
  return d;
}

struct Outputs {
  std::vector<std::vector<float>> mishnet;
  std::vector<cv::Mat> opencv;
};

Outputs run_both(Network& net, cv::dnn::Net& cvnet, const std::vector<float>& input,
                 const std::vector<int>& layers, const std::vector<std::string>& names) {
  Outputs o;
  net.keep_outputs(layers);
  net.forward(input.data());
  for (int i : layers) {
    Tensor t = net.output(i);
    o.mishnet.emplace_back(t.data, t.data + t.shape.per_image());
  }
  std::vector<cv::String> wanted;
  for (int i : layers)
    if (!names[size_t(i)].empty()) wanted.push_back(names[size_t(i)]);
  Shape s = net.input_shape();
  int dims[] = {1, s.c, s.h, s.w};
  cv::Mat blob(4, dims, CV_32F, const_cast<float*>(input.data()));
  cvnet.setInput(blob);
  std::vector<cv::Mat> got;
  if (!wanted.empty()) cvnet.forward(got, wanted);
  size_t next = 0;
  for (int i : layers) {
    if (names[size_t(i)].empty()) {
      o.opencv.emplace_back();
    } else {
      o.opencv.push_back(got[next++].clone());
    }
  }
  return o;
}

std::vector<LayerDiff> compare_all_of(const Network& net, const std::vector<int>& layers,
                                      const std::vector<std::string>& names, const Outputs& o) {
  std::vector<LayerDiff> diffs;
  for (size_t k = 0; k < layers.size(); ++k) {
    const cv::Mat* theirs = o.opencv[k].empty() ? nullptr : &o.opencv[k];
    diffs.push_back(compare_layer(net, layers[k], names[size_t(layers[k])], o.mishnet[k].data(),
                                  theirs));
  }
  return diffs;
}

}  // namespace

double LayerDiff::tolerance() const { return kParityTolerance * std::max(1.0, max_abs_ref); }

bool LayerDiff::ok() const {
  return !opencv_name.empty() && opencv_count == shape.per_image() &&
         max_abs_diff <= tolerance();
}

std::string LayerDiff::describe() const {
  char buf[320];
  std::ostringstream shape_text;
  shape_text << shape;
  if (opencv_name.empty()) {
    std::snprintf(buf, sizeof buf, "layer %3d %-14s %-16s OpenCV made no layer for it", layer,
                  mishnet_type.c_str(), shape_text.str().c_str());
  } else if (opencv_count != shape.per_image()) {
    std::snprintf(buf, sizeof buf,
                  "layer %3d %-14s %-16s vs OpenCV %s: %zu elements here, %zu there", layer,
                  mishnet_type.c_str(), shape_text.str().c_str(), opencv_name.c_str(),
                  shape.per_image(), opencv_count);
  } else {
    std::snprintf(buf, sizeof buf,
                  "layer %3d %-14s %-16s vs %-20s max|diff| %.3e  mean|diff| %.3e  max|ref| "
                  "%.3e  (tol %.1e)%s",
                  layer, mishnet_type.c_str(), shape_text.str().c_str(), opencv_name.c_str(),
                  max_abs_diff, mean_abs_diff, max_abs_ref, tolerance(), ok() ? "" : "  FAIL");
  }
  return buf;
}

bool ParityResult::ok() const {
  if (compared.empty()) return false;
  for (const LayerDiff& d : compared)
    if (!d.ok()) return false;
  return true;
}

const LayerDiff* ParityResult::first_failure() const {
  for (const auto* list : {&all_layers, &compared})
    for (const LayerDiff& d : *list)
      if (!d.ok()) return &d;
  return nullptr;
}

std::vector<int> default_parity_layers(const Network& net) {
  std::set<int> layers;
  for (int i = 0; i < net.num_layers(); ++i)
    if (net.layer(i).is_detection_output())
      for (int src : net.layer(i).inputs)
        if (src >= 0) layers.insert(src);
  int last = net.num_layers() - 1;
  if (!net.layer(last).is_detection_output()) layers.insert(last);
  // A final [softmax] (possibly followed by [cost] or [dropout], which pass it through)
  // squashes differences: its input is compared as well.
  for (int i = last; i > 0; --i) {
    std::string type = net.layer(i).type();
    if (type != "softmax" && type != "cost" && type != "dropout") break;
    if (type == "softmax") {
      layers.insert(i - 1);
      break;
    }
  }
  return {layers.begin(), layers.end()};
}

std::vector<std::string> opencv_section_output_names(const cv::dnn::Net& net, int sections) {
  std::vector<std::string> names(static_cast<size_t>(sections));
  // getLayerNames() lists layers in the order the importer created them, so the last layer
  // created for a section holds its output.
  for (const cv::String& name : net.getLayerNames()) {
    size_t cut = name.rfind('_');
    if (cut == std::string::npos || cut + 1 >= name.size()) continue;  // "detection_out", ...
    std::string digits = name.substr(cut + 1);
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    int index = std::stoi(digits);
    if (is_opencv_activation(name.substr(0, cut))) --index;
    if (index >= 0 && index < sections) names[size_t(index)] = name;
  }
  return names;
}

void write_cfg_with_size(const std::string& src, const std::string& dst, int width, int height) {
  std::ifstream in(src);
  if (!in) fail("cannot read ", src);
  std::ofstream out(dst);
  if (!out) fail("cannot write ", dst);
  bool in_net = false, wrote_size = false;
  auto write_size = [&] {
    if (width > 0) out << "width=" << width << "\n";
    if (height > 0) out << "height=" << height << "\n";
    wrote_size = true;
  };
  for (std::string line; std::getline(in, line);) {
    std::string t = trim(line);
    if (!t.empty() && t[0] == '[') {
      in_net = t == "[net]" || t == "[network]";
      out << line << "\n";
      if (in_net && !wrote_size) write_size();
      continue;
    }
    if (in_net && t.find('=') != std::string::npos && t[0] != '#' && t[0] != ';') {
      std::string key = trim(t.substr(0, t.find('=')));
      if ((key == "width" && width > 0) || (key == "height" && height > 0)) continue;
    }
    out << line << "\n";
  }
  if (!out) fail("writing ", dst, " failed");
}

ParityResult run_opencv_parity(const ParityCase& c) {
  NetworkOptions options;
  options.batch = 1;
  options.width = c.width;
  options.height = c.height;
  options.lenient = c.lenient;
  Network net = Network::from_cfg_file(c.cfg, options);
  init_weights(net, c.seed);
  randomise_batchnorm_and_biases(net, c.seed + 1);
  damp_residual_branches(net);
  net.parameters_changed();
  std::string weights = c.scratch + "/parity.weights";
  std::string cfg_copy = c.scratch + "/parity.cfg";
  save_weights(net, weights);
  write_cfg_with_size(c.opencv_cfg.empty() ? c.cfg : c.opencv_cfg, cfg_copy, c.width, c.height);

  cv::dnn::Net cvnet = cv::dnn::readNetFromDarknet(cfg_copy, weights);
  cvnet.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  cvnet.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  // OpenCV has read the weights; the public networks' files are 50..250 MB each.
  std::filesystem::remove(weights);
  std::vector<std::string> names = opencv_section_output_names(cvnet, net.num_layers());

  std::vector<float> input(net.input_shape().size());
  std::mt19937_64 rng(c.seed + 2);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : input) v = u(rng);

  // Detection layers are left out: OpenCV's [yolo] output holds decoded boxes, not Darknet's.
  std::vector<int> all;
  for (int i = 0; i < net.num_layers(); ++i)
    if (!net.layer(i).is_detection_output()) all.push_back(i);
  std::vector<int> layers = c.compare_all ? all : default_parity_layers(net);

  ParityResult r;
  r.input = net.input_shape();
  r.bflops = net.bflops();
  r.compared = compare_all_of(net, layers, names, run_both(net, cvnet, input, layers, names));
  if (!r.ok() && !c.compare_all)  // name where it starts to go wrong
    r.all_layers = compare_all_of(net, all, names, run_both(net, cvnet, input, all, names));
  return r;
}

}  // namespace mishnet::test
#endif  // MISHNET_HAVE_OPENCV
