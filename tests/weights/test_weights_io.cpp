#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

// Two conv layers: 3->4 (with BN) then 4->2 (no BN).
const char* kTwoConvs = R"([net]
width=6
height=6
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
pad=1
activation=leaky

[convolutional]
filters=2
size=1
activation=linear
)";

// floats per layer: 4 biases + 3*4 bn + 4*3*3*3 weights = 124; 2 + 2*4 = 10
constexpr size_t kLayer0 = 4 + 12 + 108;
constexpr size_t kLayer1 = 2 + 8;
constexpr size_t kHeader = 20;

Network make_net() { return Network::from_cfg(parse_cfg_text(kTwoConvs, "two.cfg")); }

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

TEST(Weights, ParameterOrderFollowsDarknet) {
  Network net = make_net();
  const auto& p0 = net.layer(0).params;
  ASSERT_EQ(p0.size(), 5u);
  EXPECT_EQ(p0[0].name, "biases");
  EXPECT_EQ(p0[1].name, "scales");
  EXPECT_EQ(p0[2].name, "rolling_mean");
  EXPECT_EQ(p0[3].name, "rolling_variance");
  EXPECT_EQ(p0[4].name, "weights");
  EXPECT_EQ(net.num_params(), kLayer0 + kLayer1);
}

TEST(Weights, RoundTripIsExactAndHeaderIsDarknets) {
  std::string dir = test::scratch_dir("weights_roundtrip");
  Network a = make_net();
  init_weights(a, test::test_seed());
  a.seen = 123456789012ull;
  save_weights(a, dir + "/a.weights");
  for (const auto& e : std::filesystem::directory_iterator(dir))  // the temporary went away
    EXPECT_EQ(e.path().filename(), "a.weights");
  auto bytes = read_bytes(dir + "/a.weights");
  ASSERT_EQ(bytes.size(), kHeader + 4 * (kLayer0 + kLayer1));
  int32_t version[3];
  std::memcpy(version, bytes.data(), 12);
  EXPECT_EQ(version[0], 0);
  EXPECT_EQ(version[1], 2);
  EXPECT_EQ(version[2], 5);

  Network b = make_net();
  EXPECT_EQ(load_weights(b, dir + "/a.weights"), 2);
  EXPECT_EQ(b.seen, 123456789012ull);
  ASSERT_EQ(std::memcmp(a.param_data(), b.param_data(), a.num_params() * 4), 0);
}

TEST(Weights, InitSetsRollingVarianceToOneAndIsSeeded) {
  Network a = make_net(), b = make_net(), c = make_net();
  init_weights(a, 7);
  init_weights(b, 7);
  init_weights(c, 8);
  const float* var = a.layer(0).find_param("rolling_variance")->data;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(var[i], 1.0f);
  EXPECT_EQ(a.layer(0).find_param("scales")->data[0], 1.0f);
  EXPECT_EQ(std::memcmp(a.param_data(), b.param_data(), a.num_params() * 4), 0);
  EXPECT_NE(std::memcmp(a.param_data(), c.param_data(), a.num_params() * 4), 0);
}

TEST(Weights, PrefixAtALayerBoundaryLoadsThoseLayers) {
  std::string dir = test::scratch_dir("weights_prefix");
  Network a = make_net();
  init_weights(a, 1);
  save_weights(a, dir + "/full.weights");
  auto bytes = read_bytes(dir + "/full.weights");
  bytes.resize(kHeader + 4 * kLayer0);
  write_bytes(dir + "/prefix.weights", bytes);
  Network b = make_net();
  init_weights(b, 2);
  std::vector<float> layer1_before(b.layer(1).params[0].data, b.layer(1).params[0].data + kLayer1);
  EXPECT_EQ(load_weights(b, dir + "/prefix.weights"), 1);
  EXPECT_EQ(std::memcmp(a.param_data(), b.param_data(), kLayer0 * 4), 0);
  EXPECT_EQ(std::memcmp(layer1_before.data(), b.layer(1).params[0].data, kLayer1 * 4), 0);
}

