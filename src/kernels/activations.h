// Activation values and derivatives, for host and device (docs/activations.md,
// ../shared/spec/ACTIVATIONS.md). The CPU op and the CUDA kernels both call activate() and
// activation_gradient(), so the CPU tests cover the GPU math.
//
// activation_gradient(a, x, y) is df/dx at the pre-activation x whose output is y. Each function
// reads only what activation_needs(a) names (mishnet/activation.h): Darknet's functions derive
// their gradient from the output, as Darknet does, so a layer need not keep its input; the others
// read x. The argument an activation does not need may hold anything, NaN included.
//
// Only CUDA-compatible C math (expf, log1pf, tanhf, erfcf, hypotf, ...): no std::.
#pragma once
#include <math.h>

#include "kernels/host_device.h"
#include "mishnet/activation.h"

namespace mishnet::kernels {

// ---------------------------------------------------------------------------------------------
// Fixed hyper-parameters (ACTIVATIONS.md §3.1 table defaults; Darknet's own for Darknet names).

constexpr float kLeakySlope = 0.1f;      // Darknet leaky / revleaky
constexpr float kRelieSlope = 0.01f;     // Darknet relie
constexpr float kRampSlope = 0.1f;       // Darknet ramp: relu(x) + 0.1 x
constexpr float kLhtanSlope = 0.001f;    // Darknet lhtan outside [0, 1]
constexpr float kPlseSlope = 0.01f;      // Darknet plse outside [-4, 4]
// SELU with the full-precision constants of Klambauer et al. (Darknet truncates them).
constexpr float kSeluLambda = 1.0507009873554805f;
constexpr float kSeluAlpha = 1.6732632423543772f;
// GELU tanh approximation, accurate constants (Darknet uses 0.797885 and 0.035677).
constexpr float kGeluSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;
constexpr float kEswishBeta = 1.75f;
constexpr float kRreluEvalSlope = 11.0f / 48.0f;  // (1/8 + 1/3) / 2, PyTorch eval mode
constexpr float kSoftplusThreshold = 20.0f;
constexpr float kShrinkLambda = 0.5f;  // hardshrink, softshrink
// PReLU with PyTorch's initial slope. A learned, per-channel slope is a later training feature
// (it needs parameter gradients and weight I/O); until then prelu is this fixed function.
constexpr float kPreluSlope = 0.25f;
constexpr float kCeluAlpha = 1.0f;
constexpr float kAria2Alpha = 1.5f;  // aria2 exponent; beta = 1 is folded into the code
// SReLU with the spec's example parameters (§3.3) until learned parameters exist.
constexpr float kSreluTl = -0.4f, kSreluAl = 0.2f, kSreluTr = 1.5f, kSreluAr = 0.5f;
constexpr float kFtsT = -0.2f;
constexpr float kSineReluEpsilon = 0.001f;
constexpr float kSoftClipAlpha = 0.5f;
constexpr float kWeightedTanhW = 1.7145f;
constexpr float kLecunA = 1.7159f, kLecunB = 2.0f / 3.0f;
constexpr float kThresholdedReluTheta = 1.0f;
constexpr float kBetaMishBeta = 1.5f;

// ---------------------------------------------------------------------------------------------
// Building blocks.

// Logistic without overflow of the intermediate e^-x (safe for ±inf and under fast math).
MISHNET_HD float sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}
// Darknet's name for the same function.
MISHNET_HD float logistic(float x) { return sigmoid(x); }

