// The `mishnet` program end to end: exit codes, one-line errors naming the file, and the outputs
// of forward, benchmark, classifier predict and detector test on small cfgs written here.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <regex>

#include "core/backend_choice.h"
#include "mishnet/image.h"
#include "mishnet/network.h"
#include "mishnet/npy.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal (a crash)
  std::string out;     // stdout
  std::string err;     // stderr
  std::string note;    // the line that says where an inference command runs (moved out of err)
};

// The backend note of inference commands ("running on GPU 0 (...)", "CUDA build, no device
// (...): running on the CPU"): information, not part of an error, so it is kept apart.
void split_backend_note(RunResult& r) {
  for (const char* start : {"running on GPU ", "CUDA build, no device ("}) {
    const size_t at = r.err.find(start);
    if (at == std::string::npos || (at > 0 && r.err[at - 1] != '\n')) continue;
    const size_t end = r.err.find('\n', at);
    const size_t stop = end == std::string::npos ? r.err.size() : end + 1;
    r.note += r.err.substr(at, stop - at);
    r.err.erase(at, stop - at);
  }
}

RunResult run_mishnet(const std::string& args, const std::string& stdin_text = "") {
  static int calls = 0;
  std::filesystem::path err_file = std::filesystem::path(MISHNET_BINARY_DIR) / "test-scratch" /
                                   ("cli_stderr_" + std::to_string(getpid()) + "_" + std::to_string(++calls));
  std::filesystem::create_directories(err_file.parent_path());
  std::string cmd = std::string(MISHNET_BINARY_DIR) + "/mishnet " + args + " 2> " + err_file.string();
  if (!stdin_text.empty()) cmd = "printf '%s' '" + stdin_text + "' | " + cmd;
  else cmd += " < /dev/null";
  RunResult r;
  r.exit_code = ::mishnet::test::run_shell(cmd, r.out);
  r.err = ::mishnet::test::read_file_bytes(err_file.string());
  std::filesystem::remove(err_file);
  split_backend_note(r);
  return r;
}

size_t count_lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

// A failing command: non-zero exit (not a crash), exactly one line on stderr, naming `needle`.
#define EXPECT_ONE_LINE_ERROR(result, needle)                                              \
  do {                                                                                     \
    const RunResult& r_ = (result);                                                        \
    EXPECT_GT(r_.exit_code, 0) << r_.out << r_.err;                                        \
    EXPECT_EQ(count_lines(r_.err), 1u) << r_.err;                                          \
    EXPECT_EQ(r_.err.rfind("mishnet: error: ", 0), 0u) << r_.err;                          \
    EXPECT_NE(r_.err.find(needle), std::string::npos) << r_.err;                           \
  } while (0)

// 8x8x3 -> conv 4 filters 3x3 -> conv 3 filters 8x8 (valid): 1x1x3 outputs, a tiny "classifier".
const char* kClassifierCfg = R"([net]
width=8
height=8
channels=3

[convolutional]
filters=4
size=3
stride=1
pad=1
batch_normalize=1
activation=leaky

[convolutional]
filters=3
size=8
stride=1
pad=0
activation=logistic
)";

struct Fixture {
  std::string dir, cfg, weights;
};

Fixture make_classifier(const std::string& name) {
  Fixture f;
  f.dir = test::scratch_dir(name);
  f.cfg = f.dir + "/small.cfg";
  f.weights = f.dir + "/small.weights";
  std::ofstream(f.cfg) << kClassifierCfg;
  Network net = Network::from_cfg_file(f.cfg);
  init_weights(net, test::test_seed());
  save_weights(net, f.weights);
  return f;
}

TEST(Cli, MissingCfgIsOneLineError) {
  Fixture f = make_classifier("cli_missing_cfg");
  EXPECT_ONE_LINE_ERROR(run_mishnet("forward " + f.dir + "/nope.cfg " + f.weights + " --random 1 --save-outputs " +
                                    f.dir + "/out"),
                        "nope.cfg");
  EXPECT_ONE_LINE_ERROR(run_mishnet("benchmark " + f.dir + "/nope.cfg"), "nope.cfg");
}

