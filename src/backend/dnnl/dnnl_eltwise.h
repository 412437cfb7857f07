// Activations as oneDNN eltwise operations: standalone (in place on a tensor) or as post-ops of
// a convolution. oneDNN computes its transcendental functions with its own polynomial
// approximations, so each activation is used only after it has been checked, once per process,
// against kernels::activate (the reference every backend must match).
#pragma once
#include <cstddef>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <vector>

#include "mishnet/activation.h"

namespace mishnet::dnnl_backend {

struct EltwiseStep {
  dnnl::algorithm algorithm;
  float alpha = 0.0f;
  float beta = 0.0f;
};
using EltwiseChain = std::vector<EltwiseStep>;

// The oneDNN steps that compute `a` one after another (empty for linear), or nullopt when
// oneDNN has no such function.
std::optional<EltwiseChain> eltwise_chain(Activation a);

// How far oneDNN may be from kernels::activate: |dnnl − ref| <= kEltwiseTolerance·max(1, |ref|)
// for every x of the sweep (x in [-1e4, 1e4], dense in [-30, 30], and NaN). Absolute near zero
// because both sides round differently there (e^x − 1 against expm1, say) and the network never
// tells 1e-7 from 0; relative above 1, where that is a few float ulps. oneDNN's mish passes with
// 9.9e-7: it returns 0 below x = -17, where mish(x) > -1e-6 (Darknet's CPU mish has the same
// absolute error in that tail, ACTIVATIONS.md §1.4).
constexpr double kEltwiseTolerance = 1e-6;

// Primitives that run `chain` on `count` contiguous floats, one after another.
std::vector<dnnl::eltwise_forward> make_primitives(const EltwiseChain& chain, size_t count);

// max over the sweep of |dnnl − ref| / max(1, |ref|); +inf when oneDNN disagrees on a non-finite
// value (the sweep includes NaN, which must come out NaN: oneDNN's relu and clip, being max/min,
// return the bound) or cannot run the chain; NaN when there is no chain. Computed once per
// activation and process.
double eltwise_sweep_error(Activation a);

// True when oneDNN has `a` and eltwise_sweep_error(a) <= kEltwiseTolerance.
bool eltwise_usable(Activation a);

// Applies `a` in place with oneDNN. Returns false, touching nothing, when !eltwise_usable(a).
bool eltwise_forward(Activation a, float* data, size_t count);

// eltwise_usable(a), and the chain can run as post-ops of one primitive (no algorithm twice).
bool eltwise_fusable(Activation a);

// Appends the chain of `a` to `ops` (for fusing into a convolution); false, appending nothing,
// when !eltwise_fusable(a).
bool append_activation_post_ops(Activation a, dnnl::post_ops& ops);

}  // namespace mishnet::dnnl_backend
