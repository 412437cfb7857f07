#include "data/idx_file.h"

#include <array>
#include <fstream>
#include <iterator>
#include <sstream>

#include "mishnet/error.h"
#include "data/inflate.h"

namespace mishnet::data {

namespace {

uint32_t read_be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) | uint32_t(b[at + 3]);
}

uint32_t read_le32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) | (uint32_t(b[at + 1]) << 8) | (uint32_t(b[at + 2]) << 16) | (uint32_t(b[at + 3]) << 24);
}

uint32_t crc32(const uint8_t* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string hex_byte(unsigned v) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[(v >> 4) & 15] + digits[v & 15];
}

}  // namespace

size_t IdxArray::item_size() const {
  size_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.size() < 4)
    fail(name, ": byte ", bytes.size(), ": the file ends inside the 4-byte IDX magic (it has ", bytes.size(), " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0) {
    std::ostringstream magic;
    for (int i = 0; i < 4; ++i) magic << (i ? " " : "") << hex_byte(bytes[size_t(i)]);
    fail(name, ": byte 0: bad IDX magic (", magic.str(), "): expected 0x00 0x00, a type byte and a dimension count");
  }
  if (bytes[2] != 0x08)
    fail(name, ": byte 2: IDX data type ", hex_byte(bytes[2]),
         " is not supported (expected 0x08, unsigned bytes, as MNIST and Fashion-MNIST)");
  const size_t ndims = bytes[3];
  if (ndims < 1) fail(name, ": byte 3: an IDX file needs at least one dimension, the header says 0");
  const size_t header = 4 + 4 * ndims;
  if (bytes.size() < header)
    fail(name, ": byte ", bytes.size(), ": the file ends inside the IDX header (", ndims, " dimensions need ", header,
         " bytes, the file has ", bytes.size(), ")");
  IdxArray out;
  uint64_t total = 1;
  std::ostringstream shape;
  for (size_t i = 0; i < ndims; ++i) {
    uint32_t d = read_be32(bytes, 4 + 4 * i);
    out.dims.push_back(d);
    total *= d;
    if (total > (uint64_t(1) << 40)) fail(name, ": byte ", 4 + 4 * i, ": IDX dimensions are implausibly large");
    shape << (i ? " x " : "") << d;
  }
  const uint64_t have = bytes.size() - header;
  if (have != total)
    fail(name, ": byte ", header, ": expected ", total, " values (", shape.str(), ") after the header, the file has ",
         have, have < total ? " (truncated)" : " (trailing data)");
  out.values.assign(bytes.begin() + std::ptrdiff_t(header), bytes.end());
  return out;
}

bool is_gzip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& b, const std::string& name) {
  if (!is_gzip(b)) fail(name, ": byte 0: not gzip data (expected 0x1f 0x8b)");
  if (b.size() < 18) fail(name, ": byte ", b.size(), ": truncated gzip file (", b.size(), " bytes)");
  if (b[2] != 8) fail(name, ": byte 2: gzip compression method ", int(b[2]), " is not deflate (8)");
  const uint8_t flags = b[3];
  if (flags & 0xE0) fail(name, ": byte 3: reserved gzip flag bits are set (", hex_byte(flags), ")");
  size_t at = 10;
  auto need = [&](size_t n, const char* what) {
    if (at + n > b.size()) fail(name, ": byte ", at, ": the file ends inside the gzip ", what);
  };
  if (flags & 0x04) {  // FEXTRA
    need(2, "extra field length");
    size_t len = size_t(b[at]) | (size_t(b[at + 1]) << 8);
    at += 2;
    need(len, "extra field");
    at += len;
  }
  for (uint8_t flag : {uint8_t(0x08), uint8_t(0x10)}) {  // FNAME, FCOMMENT: zero-terminated
    if (!(flags & flag)) continue;
    while (at < b.size() && b[at] != 0) ++at;
    need(1, flag == 0x08 ? "file name" : "comment");
    ++at;
  }
  if (flags & 0x02) {  // FHCRC
    need(2, "header CRC");
    at += 2;
  }
  if (b.size() < at + 8) fail(name, ": byte ", at, ": the file ends before the deflate data and the gzip trailer");
  const uint32_t hinted_size = read_le32(b, b.size() - 4);
  size_t end = 0;
  std::vector<uint8_t> out = inflate_raw(b, at, name, end, hinted_size < (1u << 30) ? hinted_size : 0);
  if (end + 8 > b.size()) fail(name, ": byte ", end, ": the file ends inside the gzip trailer");
  if (end + 8 < b.size())
    fail(name, ": byte ", end + 8, ": ", b.size() - end - 8, " bytes follow the gzip trailer (multi-member gzip files are not supported)");
  if (crc32(out.data(), out.size()) != read_le32(b, end))
    fail(name, ": byte ", end, ": CRC-32 mismatch: the data is corrupt");
  if (uint32_t(out.size()) != read_le32(b, end + 4))
    fail(name, ": byte ", end + 4, ": the gzip trailer gives a length of ", read_le32(b, end + 4), " bytes, inflating gave ", out.size());
  return out;
}

IdxArray read_idx_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the IDX file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, ": read error");
  if (is_gzip(bytes)) return parse_idx(gunzip(bytes, path), path + " (inflated)");
  return parse_idx(bytes, path);
}

}  // namespace mishnet::data
