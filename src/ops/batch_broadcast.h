// One image's worth of values repeated over the batch, and its adjoint (a sum over the batch):
// the forward and backward of [implicit], whose output is its parameters.
#pragma once
#include <cstddef>

namespace mishnet::ops {

// dst[b * count + i] = src[i] for every image b.
void broadcast_over_batch_reference(const float* src, size_t count, int batch, float* dst);
// dst[i] += sum over b of src[b * count + i].
void sum_over_batch_reference(const float* src, size_t count, int batch, float* dst);

}  // namespace mishnet::ops