// ln(1 + e^x) = max(x, 0) + log1p(e^-|x|); linear past the threshold as in PyTorch.
MISHNET_HD float softplus(float x) {
  if (x > kSoftplusThreshold) return x;
  return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

// x·e^x for x <= -80, where e^x may be subnormal (x < -87.3) and would lose its precision:
// e^x = e^(x+32)·e^-32, with x + 32 exact. Zero (correctly rounded) below -120, and for -inf.
MISHNET_HD float x_exp_x_tail(float x) {
  if (x <= -120.0f) return -0.0f;
  return x * expf(x + 32.0f) * 1.26641655e-14f;  // e^-32
}

// 1 − tanh²(u) = 4e/(1+e)² with e = e^(−2|u|): no cancellation where tanh(u) is near ±1
// (1 − t² loses a third of the digits at |u| = 4, and its result depended on FMA contraction).
MISHNET_HD float sech_squared(float u) {
  float e = expf(-2.0f * fabsf(u));
  float d = 1.0f + e;
  return 4.0f * e / (d * d);
}

// Mish, ACTIVATIONS.md §1.6. With e = e^x, n = e(e+2) and d = n+2, tanh(softplus(x)) = n/d.
// x·n/d is accurate where the result is small, x − 2x/d where it is near x; nothing overflows
// (n <= e^40), so the form survives fast-math and __expf. Below -80, n/d = e^x(1 − e^x/2 + ...)
// equals e^x to float precision, and the tail keeps the result within a few ulp down to the
// subnormals (§1.6's "x·e^x with the argument clamped", in place of its -0 below -100).
MISHNET_HD float mish_from_exp(float x, float e) {
  float n = e * (e + 2.0f);
  float d = n + 2.0f;
  return x <= -0.6f ? x * n / d : x - 2.0f * x / d;
}
MISHNET_HD float mish(float x) {
  if (x >= 20.0f) return x;  // exact: mish(x) rounds to x beyond 8.71
  if (x <= -80.0f) return x_exp_x_tail(x);
  return mish_from_exp(x, expf(x));
}

// f' = t + 4·x·e·(1+e)/d², the form without 1 − t² cancellation (§1.2, §1.6); d is divided twice
// so that d² is never formed. mish_gradient_from_exp takes e = e^x (for -100 < x < 15), so that
// a vectorised CPU loop can supply its own e^x (src/ops/vector_math.h).
MISHNET_HD float mish_gradient_from_exp(float x, float e) {
  float n = e * (e + 2.0f);
  float d = n + 2.0f;
  float t = x <= -0.6f ? n / d : 1.0f - 2.0f / d;
  return t + (4.0f * x * e * (1.0f + e) / d) / d;
}
MISHNET_HD float mish_gradient(float x) {
  if (x >= 15.0f) return 1.0f;  // f' rounds to 1 beyond 10.3
  if (x <= -100.0f) return -0.0f;
  return mish_gradient_from_exp(x, expf(x));
}

// beta-Mish, x·tanh(β·softplus(x)) with β = 1.5 (§2.2). With u = (1+e)^β, tanh(β·sp) =
// (u² − 1)/(u² + 1); for β = 1.5, u² − 1 = (1+e)³ − 1 = e(3 + e(3 + e)) has no cancellation,
// so the same two forms as mish() apply with w = u² − 1 in place of n.
MISHNET_HD float beta_mish(float x) {
  if (x >= 20.0f) return x;
  if (x <= -80.0f) return kBetaMishBeta * x_exp_x_tail(x);  // tanh(β·e^x) = β·e^x here
  float e = expf(x);
  float w = e * (3.0f + e * (3.0f + e));
  float d = w + 2.0f;
  return x <= -0.6f ? x * w / d : x - 2.0f * x / d;
}

// f' = t + β·x·σ·(1 − t²) with 1 − t² = 4(w+1)/d² and σ·(w+1) = e(1+e)².
MISHNET_HD float beta_mish_gradient(float x) {
  if (x >= 15.0f) return 1.0f;
  if (x <= -100.0f) return -0.0f;
  float e = expf(x);
  float w = e * (3.0f + e * (3.0f + e));
  float d = w + 2.0f;
  float t = x <= -0.6f ? w / d : 1.0f - 2.0f / d;
  float one_e = 1.0f + e;
  return t + (4.0f * kBetaMishBeta * x * e * one_e * one_e / d) / d;
}

// GELU, tanh approximation: ½x(1 + tanh u) = x·σ(2u), u = √(2/π)(x + 0.044715x³). The σ form
// keeps full relative accuracy for negative x, where 1 + tanh u cancels.
MISHNET_HD float gelu_tanh(float x) {
  float u = kGeluSqrt2OverPi * (x + kGeluCubic * x * x * x);
  return x * sigmoid(2.0f * u);
}

MISHNET_HD float gelu_tanh_gradient(float x) {
  // Beyond |x| = 10 the result is 1 or 0 to float precision, and u' would overflow for huge x.
  if (x > 10.0f) return 1.0f;
  if (x < -10.0f) return 0.0f;
  float u = kGeluSqrt2OverPi * (x + kGeluCubic * x * x * x);
  float du = kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
  float s = sigmoid(2.0f * u), s_neg = sigmoid(-2.0f * u);
  return s + 2.0f * x * s * s_neg * du;
}

// Exact GELU, x·Φ(x), Φ(x) = ½·erfc(−x/√2) (erfc keeps the negative tail accurate).
MISHNET_HD float gelu_erf(float x) { return x * 0.5f * erfcf(-x * kInvSqrt2); }

MISHNET_HD float gelu_erf_gradient(float x) {
  return 0.5f * erfcf(-x * kInvSqrt2) + x * kInvSqrt2Pi * expf(-0.5f * x * x);
}

// x·σ(x) and its derivative σ·(1 + x·(1 − σ)), shared by swish, eswish, elish and fts.
MISHNET_HD float swish(float x) { return x * sigmoid(x); }
MISHNET_HD float swish_gradient(float x) {
  float s = sigmoid(x);
  return s * (1.0f + x * sigmoid(-x));
}

// clamp(x, lo, hi) that lets NaN through (fminf/fmaxf would replace it), so a diverging network
// shows NaN instead of a plausible number.
MISHNET_HD float clamp_nan(float x, float lo, float hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

// Darknet's stair: flat on [2k, 2k+1), slope 1 on [2k+1, 2k+2).
MISHNET_HD float stair(float x) {
  float n = floorf(x);
  float half = floorf(0.5f * x);
  return n == 2.0f * half ? half : (x - n) + half;
}

// Soft clipping, (sp(αx) − sp(α(x−1)))/α, written so neither the linear parts nor the sigmoid
// difference cancel: with a = αx and b = a − α, max(a,0) − max(b,0) is known exactly.
MISHNET_HD float soft_clipping(float x) {
  float a = kSoftClipAlpha * x;
  float b = kSoftClipAlpha * (x - 1.0f);
  float linear = b >= 0.0f ? kSoftClipAlpha : (a <= 0.0f ? 0.0f : a);
  float logs = log1pf(expf(-fabsf(a))) - log1pf(expf(-fabsf(b)));
  return (linear + logs) / kSoftClipAlpha;
}

MISHNET_HD float soft_clipping_gradient(float x) {
  float a = kSoftClipAlpha * x;
  float b = kSoftClipAlpha * (x - 1.0f);
  // σ(a) − σ(b) = σ(−b) − σ(−a); use the side where the two terms are small.
  return x <= 0.5f ? sigmoid(a) - sigmoid(b) : sigmoid(-b) - sigmoid(-a);
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

// The value of activation a at x. NaN propagates. The normalize_channels family acts across
// channels (see ops::activate_reference); element-wise it is the identity.
MISHNET_HD float activate(Activation a, float x) {
  switch (a) {
    // Darknet
    case Activation::linear: return x;
    case Activation::logistic: return sigmoid(x);
    case Activation::relu: return x <= 0.0f ? 0.0f : x;
    case Activation::relu6: return clamp_nan(x, 0.0f, 6.0f);
    case Activation::relie: return x > 0.0f ? x : kRelieSlope * x;
    case Activation::ramp: return x > 0.0f ? x + kRampSlope * x : kRampSlope * x;
    case Activation::tanh: return tanhf(x);
    case Activation::plse:
      if (x < -4.0f) return kPlseSlope * (x + 4.0f);
      if (x > 4.0f) return kPlseSlope * (x - 4.0f) + 1.0f;
      return 0.125f * x + 0.5f;
    case Activation::leaky:
    case Activation::revleaky: return x > 0.0f ? x : kLeakySlope * x;
    case Activation::elu: return x >= 0.0f ? x : expm1f(x);
    case Activation::selu: return x >= 0.0f ? kSeluLambda * x : kSeluLambda * kSeluAlpha * expm1f(x);
    case Activation::gelu: return gelu_tanh(x);
    case Activation::loggy: return tanhf(0.5f * x);  // = 2σ(x) − 1, without the cancellation
    case Activation::stair: return stair(x);
    case Activation::hardtan: return clamp_nan(x, -1.0f, 1.0f);
    case Activation::lhtan:
      if (x < 0.0f) return kLhtanSlope * x;
      if (x > 1.0f) return kLhtanSlope * (x - 1.0f) + 1.0f;
      return x;
    case Activation::swish: return swish(x);
    case Activation::mish: return mish(x);
    case Activation::hard_mish:  // (x/2)·min(2, max(0, x+2)); Darknet: x > 0, x > -2
      if (x <= -2.0f) return 0.0f;
      if (x <= 0.0f) return 0.5f * x * x + x;
      return x;
    case Activation::normalize_channels:
    case Activation::normalize_channels_softmax:
    case Activation::normalize_channels_softmax_maxval: return x;

    // ACTIVATIONS.md §3 and §2
    case Activation::eswish: return kEswishBeta * swish(x);
    case Activation::gelu_erf: return gelu_erf(x);
    case Activation::rrelu: return x >= 0.0f ? x : kRreluEvalSlope * x;
    case Activation::softplus: return softplus(x);
    case Activation::hardshrink: return fabsf(x) <= kShrinkLambda ? 0.0f : x;
    case Activation::logsigmoid: return fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
    case Activation::prelu: return x >= 0.0f ? x : kPreluSlope * x;
    case Activation::celu: return x > 0.0f ? x : kCeluAlpha * expm1f(x / kCeluAlpha);
    case Activation::softshrink:
      if (fabsf(x) <= kShrinkLambda) return 0.0f;
      return x > 0.0f ? x - kShrinkLambda : x + kShrinkLambda;
    case Activation::tanhshrink: return x - tanhf(x);
    case Activation::softsign: return x / (1.0f + fabsf(x));
    case Activation::aria2: {  // x·(1 + e^−x)^−1.5 = x·σ^1.5 (paper form, β = 1, α = 1.5)
      float s = sigmoid(x);
      return x * s * sqrtf(s);
    }
    case Activation::aria2_echo: {  // Echo's version without the factor x (§3.2)
      float s = sigmoid(x);
      return s * sqrtf(s);
    }
    case Activation::bent_identity: {
      // (√(x²+1) − 1)/2 + x, with √(x²+1) − 1 = x²/(√(x²+1) + 1) to avoid cancellation.
      float r = hypotf(x, 1.0f);
      return 0.5f * (x / (r + 1.0f)) * x + x;
    }
    case Activation::sqnl:
      if (x > 2.0f) return 1.0f;
      if (x < -2.0f) return -1.0f;
      return x >= 0.0f ? x - 0.25f * x * x : x + 0.25f * x * x;
    case Activation::elish: return x >= 0.0f ? swish(x) : expm1f(x) * sigmoid(x);
    case Activation::hard_elish: {  // (e^x − 1) on the negative side, not Echo's e^(x−1)
      float h = fmaxf(0.0f, fminf(1.0f, 0.5f * (x + 1.0f)));
      return x >= 0.0f ? x * h : expm1f(x) * h;
    }
    case Activation::srelu:
      if (x >= kSreluTr) return kSreluTr + kSreluAr * (x - kSreluTr);
      if (x <= kSreluTl) return kSreluTl + kSreluAl * (x - kSreluTl);
      return x;
    case Activation::isru: return x / hypotf(x, 1.0f);  // x/√(1+x²), α = 1
    case Activation::isrlu: return x >= 0.0f ? x : x / hypotf(x, 1.0f);
    case Activation::fts: return x < 0.0f ? kFtsT : swish(x) + kFtsT;
    case Activation::sinerelu: return x > 0.0f ? x : kSineReluEpsilon * (sinf(x) - cosf(x));
    case Activation::soft_clipping: return soft_clipping(x);
    case Activation::weighted_tanh: return tanhf(kWeightedTanhW * x);  // Echo form (§3.1 #33)
    case Activation::lecun_tanh: return kLecunA * tanhf(kLecunB * x);
    case Activation::hard_sigmoid: return clamp_nan(0.2f * x + 0.5f, 0.0f, 1.0f);
    case Activation::hard_sigmoid_torch: return clamp_nan(x * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f);
    case Activation::thresholded_relu: return x <= kThresholdedReluTheta ? 0.0f : x;
    case Activation::beta_mish: return beta_mish(x);
    case Activation::count: break;
  }
  return x;
}

// df/dx for the pre-activation x with output y = activate(a, x). Reads y for the activations
// whose ActivationNeeds is `output`, x for `input`, neither for `nothing`. At a kink the
// one-sided value Darknet uses is returned (relu: 0 at 0).
MISHNET_HD float activation_gradient(Activation a, float x, float y) {
  switch (a) {
    // Darknet: from the output, as in its gradient_array()
    case Activation::linear: return 1.0f;
    case Activation::logistic: return y * (1.0f - y);
    case Activation::relu: return y > 0.0f ? 1.0f : 0.0f;
    case Activation::relu6: return (y > 0.0f && y < 6.0f) ? 1.0f : 0.0f;
    case Activation::relie: return y > 0.0f ? 1.0f : kRelieSlope;
    case Activation::ramp: return y > 0.0f ? 1.0f + kRampSlope : kRampSlope;
    case Activation::tanh: return 1.0f - y * y;
    case Activation::plse: return (y < 0.0f || y > 1.0f) ? kPlseSlope : 0.125f;
    case Activation::leaky: return y > 0.0f ? 1.0f : kLeakySlope;
    // Darknet's GPU backward divides delta by the leaky slope (its CPU path multiplies, as for
    // leaky); mishnet follows the GPU, the path Darknet trains with. Not df/dx: the name is the
    // point of this activation.
    case Activation::revleaky: return y > 0.0f ? 1.0f : 1.0f / kLeakySlope;
    case Activation::elu: return y >= 0.0f ? 1.0f : y + 1.0f;
    case Activation::selu: return y >= 0.0f ? kSeluLambda : y + kSeluLambda * kSeluAlpha;
    case Activation::loggy: return 0.5f * (1.0f - y * y);
    case Activation::stair: return floorf(y) == y ? 0.0f : 1.0f;
    case Activation::hardtan: return (y > -1.0f && y < 1.0f) ? 1.0f : 0.0f;
    case Activation::lhtan: return (y > 0.0f && y < 1.0f) ? 1.0f : kLhtanSlope;
    // Darknet, from the input. GELU's derivative needs x: Darknet evaluates it at the output,
    // a bug (ACTIVATIONS.md §1.7) not reproduced here.
    case Activation::gelu: return gelu_tanh_gradient(x);
    case Activation::swish: return swish_gradient(x);
    case Activation::mish: return mish_gradient(x);
    case Activation::hard_mish:
      if (x > 0.0f) return 1.0f;
      if (x > -2.0f) return x + 1.0f;
      return 0.0f;
    // Not element-wise: ops::activation_backward_reference handles them.
    case Activation::normalize_channels:
    case Activation::normalize_channels_softmax:
    case Activation::normalize_channels_softmax_maxval: return 1.0f;

    // §3, from the output (piecewise-linear or ELU-like: exact from y)
    case Activation::rrelu: return y >= 0.0f ? 1.0f : kRreluEvalSlope;
    case Activation::hardshrink: return y != 0.0f ? 1.0f : 0.0f;
    case Activation::celu: return y > 0.0f ? 1.0f : y / kCeluAlpha + 1.0f;
    case Activation::softshrink: return y != 0.0f ? 1.0f : 0.0f;
    case Activation::hard_sigmoid: return (y > 0.0f && y < 1.0f) ? 0.2f : 0.0f;
    case Activation::hard_sigmoid_torch: return (y > 0.0f && y < 1.0f) ? 1.0f / 6.0f : 0.0f;
    case Activation::thresholded_relu: return y > 0.0f ? 1.0f : 0.0f;

    // §3 and §2, from the input
    case Activation::eswish: return kEswishBeta * swish_gradient(x);
    case Activation::gelu_erf: return gelu_erf_gradient(x);
    case Activation::softplus: return sigmoid(x);
    case Activation::logsigmoid: return sigmoid(-x);
    case Activation::prelu: return x > 0.0f ? 1.0f : kPreluSlope;
    case Activation::tanhshrink: {
      float t = tanhf(x);
      return t * t;
    }
    case Activation::softsign: {
      float r = 1.0f / (1.0f + fabsf(x));
      return r * r;
    }
    case Activation::aria2: {  // g·(1 + αx(1 − σ)), g = σ^α
      float s = sigmoid(x);
      return s * sqrtf(s) * (1.0f + kAria2Alpha * x * sigmoid(-x));
    }
    case Activation::aria2_echo: {
      float s = sigmoid(x);
      return kAria2Alpha * s * sqrtf(s) * sigmoid(-x);
    }
    case Activation::bent_identity: return 0.5f * x / hypotf(x, 1.0f) + 1.0f;
    case Activation::sqnl:
      if (x > 2.0f || x < -2.0f) return 0.0f;
      return x >= 0.0f ? 1.0f - 0.5f * x : 1.0f + 0.5f * x;
    case Activation::elish: {
      if (x >= 0.0f) return swish_gradient(x);
      float s = sigmoid(x);
      return expf(x) * s + expm1f(x) * s * sigmoid(-x);
    }
    case Activation::hard_elish:
      if (x >= 1.0f) return 1.0f;
      if (x >= 0.0f) return x + 0.5f;
      if (x > -1.0f) return 0.5f * (expf(x) * (x + 1.0f) + expm1f(x));
      return 0.0f;
    case Activation::srelu:
      if (x >= kSreluTr) return kSreluAr;
      if (x <= kSreluTl) return kSreluAl;
      return 1.0f;
    case Activation::isru: {  // (1 + x²)^−3/2
      float r = 1.0f / hypotf(x, 1.0f);
      return r * r * r;
    }
    case Activation::isrlu: {
      if (x >= 0.0f) return 1.0f;
      float r = 1.0f / hypotf(x, 1.0f);
      return r * r * r;
    }
    case Activation::fts: return x >= 0.0f ? swish_gradient(x) : 0.0f;
    case Activation::sinerelu: return x > 0.0f ? 1.0f : kSineReluEpsilon * (cosf(x) + sinf(x));
    case Activation::soft_clipping: return soft_clipping_gradient(x);
    case Activation::weighted_tanh: return kWeightedTanhW * sech_squared(kWeightedTanhW * x);
    case Activation::lecun_tanh: return kLecunA * kLecunB * sech_squared(kLecunB * x);
    case Activation::beta_mish: return beta_mish_gradient(x);
    case Activation::count: break;
  }
  return 1.0f;
}

}  // namespace mishnet::kernels
