// Darknet .weights files: header (major, minor, revision, seen) then float32 parameters.
#pragma once
#include <cstdint>
#include <string>

namespace mishnet {

class Network;

struct WeightsHeader {
  int32_t major = 0;
  int32_t minor = 2;
  int32_t revision = 5;
  uint64_t seen = 0;
};

// Loads parameters layer by layer. A file may stop at a layer boundary (pre-trained backbone
// prefixes such as yolov4.conv.137): the remaining layers keep their values. Returns the number
// of layers loaded. Errors name the layer and the byte offset: a file that ends inside a layer,
// trailing data after the last layer, a bad header.
int load_weights(Network& net, const std::string& path);
// Writes every layer's parameters; written to PATH.tmp and renamed, so a crash never leaves a
// half-written file under the real name.
void save_weights(const Network& net, const std::string& path);
// Fresh initialisation (He-uniform conv/connected weights, zero biases, BN scale 1, rolling
// mean 0, rolling variance 1), reproducible from the seed.
void init_weights(Network& net, uint64_t seed);

}  // namespace mishnet
