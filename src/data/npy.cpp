#include "mishnet/npy.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mishnet/error.h"

namespace mishnet {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

std::string shape_tuple(const std::vector<size_t>& shape) {
  std::ostringstream s;
  s << '(';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ',';  // a one-element tuple needs its comma
  s << ')';
  return s.str();
}

// The value after 'key': in the header dict, up to the next top-level comma or brace.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) fail(path, ": .npy header has no '", key, "': ", header);
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) fail(path, ": malformed .npy header: ", header);
  size_t start = header.find_first_not_of(' ', colon + 1);
  size_t end = start;
  int depth = 0;
  for (; end < header.size(); ++end) {
    char ch = header[end];
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
    if (depth == 0 && (ch == ',' || ch == '}')) break;
  }
  std::string v = header.substr(start, end - start);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

}  // namespace

void save_npy(const std::string& path, const float* data, const std::vector<size_t>& shape) {
  static_assert(sizeof(float) == 4);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  // magic(6) + version(2) + length(2) + header + '\n' is padded to a multiple of 64 bytes.
  size_t total = kMagicSize + 2 + 2 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  if (header.size() > 65535) fail(path, ": shape too long for a .npy 1.0 header");

  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(path, ": cannot open for writing");
  f.write(kMagic, kMagicSize);
  const unsigned char version[2] = {1, 0};
  f.write(reinterpret_cast<const char*>(version), 2);
  const uint16_t len = uint16_t(header.size());
  const unsigned char len_le[2] = {static_cast<unsigned char>(len & 0xff), static_cast<unsigned char>(len >> 8)};
  f.write(reinterpret_cast<const char*>(len_le), 2);
  f.write(header.data(), std::streamsize(header.size()));
  size_t count = 1;
  for (size_t d : shape) count *= d;
  f.write(reinterpret_cast<const char*>(data), std::streamsize(count * sizeof(float)));
  f.flush();
  if (!f) fail(path, ": write failed (disk full?)");
}

NpyArray load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open .npy file");
  char magic[kMagicSize];
  unsigned char version[2];
  if (!f.read(magic, kMagicSize) || std::memcmp(magic, kMagic, kMagicSize) != 0)
    fail(path, ": not a .npy file (bad magic)");
  if (!f.read(reinterpret_cast<char*>(version), 2)) fail(path, ": .npy header truncated");
  uint32_t header_len = 0;
  if (version[0] == 1) {
    unsigned char b[2];
    if (!f.read(reinterpret_cast<char*>(b), 2)) fail(path, ": .npy header truncated");
    header_len = uint32_t(b[0]) | (uint32_t(b[1]) << 8);
  } else if (version[0] == 2 || version[0] == 3) {
    unsigned char b[4];
    if (!f.read(reinterpret_cast<char*>(b), 4)) fail(path, ": .npy header truncated");
    header_len = uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16) | (uint32_t(b[3]) << 24);
  } else {
    fail(path, ": unsupported .npy format version ", int(version[0]), ".", int(version[1]));
  }
  std::string header(header_len, '\0');
  if (!f.read(header.data(), std::streamsize(header_len))) fail(path, ": .npy header truncated");

  std::string descr = dict_value(header, "descr", path);
  if (descr != "'<f4'" && descr != "'float32'")
    fail(path, ": .npy dtype ", descr, " is not little-endian float32 ('<f4')");
  if (dict_value(header, "fortran_order", path) != "False") fail(path, ": .npy in Fortran order is not supported");
  std::string shape_text = dict_value(header, "shape", path);
  NpyArray a;
  size_t count = 1;
  {
    std::string inner = shape_text.substr(1, shape_text.size() - 2);  // strip the parentheses
    std::stringstream s(inner);
    std::string item;
    while (std::getline(s, item, ',')) {
      size_t first = item.find_first_not_of(' ');
      if (first == std::string::npos) continue;
      a.shape.push_back(size_t(std::stoull(item.substr(first))));
      count *= a.shape.back();
    }
  }
  a.data.resize(count);
  if (!f.read(reinterpret_cast<char*>(a.data.data()), std::streamsize(count * sizeof(float))))
    fail(path, ": .npy data truncated: expected ", count, " float32 values for shape ", shape_text);
  return a;
}

}  // namespace mishnet
