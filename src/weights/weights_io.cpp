#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "core/temporary_path.h"
#include "mishnet/error.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"

namespace mishnet {

namespace {

size_t layer_float_count(const Layer& l) {
  size_t n = 0;
  for (const auto& p : l.params) n += p.count;
  return n;
}

}  // namespace

int load_weights(Network& net, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open weights file");
  f.seekg(0, std::ios::end);
  const uint64_t file_size = uint64_t(f.tellg());
  f.seekg(0, std::ios::beg);

  int32_t version[3] = {0, 0, 0};
  if (file_size < sizeof(version) || !f.read(reinterpret_cast<char*>(version), sizeof(version)))
    fail(path, ": byte 0: file too short for a .weights header (", file_size, " bytes)");
  if (version[0] < 0 || version[0] > 1000 || version[1] < 0 || version[1] > 1000)
    fail(path, ": byte 0: bad header: version ", version[0], ".", version[1], ".", version[2],
         " is not a Darknet weights version");
  uint64_t offset = sizeof(version);
  uint64_t seen = 0;
  if (version[0] * 10 + version[1] >= 2) {
    if (file_size < offset + 8) fail(path, ": byte ", offset, ": header ends inside 'seen' (uint64)");
    f.read(reinterpret_cast<char*>(&seen), 8);
    offset += 8;
  } else {
    uint32_t seen32 = 0;
    if (file_size < offset + 4) fail(path, ": byte ", offset, ": header ends inside 'seen' (uint32)");
    f.read(reinterpret_cast<char*>(&seen32), 4);
    seen = seen32;
    offset += 4;
  }
  net.seen = seen;

  int loaded = 0;
  std::vector<float> skip;
  for (int i = 0; i < net.num_layers(); ++i) {
    Layer& l = net.layer(i);
    size_t need = layer_float_count(l);
    if (need == 0) continue;
    if (offset == file_size) break;  // a prefix of the layers: a pre-trained backbone
    uint64_t left = file_size - offset;
    if (left < need * sizeof(float))
      fail(path, ": byte ", offset, ": layer ", i, " (", l.type(), ") expects ", need,
           " floats, the file has ", left / sizeof(float),
           left % sizeof(float) ? " and a partial float" : "", " left");
    for (auto& p : l.params) {
      bool skip_block = l.dontload || (l.dontloadscales && p.is_bn_scale);
      if (skip_block) {
        skip.resize(p.count);
        f.read(reinterpret_cast<char*>(skip.data()), std::streamsize(p.count * sizeof(float)));
      } else {
        f.read(reinterpret_cast<char*>(p.data), std::streamsize(p.count * sizeof(float)));
      }
      if (!f) fail(path, ": byte ", offset, ": read error in layer ", i);
      offset += p.count * sizeof(float);
    }
    ++loaded;
  }
  if (offset != file_size)
    fail(path, ": byte ", offset, ": ", file_size - offset,
         " bytes of trailing data after the last layer (", net.num_layers() - 1,
         "): the weights do not match this cfg");
  net.parameters_changed();
  return loaded;
}

void save_weights(const Network& net, const std::string& path) {
  const std::string tmp = temporary_path(path);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(tmp, ": cannot open for writing");
    WeightsHeader h;
    h.seen = net.seen;
    int32_t version[3] = {h.major, h.minor, h.revision};
    f.write(reinterpret_cast<const char*>(version), sizeof(version));
    f.write(reinterpret_cast<const char*>(&h.seen), sizeof(h.seen));
    for (int i = 0; i < net.num_layers(); ++i)
      for (const auto& p : net.layer(i).params)
        f.write(reinterpret_cast<const char*>(p.data), std::streamsize(p.count * sizeof(float)));
    f.flush();
    if (!f) fail(tmp, ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    fail(path, ": cannot rename ", tmp, " to it: ", std::strerror(errno));
}

void init_weights(Network& net, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < net.num_layers(); ++i) {
    for (auto& p : net.layer(i).params) {
      if (p.fan_in > 0) {
        float limit = std::sqrt(6.0f / float(p.fan_in));
        std::uniform_real_distribution<float> u(-limit, limit);
        for (size_t k = 0; k < p.count; ++k) p.data[k] = u(rng);
      } else {
        std::fill(p.data, p.data + p.count, p.init_value);
      }
    }
  }
  net.seen = 0;
  net.parameters_changed();
}

}  // namespace mishnet