TEST(Weights, FileEndingInsideALayerNamesLayerAndOffset) {
  std::string dir = test::scratch_dir("weights_truncated");
  Network a = make_net();
  init_weights(a, 1);
  save_weights(a, dir + "/full.weights");
  auto bytes = read_bytes(dir + "/full.weights");
  bytes.resize(kHeader + 4 * (kLayer0 + 3));
  write_bytes(dir + "/cut.weights", bytes);
  Network b = make_net();
  std::string offset = "byte " + std::to_string(kHeader + 4 * kLayer0);
  EXPECT_ERROR_CONTAINS(load_weights(b, dir + "/cut.weights"), offset);
  EXPECT_ERROR_CONTAINS(load_weights(b, dir + "/cut.weights"),
                        "layer 1 (conv) expects 10 floats, the file has 3 left");
}

TEST(Weights, TrailingDataIsAnError) {
  std::string dir = test::scratch_dir("weights_trailing");
  Network a = make_net();
  init_weights(a, 1);
  save_weights(a, dir + "/full.weights");
  auto bytes = read_bytes(dir + "/full.weights");
  bytes.insert(bytes.end(), 8, '\0');
  write_bytes(dir + "/long.weights", bytes);
  Network b = make_net();
  EXPECT_ERROR_CONTAINS(load_weights(b, dir + "/long.weights"), "8 bytes of trailing data");
}

TEST(Weights, BadHeaderAndMissingFile) {
  std::string dir = test::scratch_dir("weights_header");
  write_bytes(dir + "/short.weights", {'\1', '\0'});
  Network b = make_net();
  EXPECT_ERROR_CONTAINS(load_weights(b, dir + "/short.weights"), "too short for a .weights header");
  std::vector<char> junk(64, '\x7f');
  write_bytes(dir + "/junk.weights", junk);
  EXPECT_ERROR_CONTAINS(load_weights(b, dir + "/junk.weights"), "bad header");
  EXPECT_ERROR_CONTAINS(load_weights(b, dir + "/none.weights"), "cannot open weights file");
}

TEST(Weights, OldHeaderWith32BitSeen) {
  std::string dir = test::scratch_dir("weights_old");
  Network a = make_net();
  init_weights(a, 3);
  std::vector<char> bytes(16);
  int32_t version[3] = {0, 1, 0};
  uint32_t seen = 640;
  std::memcpy(bytes.data(), version, 12);
  std::memcpy(bytes.data() + 12, &seen, 4);
  const char* p = reinterpret_cast<const char*>(a.param_data());
  bytes.insert(bytes.end(), p, p + a.num_params() * 4);
  write_bytes(dir + "/old.weights", bytes);
  Network b = make_net();
  EXPECT_EQ(load_weights(b, dir + "/old.weights"), 2);
  EXPECT_EQ(b.seen, 640u);
  EXPECT_EQ(std::memcmp(a.param_data(), b.param_data(), a.num_params() * 4), 0);
}

TEST(Weights, DontloadscalesSkipsBatchNormBlocks) {
  std::string dir = test::scratch_dir("weights_dontloadscales");
  Network a = make_net();
  init_weights(a, 4);
  a.layer(0).find_param("rolling_mean")->data[0] = 5.0f;
  save_weights(a, dir + "/a.weights");
  std::string cfg = kTwoConvs;
  cfg.replace(cfg.find("batch_normalize=1"), 17, "batch_normalize=1\ndontloadscales=1");
  Network b = Network::from_cfg(parse_cfg_text(cfg, "b.cfg"));
  init_weights(b, 9);
  load_weights(b, dir + "/a.weights");
  EXPECT_EQ(b.layer(0).find_param("rolling_mean")->data[0], 0.0f);
  EXPECT_EQ(std::memcmp(a.layer(0).find_param("weights")->data,
                        b.layer(0).find_param("weights")->data, 108 * 4), 0);
}

}  // namespace
}  // namespace mishnet
