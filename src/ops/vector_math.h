// Element-wise functions for CPU loops that must vectorise. GCC turns a call to libm's expf into
// a vector call only under -ffast-math, so a loop over kernels::mish_gradient stays scalar
// (measured: 13% of a csdarknet53 training step). These versions are branch-free and call
// nothing, and they reuse the formulas of src/kernels/activations.h with their own e^x, so
// they compute what the reference computes to a few ulp (tests/ops/test_batchnorm_activation.cpp).
// CPU only: CUDA has a fast expf of its own.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/activations.h"

namespace mishnet::ops::vec {

// e^x within 2 ulp of expf for x in [-87, 88] (clamped there: e^-87 = 1.6e-38 is the smallest
// normal result). Cody-Waite reduction x = k·ln2 + r, |r| <= ln2/2, and Cephes' degree-6
// polynomial for e^r.
inline float exp(float x) {
  // Written so that GCC vectorises it: rounding by truncating t ± 0.5 (std::floor stays scalar
  // while traps on inexact results are on), clamps as plain selects (not fmin/fmax), and the
  // integer clamped apart from x (a float clamp feeding the conversion becomes a branch).
  const float t = x * 1.44269504088896341f;
  int32_t ki = int32_t(t + std::copysign(0.5f, t));
  ki = ki < -126 ? -126 : ki;
  ki = ki > 127 ? 127 : ki;
  const float k = float(ki);
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float r = std::fma(k, -0.693359375f, x);  // ln2 split in a short head and a tail:
  r = std::fma(k, 2.12194440e-4f, r);       // k·head is exact
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  p = std::fma(p, r * r, r) + 1.0f;
  const float two_k = std::bit_cast<float>((ki + 127) << 23);
  return p * two_k;
}

// Mish and its gradient with the reference's forms and cut-offs; below -87 the value is x·e^x
// (|value| < 1e-35) computed with e^-87, and the gradient is 0 where the reference's is < 1e-35.
inline float mish(float x) {
  const float m = kernels::mish_from_exp(x, exp(x));
  return x >= 20.0f ? x : m;
}
inline float mish_gradient(float x) {
  const float g = kernels::mish_gradient_from_exp(x, exp(x));
  return x >= 15.0f ? 1.0f : (x <= -87.0f ? 0.0f : g);
}

// Logistic σ(x) = 1/(1 + e^-x); saturates exactly at 0 and 1 like the reference.
inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }
inline float swish(float x) { return x * sigmoid(x); }
inline float swish_gradient(float x) {
  const float s = sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}

// The activations this header vectorises; others take the reference loops.
constexpr bool has(Activation a) {
  return a == Activation::linear || a == Activation::mish || a == Activation::swish ||
         a == Activation::leaky || a == Activation::relu || a == Activation::logistic;
}

template <Activation A>
inline float activate(float x) {
  if constexpr (A == Activation::mish) return mish(x);
  else if constexpr (A == Activation::swish) return swish(x);
  else if constexpr (A == Activation::logistic) return sigmoid(x);
  else if constexpr (A == Activation::leaky) return x > 0.0f ? x : kernels::kLeakySlope * x;
  else if constexpr (A == Activation::relu) return x > 0.0f ? x : 0.0f;
  else return x;
}

// df/dx at the pre-activation x. The reference takes the Darknet functions' derivatives from
// the output y; these take them from x (the same values: y > 0 exactly when x > 0 for leaky and
// relu), so that the fused backward needs no output and training need not keep it.
template <Activation A>
inline float gradient(float x) {
  if constexpr (A == Activation::mish) return mish_gradient(x);
  else if constexpr (A == Activation::swish) return swish_gradient(x);
  else if constexpr (A == Activation::logistic) {
    const float s = sigmoid(x);
    return s * (1.0f - s);
  } else if constexpr (A == Activation::leaky) return x > 0.0f ? 1.0f : kernels::kLeakySlope;
  else if constexpr (A == Activation::relu) return x > 0.0f ? 1.0f : 0.0f;
  else return 1.0f;
}

}  // namespace mishnet::ops::vec
