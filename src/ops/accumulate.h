// dst += src over n floats: how a layer whose gradient it computed in place (in its own delta)
// passes it on under the ADD semantics of BackwardContext.
#pragma once
#include <cstddef>

namespace mishnet::ops {

void accumulate_reference(const float* src, size_t n, float* dst);

}  // namespace mishnet::ops
