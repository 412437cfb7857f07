// Dropout as Darknet trains it: each element is dropped with probability p (a uniform draw
// r < p) and the survivors are scaled by 1/(1-p). Plain reference implementations.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>

namespace mishnet::ops {

// keep[i] = 1 when element i survives. The uniform draws come from the top 24 bits of each
// rng() output, so a seed gives the same mask on every platform and standard library.
void dropout_draw_mask(std::mt19937_64& rng, float probability, size_t n, uint8_t* keep);
// out = keep ? in * scale : 0
void dropout_forward(size_t n, const float* in, const uint8_t* keep, float scale, float* out);
// din += keep ? dout * scale : 0
void dropout_backward(size_t n, const float* dout, const uint8_t* keep, float scale, float* din);

}  // namespace mishnet::ops
