// float <-> IEEE half (src/kernels/half_precision.h), the conversions of mixed-precision
// training, against known encodings, exhaustively against the definition of round to nearest
// even, and against numpy's float16 (vectors generated once, see below).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/half_precision.h"

namespace mishnet {
namespace {

using kernels::float_bits;
using kernels::float_from_bits;
using kernels::float_to_half_bits;
using kernels::half_bits_to_float;
using kernels::round_to_half;

bool is_nan_half(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

TEST(HalfPrecision, KnownEncodings) {
  struct Case {
    float f;
    uint16_t h;
  };
  const float inf = std::numeric_limits<float>::infinity();
  for (const Case& c : std::vector<Case>{
           {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {0.5f, 0x3800},
           {65504.0f, 0x7bff},                           // largest finite half
           {65519.0f, 0x7bff},                           // below the midpoint to 2^16
           {65520.0f, 0x7c00},                           // the midpoint: ties to even = inf
           {1e6f, 0x7c00}, {-1e6f, 0xfc00}, {inf, 0x7c00}, {-inf, 0xfc00},
           {std::ldexp(1.0f, -14), 0x0400},              // smallest normal
           {std::ldexp(1.0f, -24), 0x0001},              // smallest subnormal
           {std::ldexp(1.0f, -25), 0x0000},              // tie between 0 and 2^-24: to even (0)
           {std::ldexp(1.5f, -25), 0x0001},              // above the tie
           {std::ldexp(3.0f, -25), 0x0002},              // tie between 1 and 2 ulps: to 2
           {std::ldexp(1023.0f, -24), 0x03ff},           // largest subnormal
           {1.0f + std::ldexp(1.0f, -11), 0x3c00},       // tie: to even mantissa (1.0)
           {1.0f + std::ldexp(3.0f, -11), 0x3c02},       // tie: to even mantissa (up)
           {1.0f + std::ldexp(1.0f, -10), 0x3c01}}) {    // exactly one half ulp step
    EXPECT_EQ(float_to_half_bits(c.f), c.h) << c.f;
    if (std::isfinite(c.f) && half_bits_to_float(c.h) == c.f) {
      EXPECT_EQ(round_to_half(c.f), c.f) << c.f;  // representable values are kept exactly
    }
  }
  EXPECT_TRUE(is_nan_half(float_to_half_bits(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_nan_half(float_to_half_bits(float_from_bits(0x7f800001u))));  // signalling
  EXPECT_TRUE(std::isnan(half_bits_to_float(0x7e00)));
  EXPECT_EQ(half_bits_to_float(0x7c00), inf);
  EXPECT_EQ(half_bits_to_float(0xfc00), -inf);
  EXPECT_EQ(half_bits_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_bits_to_float(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::signbit(half_bits_to_float(0x8000)));
}

// Every half comes back to itself through float, and its float value is the IEEE one.
TEST(HalfPrecision, EveryHalfRoundTripsExactly) {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const uint16_t bits = uint16_t(h);
    const float f = half_bits_to_float(bits);
    if (is_nan_half(bits)) {
      ASSERT_TRUE(std::isnan(f)) << h;
      continue;
    }
    const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    const double want = e == 0x1f ? HUGE_VAL
                        : e == 0   ? std::ldexp(double(m), -24)
                                   : std::ldexp(double(1024 + m), int(e) - 25);
    ASSERT_EQ(double(std::fabs(f)), want) << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000u) != 0) << h;
    ASSERT_EQ(float_to_half_bits(f), bits) << h;
  }
}

// Round to nearest, ties to even, at every pair of neighbouring positive halves: the float
// midpoint goes to the even one, the floats just below and above it to the nearer one.
TEST(HalfPrecision, MidpointsRoundToNearestEven) {
  for (uint16_t lo = 0; lo < 0x7bff; ++lo) {
    const uint16_t hi = uint16_t(lo + 1);
    const float a = half_bits_to_float(lo), b = half_bits_to_float(hi);
    const float mid = float((double(a) + double(b)) / 2);  // exact: halves have 11 bits
    ASSERT_EQ(double(mid), (double(a) + double(b)) / 2) << lo;
    ASSERT_EQ(float_to_half_bits(mid), (lo & 1u) ? hi : lo) << lo;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, 0.0f)), lo) << lo;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, b)), hi) << lo;
    ASSERT_EQ(float_to_half_bits(-std::nextafter(mid, 0.0f)), uint16_t(0x8000u | lo)) << lo;
  }
}

