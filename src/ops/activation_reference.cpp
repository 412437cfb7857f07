// Reference activation op: element-wise through kernels::activate, and Darknet's
// normalize_channels family across the channels of each pixel.
#include <math.h>

#include <limits>

#include "kernels/activations.h"
#include "mishnet/error.h"
#include "ops/activation_op.h"

namespace mishnet::ops {

namespace {

// Darknet adds this to the denominator of every normalize_channels variant.
constexpr float kNormalizeEpsilon = 0.0001f;
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

// y_k = relu(x_k) / (eps + sum of relu(x)).
void normalize_channels(const Tensor& t) {
  for_each_pixel(t, [](float* x, int channels, long stride) {
    float sum = kNormalizeEpsilon;
    for (int k = 0; k < channels; ++k)
      if (x[k * stride] > 0.0f) sum += x[k * stride];
    for (int k = 0; k < channels; ++k) {
      float v = x[k * stride];
      x[k * stride] = v > 0.0f ? v / sum : 0.0f;
    }
  });
}

// y_k = e^(x_k - m) / (eps + sum e^(x - m)), m = 0 or the pixel's maximum. Like Darknet's GPU
// kernel, a value that is not finite (e^x overflows without the max) becomes 0.
void normalize_channels_softmax(const Tensor& t, bool subtract_max) {
  for_each_pixel(t, [subtract_max](float* x, int channels, long stride) {
    float m = 0.0f;
    if (subtract_max && channels > 0) {
      m = x[0];
      for (int k = 1; k < channels; ++k) m = fmaxf(m, x[k * stride]);
    }
    float sum = kNormalizeEpsilon;
    for (int k = 0; k < channels; ++k) sum += expf(x[k * stride] - m);
    for (int k = 0; k < channels; ++k) {
      float v = expf(x[k * stride] - m) / sum;
      x[k * stride] = isfinite(v) ? v : 0.0f;
    }
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
      // y_k = r_k / s, r = relu(x), s = eps + sum r: dx_j = [x_j > 0] (d_j - sum_k y_k d_k) / s.
      for_each_pixel(delta, [&](float* d, int channels, long stride) {
        const float* x = at(input, d);
        float s = kNormalizeEpsilon;
        for (int k = 0; k < channels; ++k)
          if (x[k * stride] > 0.0f) s += x[k * stride];
        float yd = 0.0f;
        for (int k = 0; k < channels; ++k)
          if (x[k * stride] > 0.0f) yd += x[k * stride] / s * d[k * stride];
        for (int k = 0; k < channels; ++k)
          d[k * stride] = x[k * stride] > 0.0f ? (d[k * stride] - yd) / s : 0.0f;
      });
      return;
    case Activation::normalize_channels_softmax:
    case Activation::normalize_channels_softmax_maxval:
      // dy_k/dx_j = y_k (δ_kj - y_j) holds with the eps in the denominator too (with the max
      // subtracted, eps·e^m adds a term of relative size eps/sum, ignored).
      for_each_pixel(delta, [&](float* d, int channels, long stride) {
        const float* y = at(output, d);
        float yd = 0.0f;
        for (int k = 0; k < channels; ++k) yd += y[k * stride] * d[k * stride];
        for (int k = 0; k < channels; ++k) d[k * stride] = y[k * stride] * (d[k * stride] - yd);
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
