#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/temporary_path.h"
#include "mishnet/error.h"
#include "mishnet/optimizer.h"

namespace mishnet {

namespace {
// Version 2 adds the loss scale after the average loss; version 1 files still load.
constexpr char kMagic[8] = {'M', 'I', 'S', 'H', 'S', 'T', 'A', '2'};
constexpr char kMagicV1[8] = {'M', 'I', 'S', 'H', 'S', 'T', 'A', '1'};

template <typename T>
void put(std::ofstream& f, const T& v) {
  f.write(reinterpret_cast<const char*>(&v), sizeof(T));
}

struct Reader {
  std::ifstream f;
  std::string path;
  uint64_t offset = 0;
  template <typename T>
  T get(const char* what) {
    T v{};
    if (!f.read(reinterpret_cast<char*>(&v), sizeof(T)))
      fail(path, ": byte ", offset, ": file ends inside ", what);
    offset += sizeof(T);
    return v;
  }
  void floats(std::vector<float>& out, uint64_t n, const char* what) {
    out.resize(n);
    if (n && !f.read(reinterpret_cast<char*>(out.data()), std::streamsize(n * 4)))
      fail(path, ": byte ", offset, ": file ends inside ", what, " (", n, " floats expected)");
    offset += n * 4;
  }
};
}  // namespace

std::string state_path_for(const std::string& weights_path) {
  const std::string ext = ".weights";
  if (weights_path.size() > ext.size() &&
      weights_path.compare(weights_path.size() - ext.size(), ext.size(), ext) == 0)
    return weights_path.substr(0, weights_path.size() - ext.size()) + ".state";
  return weights_path + ".state";
}

void save_train_state(const TrainState& s, const std::string& path) {
  const std::string tmp = temporary_path(path);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(tmp, ": cannot open for writing");
    f.write(kMagic, sizeof(kMagic));
    put(f, s.iteration);
    put(f, s.seed);
    put(f, s.param_count);
    uint8_t adam = s.optimizer == "adam";
    put(f, adam);
    put(f, s.optimizer_steps);
    put(f, s.average_loss);
    put(f, s.loss_scale);
    put(f, s.loss_scale_good_steps);
    put(f, uint64_t(s.velocity.size()));
    f.write(reinterpret_cast<const char*>(s.velocity.data()), std::streamsize(s.velocity.size() * 4));
    put(f, uint64_t(s.second.size()));
    f.write(reinterpret_cast<const char*>(s.second.data()), std::streamsize(s.second.size() * 4));
    f.flush();
    if (!f) fail(tmp, ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    fail(path, ": cannot rename ", tmp, " to it: ", std::strerror(errno));
}

TrainState load_train_state(const std::string& path) {
  Reader r;
  r.path = path;
  r.f.open(path, std::ios::binary);
  if (!r.f) fail(path, ": cannot open training state file");
  char magic[8];
  if (!r.f.read(magic, 8) ||
      (std::memcmp(magic, kMagic, 8) != 0 && std::memcmp(magic, kMagicV1, 8) != 0))
    fail(path, ": byte 0: not a mishnet training state file (bad magic)");
  const bool version1 = std::memcmp(magic, kMagicV1, 8) == 0;
  r.offset = 8;
  TrainState s;
  s.iteration = r.get<int64_t>("the iteration");
  s.seed = r.get<uint64_t>("the seed");
  s.param_count = r.get<uint64_t>("the parameter count");
  s.optimizer = r.get<uint8_t>("the optimizer kind") ? "adam" : "sgd";
  s.optimizer_steps = r.get<int64_t>("the optimizer step count");
  s.average_loss = r.get<double>("the average loss");
  if (!version1) {
    s.loss_scale = r.get<float>("the loss scale");
    s.loss_scale_good_steps = r.get<int32_t>("the loss scale's good steps");
  }
  uint64_t nv = r.get<uint64_t>("the momentum size");
  if (nv != s.param_count && nv != 0)
    fail(path, ": byte ", r.offset - 8, ": momentum has ", nv, " floats, expected ", s.param_count);
  r.floats(s.velocity, nv, "the momentum buffer");
  uint64_t ns = r.get<uint64_t>("the second-moment size");
  if (ns != 0 && ns != s.param_count)
    fail(path, ": byte ", r.offset - 8, ": second moment has ", ns, " floats, expected ", s.param_count);
  r.floats(s.second, ns, "the second-moment buffer");
  char extra;
  if (r.f.read(&extra, 1)) fail(path, ": byte ", r.offset, ": trailing data");
  return s;
}

}  // namespace mishnet