// -gpu N / -cpu on an inference command (core/backend_choice.h has every case).
TEST(Cli, DeviceOptionsChooseWhereInferenceRuns) {
  Fixture f = make_classifier("cli_device_options");
  const std::string forward = "forward " + f.cfg + " " + f.weights + " --random 1 --save-outputs " + f.dir + "/out";
  const RunResult plain = run_mishnet(forward);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  const DeviceSituation machine = current_device_situation();
  if (!machine.cuda_built) {
    EXPECT_EQ(plain.note, "");
    EXPECT_ONE_LINE_ERROR(run_mishnet(forward + " -gpu 0"), "built without CUDA");
  } else if (machine.devices.empty()) {
    EXPECT_EQ(plain.note, "CUDA build, no device (" + machine.no_device_reason + "): running on the CPU\n");
    EXPECT_ONE_LINE_ERROR(run_mishnet(forward + " -gpu 0"), "sees no device");
    EXPECT_ONE_LINE_ERROR(run_mishnet(forward + " -i 0"), "sees no device");
  } else {
    EXPECT_EQ(plain.note, "running on GPU 0 (" + machine.devices[0] + ")\n");
    EXPECT_ONE_LINE_ERROR(run_mishnet(forward + " -gpu 999"), "this machine has GPU 0");
  }
  const RunResult on_cpu = run_mishnet(forward + " -cpu");
  EXPECT_EQ(on_cpu.exit_code, 0) << on_cpu.err;
  EXPECT_EQ(on_cpu.note, "");
  EXPECT_ONE_LINE_ERROR(run_mishnet(forward + " -gpu 0 -cpu"), "contradict");
}

TEST(Cli, MissingWeightsIsOneLineError) {
  Fixture f = make_classifier("cli_missing_weights");
  EXPECT_ONE_LINE_ERROR(
      run_mishnet("forward " + f.cfg + " " + f.dir + "/nope.weights --random 1 --save-outputs " + f.dir + "/out"),
      "nope.weights");
}

TEST(Cli, WeightsNotMatchingTheCfgIsOneLineError) {
  Fixture f = make_classifier("cli_wrong_weights");
  std::string other = f.dir + "/other.cfg";
  std::string text = kClassifierCfg;
  text.replace(text.find("filters=4"), 9, "filters=6");
  std::ofstream(other) << text;
  EXPECT_ONE_LINE_ERROR(run_mishnet("forward " + other + " " + f.weights + " --random 1 --save-outputs " + f.dir +
                                    "/out"),
                        "small.weights");
}

TEST(Cli, DataNamingAMissingNamesFileIsOneLineError) {
  Fixture f = make_classifier("cli_missing_names");
  std::ofstream(f.dir + "/bad.data") << "classes=3\nnames=" << f.dir << "/nope.names\n";
  save_image(Image(8, 8, 3, 0.5f), f.dir + "/img.png");
  EXPECT_ONE_LINE_ERROR(
      run_mishnet("classifier predict " + f.dir + "/bad.data " + f.cfg + " " + f.weights + " " + f.dir + "/img.png"),
      "bad.data:2: names file '" + f.dir + "/nope.names' does not exist");
}

TEST(Cli, UnreadableImageIsOneLineError) {
  Fixture f = make_classifier("cli_bad_image");
  std::ofstream(f.dir + "/text.jpg") << "not an image\n";
  EXPECT_ONE_LINE_ERROR(run_mishnet("forward " + f.cfg + " " + f.weights + " --input " + f.dir +
                                    "/text.jpg --save-outputs " + f.dir + "/out"),
                        "text.jpg: cannot decode image");
  EXPECT_ONE_LINE_ERROR(run_mishnet("forward " + f.cfg + " " + f.weights + " --input " + f.dir +
                                    "/none.png --save-outputs " + f.dir + "/out"),
                        "none.png: cannot open image: no such file");
  EXPECT_ONE_LINE_ERROR(run_mishnet("forward " + f.cfg + " " + f.weights + " --save-outputs " + f.dir + "/out"),
                        "--input IMAGE or --random SEED");
}

