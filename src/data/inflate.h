// DEFLATE decompression (RFC 1951), small and dependency-free, for the gzip-compressed IDX
// files of Debian's dataset packages. (stb_image's zlib decoder, which we already compile,
// rejects some valid streams, e.g. Fashion-MNIST's t10k-labels-idx1-ubyte.gz.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mishnet::data {

// Inflates the raw deflate stream starting at bytes[start]. Returns the data; `end` receives
// the offset of the first byte after the stream (the final block rounded up to a byte).
// Errors name `name` and the byte offset in `bytes`: "x.gz: byte 1234: invalid Huffman code".
std::vector<uint8_t> inflate_raw(const std::vector<uint8_t>& bytes, size_t start, const std::string& name,
                                 size_t& end, size_t size_hint = 0);

}  // namespace mishnet::data
