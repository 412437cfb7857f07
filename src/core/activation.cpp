#include "mishnet/activation.h"

#include "mishnet/error.h"

namespace mishnet {

namespace {
struct Entry {
  Activation a;
  const char* name;
};
constexpr Entry kNames[] = {
    {Activation::linear, "linear"}, {Activation::logistic, "logistic"},
    {Activation::relu, "relu"},     {Activation::leaky, "leaky"},
    {Activation::tanh, "tanh"},     {Activation::swish, "swish"},
    {Activation::mish, "mish"},
};
}  // namespace

const char* activation_name(Activation a) {
  for (const auto& e : kNames)
    if (e.a == a) return e.name;
  return "?";
}

Activation parse_activation(const std::string& name) {
  for (const auto& e : kNames)
    if (name == e.name) return e.a;
  fail("unknown activation '", name, "'");
}

bool activation_is_elementwise(Activation a) {
  return a != Activation::normalize_channels && a != Activation::normalize_channels_softmax &&
         a != Activation::normalize_channels_softmax_maxval;
}

ActivationNeeds activation_needs(Activation a) {
  switch (a) {
    case Activation::linear: return ActivationNeeds::nothing;
    case Activation::mish:
    case Activation::swish: return ActivationNeeds::input;
    default: return ActivationNeeds::output;
  }
}

}  // namespace mishnet