TEST(Cli, ForwardRandomSavesOutputsMatchingAnInProcessRun) {
  Fixture f = make_classifier("cli_forward_random");
  RunResult r = run_mishnet("forward " + f.cfg + " " + f.weights + " --random 7 --save-outputs " + f.dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  NpyArray input = load_npy(f.dir + "/out/input.npy");
  NpyArray l0 = load_npy(f.dir + "/out/layer_0.npy");
  NpyArray l1 = load_npy(f.dir + "/out/layer_1.npy");
  EXPECT_EQ(input.shape, (std::vector<size_t>{1, 3, 8, 8}));
  EXPECT_EQ(l0.shape, (std::vector<size_t>{1, 4, 8, 8}));
  EXPECT_EQ(l1.shape, (std::vector<size_t>{1, 3, 1, 1}));
  for (float v : input.data) ASSERT_TRUE(v >= 0.0f && v < 1.0f);

  Network net = Network::from_cfg_file(f.cfg, NetworkOptions{.batch = 1});
  load_weights(net, f.weights);
  net.keep_outputs({0, 1});
  net.forward(input.data.data());
  Tensor t = net.output(1);
  // The same binary code on the same input: only thread scheduling may differ.
  for (size_t i = 0; i < l1.data.size(); ++i) EXPECT_NEAR(l1.data[i], t.data[i], 1e-5f);

  RunResult only = run_mishnet("forward " + f.cfg + " " + f.weights + " --random 7 --layers 1 --save-outputs " +
                               f.dir + "/only");
  ASSERT_EQ(only.exit_code, 0) << only.out;
  EXPECT_FALSE(std::filesystem::exists(f.dir + "/only/layer_0.npy"));
  EXPECT_EQ(load_npy(f.dir + "/only/layer_1.npy").data, l1.data);  // same seed, same input
  EXPECT_ONE_LINE_ERROR(run_mishnet("forward " + f.cfg + " " + f.weights + " --random 7 --layers 5 --save-outputs " +
                                    f.dir + "/x"),
                        "layer 5 does not exist");
}

TEST(Cli, ForwardImageUsedAsIsAtNetworkSizeAndResizedOtherwise) {
  Fixture f = make_classifier("cli_forward_image");
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> u(0, 1);
  Image exact(8, 8, 3), big(13, 10, 3);
  for (float& v : exact.data) v = std::round(u(rng) * 255) / 255;
  for (float& v : big.data) v = std::round(u(rng) * 255) / 255;
  save_image(exact, f.dir + "/exact.png");
  save_image(big, f.dir + "/big.png");

  ASSERT_EQ(run_mishnet("forward " + f.cfg + " " + f.weights + " --input " + f.dir + "/exact.png --save-outputs " +
                        f.dir + "/a")
                .exit_code,
            0);
  NpyArray a = load_npy(f.dir + "/a/input.npy");
  ASSERT_EQ(a.data.size(), exact.data.size());
  for (size_t i = 0; i < a.data.size(); ++i) EXPECT_NEAR(a.data[i], exact.data[i], 1e-6f);  // 8-bit exact

  ASSERT_EQ(run_mishnet("forward " + f.cfg + " " + f.weights + " --input " + f.dir + "/big.png --save-outputs " +
                        f.dir + "/b")
                .exit_code,
            0);
  NpyArray b = load_npy(f.dir + "/b/input.npy");
  Image expected = resize_image(load_image(f.dir + "/big.png"), 8, 8);  // letter_box=0: plain resize
  ASSERT_EQ(b.data.size(), expected.data.size());
  for (size_t i = 0; i < b.data.size(); ++i) EXPECT_EQ(b.data[i], expected.data[i]);
}

TEST(Cli, BenchmarkPrintsMedianThroughputAndLayerTable) {
  Fixture f = make_classifier("cli_benchmark");
  RunResult r = run_mishnet("benchmark " + f.cfg + " -iters 3 --warmup 1 -threads 1 -batch 2 --layers");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(median [0-9.]+ ms per image)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"([0-9.]+ images/s)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"([0-9.]+ GFLOP/s)"))) << r.out;
  EXPECT_NE(r.out.find("1 threads"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("batch 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("slowest: layer"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\n +0 conv)"))) << r.out;
  RunResult with_weights = run_mishnet("benchmark " + f.cfg + " " + f.weights + " -iters 1 --warmup 0");
  EXPECT_EQ(with_weights.exit_code, 0) << with_weights.out;
}

TEST(Cli, ClassifierPredictPrintsTopClassesLikeDarknet) {
  Fixture f = make_classifier("cli_predict");
  std::ofstream(f.dir + "/c.names") << "ant\nbee\ncat\n";
  std::ofstream(f.dir + "/c.data") << "classes=3\nnames=c.names\ntop=2\n";
  save_image(Image(20, 12, 3, 0.25f), f.dir + "/img.png");
  std::string args = "classifier predict " + f.dir + "/c.data " + f.cfg + " " + f.weights;
  RunResult r = run_mishnet(args + " " + f.dir + "/img.png");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::regex line(R"(^ ?[0-9]{1,3}\.[0-9]{2}%: (ant|bee|cat)$)");
  std::istringstream lines(r.out);
  std::string l;
  std::getline(lines, l);
  EXPECT_TRUE(std::regex_search(l, std::regex("img.png: Predicted in [0-9.]+ milli-seconds."))) << l;
  int n = 0;
  while (std::getline(lines, l)) {
    EXPECT_TRUE(std::regex_match(l, line)) << l;
    ++n;
  }
  EXPECT_EQ(n, 2);  // top=2 from the .data

  RunResult top1 = run_mishnet(args + " -t 1", f.dir + "/img.png\n");  // path from stdin
  ASSERT_EQ(top1.exit_code, 0) << top1.out;
  EXPECT_EQ(count_lines(top1.out), 2u) << top1.out;

  std::ofstream(f.dir + "/two.names") << "ant\nbee\n";
  std::ofstream(f.dir + "/two.data") << "names=two.names\n";
  EXPECT_ONE_LINE_ERROR(run_mishnet("classifier predict " + f.dir + "/two.data " + f.cfg + " " + f.weights + " " +
                                    f.dir + "/img.png"),
                        "two.names: has 2 names but the network has 3 outputs");
}


// One 1x1 grid cell, one anchor (16x16 on a 32x32 input), two classes. Zero weights and chosen
// biases give a known detection: centre (0.5, 0.5), size 0.5 x 0.5, objectness sigmoid(4),
// class 0 sigmoid(4), class 1 sigmoid(-4).
const char* kDetectorCfg = R"([net]
width=32
height=32
channels=3

[convolutional]
filters=7
size=32
stride=1
pad=0
activation=linear

[yolo]
mask=0
anchors=16,16
classes=2
num=1
)";

