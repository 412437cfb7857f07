// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed: a big-endian header
// (two zero bytes, a type byte, a dimension count, then one 32-bit size per dimension) and the
// values in row-major order. Only unsigned bytes (type 0x08) are read: both datasets use them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mishnet::data {

struct IdxArray {
  std::vector<uint32_t> dims;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<uint8_t> values;
  size_t count() const { return dims.empty() ? 0 : size_t(dims[0]); }
  size_t item_size() const;  // values per item (product of dims after the first)
};

// Parses IDX bytes. Errors name `name` and the byte offset: "train-images: byte 2: data type
// 0x0d is not supported (expected 0x08, unsigned bytes)", "byte 16: expected 47040000 values
// (60000 x 28 x 28), the file has 100".
IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& name);

// Inflates a gzip member (RFC 1952). Errors give the byte offset in the compressed file; the
// CRC-32 and length in the trailer are checked.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& bytes, const std::string& name);
bool is_gzip(const std::vector<uint8_t>& bytes);

// Reads `path`, inflating it when it starts with the gzip magic, and parses it. Offsets in
// errors about the IDX content then refer to the inflated data, and say so.
IdxArray read_idx_file(const std::string& path);

}  // namespace mishnet::data
