// A canonical-Huffman inflater: codes are decoded one bit at a time against per-length counts
// (the method of zlib's reference decoder "puff"). Simple rather than fast: Fashion-MNIST's
// 47 MB of training images inflate in about a second, once per conversion.
#include "data/inflate.h"

#include "mishnet/error.h"

namespace mishnet::data {

namespace {

constexpr int kMaxBits = 15;

class BitReader {
 public:
  BitReader(const std::vector<uint8_t>& bytes, size_t start, const std::string& name)
      : bytes_(bytes), pos_(start), name_(name) {}

  int bits(int need) {
    uint32_t value = buffer_;
    while (count_ < need) {
      if (pos_ >= bytes_.size()) fail(name_, ": byte ", pos_, ": the deflate data ends early (truncated file?)");
      value |= uint32_t(bytes_[pos_++]) << count_;
      count_ += 8;
    }
    buffer_ = value >> need;
    count_ -= need;
    return int(value & ((1u << need) - 1));
  }

  // Stored blocks start at a byte boundary: drop the rest of the current byte.
  void align() {
    buffer_ = 0;
    count_ = 0;
  }
  size_t position() const { return pos_; }
  const std::string& name() const { return name_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  void skip(size_t n) { pos_ += n; }

 private:
  const std::vector<uint8_t>& bytes_;
  size_t pos_;
  const std::string& name_;
  uint32_t buffer_ = 0;
  int count_ = 0;
};

struct Huffman {
  short count[kMaxBits + 1] = {};  // codes of each length
  short symbol[288] = {};          // symbols ordered by code
};

// Builds the decoding table from code lengths. Over-subscribed sets are an error; incomplete
// ones are allowed (a stream may use a single distance code, which the format permits).
void build(Huffman& h, const short* lengths, int n, BitReader& in, const char* what) {
  for (short& c : h.count) c = 0;
  for (int s = 0; s < n; ++s) h.count[lengths[s]]++;
  if (h.count[0] == n) return;  // no codes: fine until a symbol is actually needed
  int left = 1;
  for (int len = 1; len <= kMaxBits; ++len) {
    left <<= 1;
    left -= h.count[len];
    if (left < 0) fail(in.name(), ": byte ", in.position(), ": over-subscribed ", what, " code lengths");
  }
  short offsets[kMaxBits + 1];
  offsets[1] = 0;
  for (int len = 1; len < kMaxBits; ++len) offsets[len + 1] = short(offsets[len] + h.count[len]);
  for (int s = 0; s < n; ++s)
    if (lengths[s] != 0) h.symbol[offsets[lengths[s]]++] = short(s);
}

int decode(BitReader& in, const Huffman& h) {
  int code = 0, first = 0, index = 0;
  for (int len = 1; len <= kMaxBits; ++len) {
    code |= in.bits(1);
    int count = h.count[len];
    if (code - count < first) return h.symbol[index + (code - first)];
    index += count;
    first += count;
    first <<= 1;
    code <<= 1;
  }
  fail(in.name(), ": byte ", in.position(), ": invalid Huffman code in the deflate data");
}

const short kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                               31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
const short kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
const short kDistBase[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                             193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
const short kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

void inflate_codes(BitReader& in, std::vector<uint8_t>& out, const Huffman& lengths, const Huffman& distances) {
  for (;;) {
    int symbol = decode(in, lengths);
    if (symbol < 256) {
      out.push_back(uint8_t(symbol));
    } else if (symbol == 256) {
      return;
    } else {
      symbol -= 257;
      if (symbol >= 29) fail(in.name(), ": byte ", in.position(), ": invalid length code in the deflate data");
      size_t len = size_t(kLengthBase[symbol] + in.bits(kLengthExtra[symbol]));
      int d = decode(in, distances);
      if (d >= 30) fail(in.name(), ": byte ", in.position(), ": invalid distance code in the deflate data");
      size_t dist = size_t(kDistBase[d]) + size_t(in.bits(kDistExtra[d]));
      if (dist > out.size())
        fail(in.name(), ": byte ", in.position(), ": a back-reference reaches ", dist, " bytes back, before the start");
      size_t from = out.size() - dist;
      for (size_t i = 0; i < len; ++i) out.push_back(out[from + i]);  // may overlap what it writes
    }
  }
}

void fixed_tables(Huffman& lengths, Huffman& distances, BitReader& in) {
  short l[288];
  int s = 0;
  for (; s < 144; ++s) l[s] = 8;
  for (; s < 256; ++s) l[s] = 9;
  for (; s < 280; ++s) l[s] = 7;
  for (; s < 288; ++s) l[s] = 8;
  build(lengths, l, 288, in, "literal/length");
  short d[30];
  for (short& v : d) v = 5;
  build(distances, d, 30, in, "distance");
}

void dynamic_tables(Huffman& lengths, Huffman& distances, BitReader& in) {
  static const short order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  const int nlen = in.bits(5) + 257, ndist = in.bits(5) + 1, ncode = in.bits(4) + 4;
  if (nlen > 286 || ndist > 30) fail(in.name(), ": byte ", in.position(), ": bad dynamic block header");
  short l[320] = {};
  for (int i = 0; i < ncode; ++i) l[order[i]] = short(in.bits(3));
  Huffman code_lengths;
  build(code_lengths, l, 19, in, "code-length");
  int i = 0;
  while (i < nlen + ndist) {
    int symbol = decode(in, code_lengths);
    if (symbol < 16) {
      l[i++] = short(symbol);
      continue;
    }
    short value = 0;
    int repeat = 0;
    if (symbol == 16) {
      if (i == 0) fail(in.name(), ": byte ", in.position(), ": a repeat code with no length before it");
      value = l[i - 1];
      repeat = 3 + in.bits(2);
    } else if (symbol == 17) {
      repeat = 3 + in.bits(3);
    } else {
      repeat = 11 + in.bits(7);
    }
    if (i + repeat > nlen + ndist) fail(in.name(), ": byte ", in.position(), ": code lengths overrun the table");
    while (repeat--) l[i++] = value;
  }
  if (l[256] == 0) fail(in.name(), ": byte ", in.position(), ": the block has no end-of-block code");
  build(lengths, l, nlen, in, "literal/length");
  build(distances, l + nlen, ndist, in, "distance");
}

}  // namespace

std::vector<uint8_t> inflate_raw(const std::vector<uint8_t>& bytes, size_t start, const std::string& name, size_t& end,
                                 size_t size_hint) {
  BitReader in(bytes, start, name);
  std::vector<uint8_t> out;
  out.reserve(size_hint);
  bool last = false;
  while (!last) {
    last = in.bits(1) != 0;
    int type = in.bits(2);
    if (type == 0) {
      in.align();
      size_t at = in.position();
      if (at + 4 > bytes.size()) fail(name, ": byte ", at, ": the deflate data ends inside a stored block header");
      size_t len = size_t(bytes[at]) | (size_t(bytes[at + 1]) << 8);
      size_t nlen = size_t(bytes[at + 2]) | (size_t(bytes[at + 3]) << 8);
      if (len != (~nlen & 0xFFFF)) fail(name, ": byte ", at, ": stored block length and its complement disagree");
      if (at + 4 + len > bytes.size()) fail(name, ": byte ", at, ": the deflate data ends inside a stored block");
      out.insert(out.end(), bytes.begin() + std::ptrdiff_t(at + 4), bytes.begin() + std::ptrdiff_t(at + 4 + len));
      in.skip(4 + len);
    } else if (type == 1 || type == 2) {
      Huffman lengths, distances;
      if (type == 1) fixed_tables(lengths, distances, in);
      else dynamic_tables(lengths, distances, in);
      inflate_codes(in, out, lengths, distances);
    } else {
      fail(name, ": byte ", in.position(), ": invalid deflate block type 3");
    }
  }
  end = in.position();  // unread bits of the last byte are padding
  return out;
}

}  // namespace mishnet::data
