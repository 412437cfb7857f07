// Reference activation op: element-wise through kernels::activate, and Darknet's
// normalize_channels family across the channels of each pixel.
#include <math.h>

#include <limits>

#include "kernels/activations.h"
#include "kernels/normalize_channels.h"
#include "mishnet/error.h"
#include "ops/activation_op.h"

namespace mishnet::ops {

namespace {

// Below this many elements, starting OpenMP threads costs more than the loop.
constexpr long kParallelMin = 1 << 14;

// Calls fn(pixel_base, channels, stride) for every (image, pixel): the pixel's channel k is at
// pixel_base[k * stride].
template <typename Fn>
void for_each_pixel(const Tensor& t, Fn fn) {
  const long spatial = long(t.shape.h) * t.shape.w;
  const long pixels = long(t.shape.n) * spatial;
  const int channels = t.shape.c;
#pragma omp parallel for schedule(static) if (pixels * channels >= kParallelMin)
  for (long i = 0; i < pixels; ++i) {
    const long b = i / spatial, p = i % spatial;
    fn(t.data + b * channels * spatial + p, channels, spatial);
  }
}

// The per-pixel math is shared with the CUDA kernels (kernels/normalize_channels.h).
void normalize_channels(const Tensor& t) {
  for_each_pixel(t, [](float* x, int channels, long stride) {
    kernels::normalize_channels_forward(x, channels, stride);
  });
}

void normalize_channels_softmax(const Tensor& t, bool subtract_max) {
  for_each_pixel(t, [subtract_max](float* x, int channels, long stride) {
    kernels::normalize_channels_softmax_forward(x, channels, stride, subtract_max);
  });
}

}  // namespace

void activate_reference(Activation a, const Tensor& t) {
  switch (a) {
    case Activation::linear: return;
    case Activation::normalize_channels: return normalize_channels(t);
    case Activation::normalize_channels_softmax: return normalize_channels_softmax(t, false);
    case Activation::normalize_channels_softmax_maxval:
      return normalize_channels_softmax(t, true);
    default: break;
  }
  float* x = t.data;
  const long n = long(t.size());
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i) x[i] = kernels::activate(a, x[i]);
}

// The channel-wise backward passes are the exact vector-Jacobian products of the forward
// functions above, not Darknet's approximations (its CPU and GPU versions disagree).
void activation_backward_reference(Activation a, const Tensor& delta, const float* input,
                                   const float* output) {
  const ActivationNeeds needs = activation_needs(a);
  if (needs == ActivationNeeds::input && !input)
    fail("activation_backward_reference: '", activation_name(a), "' needs its input");
  if (needs == ActivationNeeds::output && !output)
    fail("activation_backward_reference: '", activation_name(a), "' needs its output");
  const float* data = delta.data;
  // The same (image, pixel) walk over x or y as over delta.
  auto at = [data](const float* base, const float* d) { return base + (d - data); };

  switch (a) {
    case Activation::linear: return;
    case Activation::normalize_channels:
      for_each_pixel(delta, [&](float* d, int channels, long stride) {
        kernels::normalize_channels_backward(d, at(input, d), channels, stride);
      });
      return;
    case Activation::normalize_channels_softmax:
    case Activation::normalize_channels_softmax_maxval:
      for_each_pixel(delta, [&](float* d, int channels, long stride) {
        kernels::normalize_channels_softmax_backward(d, at(output, d), channels, stride);
      });
      return;
    default: break;
  }

  const float nan = std::numeric_limits<float>::quiet_NaN();
  float* d = delta.data;
  const long n = long(delta.size());
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i)
    d[i] *= kernels::activation_gradient(a, input ? input[i] : nan, output ? output[i] : nan);
}

}  // namespace mishnet::ops
