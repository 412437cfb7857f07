#include "ops/blocked_layout.h"

#include <cstddef>

#include "mishnet/error.h"

namespace mishnet::ops {

namespace {

constexpr int kLanes = 16;

size_t blocked_index(const Shape& s, int b, int c, int y, int x) {
  return (((size_t(b) * size_t(s.c / kLanes) + size_t(c / kLanes)) * size_t(s.h) + size_t(y)) *
              size_t(s.w) + size_t(x)) * kLanes + size_t(c % kLanes);
}

size_t plain_index(const Shape& s, int b, int c, int y, int x) {
  return ((size_t(b) * size_t(s.c) + size_t(c)) * size_t(s.h) + size_t(y)) * size_t(s.w) +
         size_t(x);
}

void check(const Shape& s) {
  if (s.c % kLanes != 0)
    fail("nChw16c needs channels in multiples of 16, got ", s.c);
}

}  // namespace

void blocked16_from_nchw(const Shape& s, const float* src, float* dst) {
  check(s);
  for (int b = 0; b < s.n; ++b)
    for (int c = 0; c < s.c; ++c)
      for (int y = 0; y < s.h; ++y)
        for (int x = 0; x < s.w; ++x) dst[blocked_index(s, b, c, y, x)] = src[plain_index(s, b, c, y, x)];
}

void nchw_from_blocked16(const Shape& s, const float* src, float* dst) {
  check(s);
  for (int b = 0; b < s.n; ++b)
    for (int c = 0; c < s.c; ++c)
      for (int y = 0; y < s.h; ++y)
        for (int x = 0; x < s.w; ++x) dst[plain_index(s, b, c, y, x)] = src[blocked_index(s, b, c, y, x)];
}

}  // namespace mishnet::ops