Fixture make_detector(const std::string& name) {
  Fixture f;
  f.dir = test::scratch_dir(name);
  f.cfg = f.dir + "/det.cfg";
  f.weights = f.dir + "/det.weights";
  std::ofstream(f.cfg) << kDetectorCfg;
  Network net = Network::from_cfg_file(f.cfg);
  init_weights(net, 1);
  float* w = net.layer(0).param("weights");
  std::fill(w, w + net.layer(0).find_param("weights")->count, 0.0f);
  float* b = net.layer(0).param("biases");
  const float biases[7] = {0, 0, 0, 0, 4, 4, -4};  // tx ty tw th obj cat dog
  std::copy(biases, biases + 7, b);
  save_weights(net, f.weights);
  std::ofstream(f.dir + "/det.names") << "cat\ndog\n";
  std::ofstream(f.dir + "/det.data") << "classes=2\nnames=det.names\n";
  save_image(Image(64, 48, 3, 0.3f), f.dir + "/a.png");
  save_image(Image(20, 40, 3, 0.6f), f.dir + "/b.png");
  return f;
}

TEST(Cli, DetectorTestPrintsDrawsAndWritesJson) {
  Fixture f = make_detector("cli_detector");
  std::string base = "detector test " + f.dir + "/det.data " + f.cfg + " " + f.weights;
  RunResult r = run_mishnet(base + " " + f.dir + "/a.png -ext_output -dont_show -out " + f.dir +
                            "/result.json --predictions " + f.dir + "/pred.jpg");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // sigmoid(4)^2 = 0.9647: "cat: 96%"; the box is the centre half of the 64x48 image.
  EXPECT_TRUE(std::regex_search(r.out, std::regex("a.png: Predicted in [0-9.]+ milli-seconds.\n"))) << r.out;
  EXPECT_NE(r.out.find("cat: 96%\t(left_x:   16   top_y:   12   width:   32   height:   24)\n"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("dog"), std::string::npos) << r.out;  // 0.018 is below -thresh
  Image drawn = load_image(f.dir + "/pred.jpg");
  EXPECT_EQ(drawn.w, 64);
  EXPECT_EQ(drawn.h, 48);

  std::ifstream json_file(f.dir + "/result.json");
  std::string json((std::istreambuf_iterator<char>(json_file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(json.rfind("[\n{\n \"frame_id\":1, \n \"filename\":\"", 0), 0u) << json;
  EXPECT_NE(json.find("  {\"class_id\":0, \"name\":\"cat\", \"relative_coordinates\":{\"center_x\":0.500000, "
                      "\"center_y\":0.500000, \"width\":0.500000, \"height\":0.500000}, \"confidence\":0.96"),
            std::string::npos)
      << json;
  // Scores below -thresh are zeroed when detections are gathered (as Darknet): no dog here.
  EXPECT_EQ(json.find("\"name\":\"dog\""), std::string::npos) << json;
  EXPECT_TRUE(json.ends_with("}\n ] \n}\n]")) << json;

  // Paths from stdin; a lower threshold shows the second class on its own line.
  RunResult s = run_mishnet(base + " -thresh 0.01 -out " + f.dir + "/two.json --predictions " + f.dir + "/p.jpg",
                            f.dir + "/a.png\n" + f.dir + "/b.png\n");
  ASSERT_EQ(s.exit_code, 0) << s.out;
  EXPECT_TRUE(std::regex_search(s.out, std::regex("b.png: Predicted in"))) << s.out;
  EXPECT_NE(s.out.find("cat: 96%\ndog: 2%\n"), std::string::npos) << s.out;
  std::ifstream two_file(f.dir + "/two.json");
  std::string two((std::istreambuf_iterator<char>(two_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(two.find("}, \n{\n \"frame_id\":2, "), std::string::npos) << two;
  EXPECT_NE(two.find("{\"class_id\":1, \"name\":\"dog\""), std::string::npos) << two;
}

TEST(Cli, DetectorTestErrors) {
  Fixture f = make_detector("cli_detector_errors");
  std::ofstream(f.dir + "/one.names") << "cat\n";
  std::ofstream(f.dir + "/one.data") << "names=one.names\n";
  EXPECT_ONE_LINE_ERROR(run_mishnet("detector test " + f.dir + "/one.data " + f.cfg + " " + f.weights + " " + f.dir +
                                    "/a.png --predictions " + f.dir + "/p.jpg"),
                        "one.names: has 1 names but " + f.cfg + " detects 2 classes");
  Fixture c = make_classifier("cli_detector_not_detector");
  EXPECT_ONE_LINE_ERROR(run_mishnet("detector test " + f.dir + "/det.data " + c.cfg + " " + c.weights + " " + f.dir +
                                    "/a.png --predictions " + f.dir + "/p.jpg"),
                        "it is not a detector");
  EXPECT_ONE_LINE_ERROR(run_mishnet("detector test " + f.dir + "/det.data " + f.cfg + " " + f.weights + " " + f.dir +
                                    "/nope.jpg --predictions " + f.dir + "/p.jpg"),
                        "nope.jpg: cannot open image: no such file");
}

}  // namespace
}  // namespace mishnet
