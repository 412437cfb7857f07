#include "mishnet/activation.h"

#include <string>

#include "mishnet/error.h"

namespace mishnet {

namespace {

// Indexed by the enum's value; the static_assert below keeps the two in step. Darknet's names
// are Darknet's cfg keywords; the others are snake_case names of ACTIVATIONS.md §2-3.
constexpr const char* kNames[] = {
    // Darknet
    "linear", "logistic", "relu", "relu6", "relie", "ramp", "tanh", "plse", "leaky", "revleaky",
    "elu", "selu", "gelu", "loggy", "stair", "hardtan", "lhtan", "swish", "mish", "hard_mish",
    "normalize_channels", "normalize_channels_softmax", "normalize_channels_softmax_maxval",
    // ACTIVATIONS.md section 3 and 2
    "eswish", "gelu_erf", "rrelu", "softplus", "hardshrink", "logsigmoid", "prelu", "celu",
    "softshrink", "tanhshrink", "softsign", "aria2", "aria2_echo", "bent_identity", "sqnl", "elish",
    "hard_elish", "srelu", "isru", "isrlu", "fts", "sinerelu", "soft_clipping", "weighted_tanh",
    "lecun_tanh", "hard_sigmoid", "hard_sigmoid_torch", "thresholded_relu", "beta_mish"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == size_t(Activation::count),
              "one name per Activation value");

std::string known_names() {
  std::string list;
  for (const char* n : kNames) {
    if (!list.empty()) list += ", ";
    list += n;
  }
  return list;
}

}  // namespace

const char* activation_name(Activation a) {
  int i = int(a);
  return i >= 0 && i < int(Activation::count) ? kNames[i] : "?";
}

Activation parse_activation(const std::string& name) {
  for (int i = 0; i < int(Activation::count); ++i)
    if (name == kNames[i]) return Activation(i);
  fail("unknown activation '", name, "' (known: ", known_names(), ")");
}

bool activation_is_elementwise(Activation a) {
  return a != Activation::normalize_channels && a != Activation::normalize_channels_softmax &&
         a != Activation::normalize_channels_softmax_maxval;
}

// What kernels::activation_gradient (and the channel-wise backward) reads: ACTIVATIONS.md §1.7.
// `output` where the derivative is an exact function of y (Darknet's own choice for its
// functions, plus the piecewise-linear and ELU-like ones); `input` for the rest.
ActivationNeeds activation_needs(Activation a) {
  switch (a) {
    case Activation::linear: return ActivationNeeds::nothing;

    case Activation::logistic:
    case Activation::relu:
    case Activation::relu6:
    case Activation::relie:
    case Activation::ramp:
    case Activation::tanh:
    case Activation::plse:
    case Activation::leaky:
    case Activation::revleaky:
    case Activation::elu:
    case Activation::selu:
    case Activation::loggy:
    case Activation::stair:
    case Activation::hardtan:
    case Activation::lhtan:
    case Activation::normalize_channels_softmax:
    case Activation::normalize_channels_softmax_maxval:
    case Activation::rrelu:
    case Activation::hardshrink:
    case Activation::celu:
    case Activation::softshrink:
    case Activation::hard_sigmoid:
    case Activation::hard_sigmoid_torch:
    case Activation::thresholded_relu: return ActivationNeeds::output;

    // The exact normalize_channels gradient needs 1/(eps + sum of positives), which the
    // output cannot give back accurately. prelu and srelu will learn their parameters, whose
    // gradients need x.
    case Activation::normalize_channels:
    case Activation::gelu:
    case Activation::swish:
    case Activation::mish:
    case Activation::hard_mish:
    case Activation::eswish:
    case Activation::gelu_erf:
    case Activation::softplus:
    case Activation::logsigmoid:
    case Activation::prelu:
    case Activation::tanhshrink:
    case Activation::softsign:
    case Activation::aria2:
    case Activation::aria2_echo:
    case Activation::bent_identity:
    case Activation::sqnl:
    case Activation::elish:
    case Activation::hard_elish:
    case Activation::srelu:
    case Activation::isru:
    case Activation::isrlu:
    case Activation::fts:
    case Activation::sinerelu:
    case Activation::soft_clipping:
    case Activation::weighted_tanh:
    case Activation::lecun_tanh:
    case Activation::beta_mish: return ActivationNeeds::input;

    case Activation::count: break;
  }
  fail("activation_needs: invalid activation value ", int(a));
}

}  // namespace mishnet
