// mishnet_bench: inference time of mishnet against OpenCV DNN (the peer), measured in the same
// process on the same cfg, weights and input. Batch 1, freshly initialised weights (seed 1):
// timings do not depend on the weight values. Runs alternate between the two so that drifts in
// clock speed or load hit both alike; the median of N runs is reported.
//
//   mishnet_bench [--cfg-dir DIR] [--runs N] [--warmup N] [--threads N] [--peak-gflops G]
//                 [--only NAME]
//
// Prints one markdown table (bench/run.sh puts it in BENCHMARKS.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "mishnet/network.h"
#include "mishnet/weights.h"

#if MISHNET_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#endif

namespace {

struct BenchNetwork {
  const char* name;
  const char* cfg;
  int size;
};

// The networks of the brief: a small detector, a large one, and a classifier backbone.
const BenchNetwork kNetworks[] = {
    {"yolov4-tiny", "yolov4-tiny.cfg", 416},
    {"yolov4", "yolov4.cfg", 416},
    {"csdarknet53-omega", "csdarknet53-omega.cfg", 256},
};

struct Options {
  std::string cfg_dir;
  int runs = 10;
  int warmup = 2;
  int threads = 2;
  double peak_gflops = 520.0;  // 2 cores of this machine's AVX-512 FMA units
  std::string only;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "mishnet_bench: %s\nusage: mishnet_bench [--cfg-dir DIR] [--runs N] [--warmup N] "
               "[--threads N] [--peak-gflops G] [--only NAME]\n",
               why);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  const char* env = std::getenv("MISHNET_SHARED_CFG");
  o.cfg_dir = env ? env : "../shared/darknet-cfg";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--cfg-dir") o.cfg_dir = value();
    else if (a == "--runs") o.runs = std::stoi(value());
    else if (a == "--warmup") o.warmup = std::stoi(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--peak-gflops") o.peak_gflops = std::stod(value());
    else if (a == "--only") o.only = value();
    else if (a == "-h" || a == "--help") usage("inference benchmark against OpenCV DNN");
    else usage(("unknown option " + a).c_str());
  }
  if (o.runs < 1 || o.warmup < 0 || o.threads < 1) usage("runs, threads >= 1; warmup >= 0");
  return o;
}

// OpenCV reads the input size from the cfg: a copy with [net] width/height replaced.
void write_cfg_with_size(const std::string& src, const std::string& dst, int size) {
  std::ifstream in(src);
  std::ofstream out(dst);
  if (!in || !out) throw std::runtime_error("cannot copy " + src + " to " + dst);
  bool in_net = false;
  for (std::string line; std::getline(in, line);) {
    std::string t = line.substr(0, line.find_first_of("=#;"));
    t.erase(std::remove_if(t.begin(), t.end(), [](char c) { return c == ' ' || c == '\t'; }),
            t.end());
    if (!t.empty() && t[0] == '[') {
      in_net = t == "[net]" || t == "[network]";
      out << line << "\n";
      if (in_net) out << "width=" << size << "\nheight=" << size << "\n";
      continue;
    }
    if (in_net && (t == "width" || t == "height") && line.find('=') != std::string::npos) continue;
    out << line << "\n";
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <class F>
double time_ms(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void bench_one(const BenchNetwork& b, const Options& o, const std::filesystem::path& scratch) {
  std::string cfg = o.cfg_dir + "/" + b.cfg;
  std::string input_text = std::to_string(b.size) + "x" + std::to_string(b.size);
  try {
    mishnet::NetworkOptions no;
    no.batch = 1;
    no.width = b.size;
    no.height = b.size;
    mishnet::Network net = mishnet::Network::from_cfg_file(cfg, no);
    mishnet::init_weights(net, 1);
    std::string weights = (scratch / (std::string(b.name) + ".weights")).string();
    std::string cfg_copy = (scratch / (std::string(b.name) + ".cfg")).string();
    mishnet::save_weights(net, weights);
    write_cfg_with_size(cfg, cfg_copy, b.size);

    std::vector<float> input(net.input_shape().size());
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& v : input) v = u(rng);

    std::vector<double> ours, theirs;
#if MISHNET_HAVE_OPENCV
    cv::dnn::Net cvnet = cv::dnn::readNetFromDarknet(cfg_copy, weights);
    cvnet.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    cvnet.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    mishnet::Shape s = net.input_shape();
    int dims[] = {1, s.c, s.h, s.w};
    cv::Mat blob(4, dims, CV_32F, input.data());
    std::vector<cv::String> out_names = cvnet.getUnconnectedOutLayersNames();
    std::vector<cv::Mat> outs;
    auto run_opencv = [&] {
      cvnet.setInput(blob);
      cvnet.forward(outs, out_names);
    };
#endif
    auto run_mishnet = [&] { net.forward(input.data()); };
    for (int i = 0; i < o.warmup; ++i) {
      run_mishnet();
#if MISHNET_HAVE_OPENCV
      run_opencv();
#endif
    }
    for (int i = 0; i < o.runs; ++i) {
      // Alternate which goes first, so neither always follows the other's cache footprint.
      bool mishnet_first = i % 2 == 0;
      if (mishnet_first) ours.push_back(time_ms(run_mishnet));
#if MISHNET_HAVE_OPENCV
      theirs.push_back(time_ms(run_opencv));
#endif
      if (!mishnet_first) ours.push_back(time_ms(run_mishnet));
    }

    double bflops = net.bflops();
    double ours_ms = median(ours);
    double gflops = bflops / (ours_ms / 1000.0);
    char theirs_text[32] = "n/a", ratio_text[32] = "n/a";
    if (!theirs.empty()) {
      double theirs_ms = median(theirs);
      std::snprintf(theirs_text, sizeof theirs_text, "%.1f", theirs_ms);
      std::snprintf(ratio_text, sizeof ratio_text, "%.2fx", theirs_ms / ours_ms);
    }
    std::printf("| %s | %s | %.2f | %.1f | %s | %s | %.1f | %.1f%% |\n", b.name,
                input_text.c_str(), bflops, ours_ms, theirs_text, ratio_text, gflops,
                100.0 * gflops / o.peak_gflops);
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    std::replace(what.begin(), what.end(), '|', '/');
    std::printf("| %s | %s | | failed: %s | | | | |\n", b.name, input_text.c_str(), what.c_str());
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
#if MISHNET_HAVE_OPENCV
  cv::setNumThreads(o.threads);
#endif
  auto scratch = std::filesystem::temp_directory_path() /
                 ("mishnet-bench-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(scratch);
  std::printf("| network | input | BFLOPs | mishnet ms | OpenCV ms | OpenCV/mishnet | "
              "mishnet GFLOP/s | %% of %.0f GFLOP/s |\n",
              o.peak_gflops);
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const BenchNetwork& b : kNetworks)
    if (o.only.empty() || o.only == b.name) bench_one(b, o, scratch);
  std::printf("\nmedian of %d runs each after %d warm-up runs, batch 1, alternating mishnet and "
              "OpenCV DNN (DNN_BACKEND_OPENCV, DNN_TARGET_CPU, %d threads)\n",
              o.runs, o.warmup, o.threads);
  std::filesystem::remove_all(scratch);
  return 0;
}
