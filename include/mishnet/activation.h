// Activation functions by name. The math lives in src/kernels/activations.h (host and device).
#pragma once
#include <string>

namespace mishnet {

// Darknet's names first, then the functions of the Mish paper's comparison (ACTIVATIONS.md §3),
// H-Mish and beta-Mish. Fixed hyper-parameters are the spec's defaults.
enum class Activation : int {
  // Darknet
  linear, logistic, relu, relu6, relie, ramp, tanh, plse, leaky, revleaky, elu, selu, gelu,
  loggy, stair, hardtan, lhtan, swish, mish, hard_mish,
  normalize_channels, normalize_channels_softmax, normalize_channels_softmax_maxval,
  // ACTIVATIONS.md section 3 and 2
  eswish, gelu_erf, rrelu, softplus, hardshrink, logsigmoid, prelu, celu, softshrink,
  tanhshrink, softsign, aria2, aria2_echo, bent_identity, sqnl, elish, hard_elish, srelu, isru,
  isrlu, fts, sinerelu, soft_clipping, weighted_tanh, lecun_tanh, hard_sigmoid,
  hard_sigmoid_torch, thresholded_relu, beta_mish,
  count
};

// What the backward pass of an activation needs to keep from the forward pass (spec §1.7).
enum class ActivationNeeds { output, input, nothing };

const char* activation_name(Activation a);
// Throws mishnet::Error("unknown activation 'x'") for names that are not in the list;
// callers add file:line.
Activation parse_activation(const std::string& name);
// normalize_channels* act across channels and are not element-wise.
bool activation_is_elementwise(Activation a);
ActivationNeeds activation_needs(Activation a);

}  // namespace mishnet