// numpy 1.24.2's float32 -> float16 cast (round to nearest even), generated once with
//   rng = np.random.default_rng(20261202)
//   e = rng.uniform(-27, 17, 40); s = rng.choice([-1, 1], 40)
//   f = (s * np.exp2(e)).astype(np.float32)
//   pairs of f.view(np.uint32), f.astype(np.float16).view(np.uint16)
// (magnitudes from 2^-27 to 2^17: zeros, subnormals, normals and overflow to inf), and a
// second set of hand-picked ties and limits cast the same way.
TEST(HalfPrecision, MatchesNumpyFloat16) {
  struct Pair {
    uint32_t f;
    uint16_t h;
  };
  const Pair numpy[] = {
      {0xba45fa63u, 0x9230u}, {0xb58231f4u, 0x8010u}, {0x33a4a8acu, 0x0001u},
      {0xc3ec5882u, 0xdf63u}, {0x3a14fa53u, 0x10a8u}, {0x3c0c326au, 0x2062u},
      {0xb20d579au, 0x8000u}, {0x420bfb9du, 0x5060u}, {0xbdb84240u, 0xadc2u},
      {0x3c81b603u, 0x240eu}, {0x3bfb9328u, 0x1fddu}, {0xc2f99a12u, 0xd7cdu},
      {0x465b406bu, 0x72dau}, {0x3998087eu, 0x0cc0u}, {0x4518e898u, 0x68c7u},
      {0xbedc02c5u, 0xb6e0u}, {0xc7843715u, 0xfc00u}, {0xb599682bu, 0x8013u},
      {0xc2cf0f31u, 0xd678u}, {0xc45f728au, 0xe2fcu}, {0x3fb8484eu, 0x3dc2u},
      {0xc54a25e5u, 0xea51u}, {0xb4c14e9bu, 0x8006u}, {0x33159f49u, 0x0001u},
      {0x4113059au, 0x4898u}, {0xb4223998u, 0x8003u}, {0x382e2b34u, 0x02b9u},
      {0xc1f61435u, 0xcfb1u}, {0x38a58976u, 0x052cu}, {0xb4f44b7du, 0x8008u},
      {0xbc871147u, 0xa439u}, {0xc1fc9a76u, 0xcfe5u}, {0x4507a4bfu, 0x683du},
      {0xb648c243u, 0x8032u}, {0x3c8886b7u, 0x2444u}, {0xb84104afu, 0x8304u},
      {0xb4da29beu, 0x8007u}, {0x3a99622fu, 0x14cbu}, {0xbc81156au, 0xa409u},
      {0x32c5d72bu, 0x0000u},
      // np.array([2**-25, 3*2**-25, 1+2**-11, 1+3*2**-11, 65520, 65519.996, 65504, 2**-14,
      //           2**-14-2**-25, 2**-14-2**-26, -0.0, 0.1, 1/3, 2049, 2051, 1e-8], np.float32)
      {0x33000000u, 0x0000u}, {0x33c00000u, 0x0002u}, {0x3f801000u, 0x3c00u},
      {0x3f803000u, 0x3c02u}, {0x477ff000u, 0x7c00u}, {0x477fefffu, 0x7bffu},
      {0x477fe000u, 0x7bffu}, {0x38800000u, 0x0400u}, {0x387fe000u, 0x0400u},
      {0x387ff000u, 0x0400u}, {0x80000000u, 0x8000u}, {0x3dcccccdu, 0x2e66u},
      {0x3eaaaaabu, 0x3555u}, {0x45001000u, 0x6800u}, {0x45003000u, 0x6802u},
      {0x322bcc77u, 0x0000u}};
  for (const Pair& p : numpy) {
    const float f = float_from_bits(p.f);
    EXPECT_EQ(float_to_half_bits(f), p.h) << std::hex << p.f;
    EXPECT_EQ(float_bits(round_to_half(f)), float_bits(half_bits_to_float(p.h))) << std::hex << p.f;
  }
}

}  // namespace
}  // namespace mishnet
