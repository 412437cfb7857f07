// IEEE 754 binary16 (CUDA's __half, numpy's float16) as bit patterns in uint16_t, for host and
// device: the conversions of mixed-precision training ([net] mixed_precision=1) written once,
// so the GPU conversion kernels (backend/cuda/half_conversion_kernels.cu) compute exactly what
// the CPU tests check (tests/kernels/test_half_precision.cpp, against numpy's float16).
// Integer arithmetic only: no CUDA types, usable from any CPU file.
#pragma once
#include <stdint.h>
#include <string.h>

#include "kernels/host_device.h"

namespace mishnet::kernels {

MISHNET_HD uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

MISHNET_HD float float_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// The largest finite half, 65504; |x| >= 65520 (the midpoint to 2^16) rounds to infinity.
constexpr float kHalfMax = 65504.0f;

// float -> half, rounding to nearest, ties to even (as __float2half_rn and numpy): finite
// values beyond the half range become +-inf, NaN stays a (quiet) NaN, values below half's
// smallest subnormal (2^-24) round to +-0 or +-2^-24.
MISHNET_HD uint16_t float_to_half_bits(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u)  // inf, or NaN (quiet bit set, top payload bits kept)
    return uint16_t(sign | 0x7c00u | (mag > 0x7f800000u ? 0x0200u | ((mag >> 13) & 0x3ffu) : 0u));
  if (mag >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520: infinity
  if (mag >= 0x38800000u) {                                 // >= 2^-14: a normal half
    // Rebias the exponent (127 -> 15) and round 23 mantissa bits to 10; a carry out of the
    // mantissa correctly increments the exponent.
    const uint32_t m = mag - 0x38000000u;
    return uint16_t(sign | ((m + 0x0fffu + ((m >> 13) & 1u)) >> 13));
  }
  if (mag <= 0x33000000u) return uint16_t(sign);  // <= 2^-25: ties to even give zero
  // Subnormal half: value / 2^-24 = (mantissa with its implicit bit) * 2^(exponent - 126).
  const uint32_t exponent = mag >> 23;  // 102..112 here
  const uint32_t mantissa = (mag & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14..24
  uint32_t q = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (q & 1u))) ++q;  // 0x400 is the smallest normal
  return uint16_t(sign | q);
}

// half -> float: exact (every half is a float).
MISHNET_HD float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float v = float(mantissa) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return float_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// What storing `f` as a half and reading it back gives: the host reference of the rounding the
// half convolution applies to its inputs, weights and results.
MISHNET_HD float round_to_half(float f) { return half_bits_to_float(float_to_half_bits(f)); }

}  // namespace mishnet::kernels
