#include <cmath>

#include "kernels/batchnorm.h"
#include "mishnet/error.h"
#include "ops/batchnorm_activation.h"
#include "ops/batchnorm_statistics.h"
#include "ops/vector_math.h"

namespace mishnet::ops {

namespace {

// One channel's planes are n separate runs of hw floats; threads take whole channels, so a
// channel's data stays in one core's cache between the passes over it.
template <Activation A>
void forward(const Tensor& x, const float* scales, const float* biases, float* rolling_mean,
             float* rolling_variance, float momentum, const BatchNormBuffers& buf, float* y) {
  const Shape s = x.shape;
  const size_t hw = size_t(s.h) * size_t(s.w);
#pragma omp parallel for schedule(static) if (s.size() > 16384)
  for (int c = 0; c < s.c; ++c) {
    const ChannelStatistics st = channel_statistics(x, c);
    const float mean = st.mean;
    const float inv_std = record_channel_statistics(st, c, momentum, buf, rolling_mean,
                                                    rolling_variance);
    const float scale = scales[c], bias = biases[c];
    for (int b = 0; b < s.n; ++b) {
      const size_t off = (size_t(b) * s.c + c) * hw;
      const float* xp = x.data + off;
      float* xh = buf.x_hat + off;
      float* yp = y + off;
#pragma omp simd
      for (size_t i = 0; i < hw; ++i) {
        const float v = (xp[i] - mean) * inv_std;
        xh[i] = v;
        yp[i] = vec::activate<A>(scale * v + bias);
      }
    }
  }
}

// The output expression of forward<A>, on the stored x_hat.
template <Activation A>
void apply(const Shape& s, const float* x_hat, const float* scales, const float* biases, float* y) {
  const size_t hw = size_t(s.h) * size_t(s.w);
#pragma omp parallel for schedule(static) if (s.size() > 16384)
  for (int c = 0; c < s.c; ++c) {
    const float scale = scales[c], bias = biases[c];
    for (int b = 0; b < s.n; ++b) {
      const size_t off = (size_t(b) * s.c + c) * hw;
      const float* xh = x_hat + off;
      float* yp = y + off;
#pragma omp simd
      for (size_t i = 0; i < hw; ++i) {
        const float v = xh[i];
        yp[i] = vec::activate<A>(scale * v + bias);
      }
    }
  }
}

template <Activation A>
void backward(const Shape& s, float* delta, const float* scales, const float* biases,
              const BatchNormBuffers& buf, float* dscales, float* dbiases) {
  const size_t hw = size_t(s.h) * size_t(s.w);
  const double count = double(s.n) * double(hw);
#pragma omp parallel for schedule(static) if (s.size() > 16384)
  for (int c = 0; c < s.c; ++c) {
    const float scale = scales[c], bias = biases[c];
    // Pass 1: through the activation (in place) and the two sums batch norm's backward needs.
    double sum_dy = 0.0, sum_dy_xh = 0.0;
    for (int b = 0; b < s.n; ++b) {
      const size_t off = (size_t(b) * s.c + c) * hw;
      float* d = delta + off;
      const float* xh = buf.x_hat + off;
      float part_dy = 0.0f, part_dy_xh = 0.0f;
#pragma omp simd reduction(+ : part_dy, part_dy_xh)
      for (size_t i = 0; i < hw; ++i) {
        const float g = d[i] * vec::gradient<A>(scale * xh[i] + bias);
        d[i] = g;
        part_dy += g;
        part_dy_xh += g * xh[i];
      }
      sum_dy += part_dy;
      sum_dy_xh += part_dy_xh;
    }
    dbiases[c] += float(sum_dy);
    dscales[c] += float(sum_dy_xh);
    // Pass 2: dx = scale·inv_std·(dy − mean(dy) − x_hat·mean(dy·x_hat)).
    const float inv_std = 1.0f / std::sqrt(buf.variance[c] + kernels::kBatchNormEpsilon);
    const float k = scale * inv_std;
    const float mean_dy = float(sum_dy / count), mean_dy_xh = float(sum_dy_xh / count);
    for (int b = 0; b < s.n; ++b) {
      const size_t off = (size_t(b) * s.c + c) * hw;
      float* d = delta + off;
      const float* xh = buf.x_hat + off;
#pragma omp simd
      for (size_t i = 0; i < hw; ++i) d[i] = k * (d[i] - mean_dy - xh[i] * mean_dy_xh);
    }
  }
}

}  // namespace

bool batchnorm_activation_fusable(Activation a) { return vec::has(a); }

#define MISHNET_FOR_FUSABLE(CALL)                          \
  switch (a) {                                             \
    case Activation::linear: return CALL(Activation::linear); \
    case Activation::mish: return CALL(Activation::mish);     \
    case Activation::swish: return CALL(Activation::swish);   \
    case Activation::leaky: return CALL(Activation::leaky);   \
    case Activation::relu: return CALL(Activation::relu);     \
    case Activation::logistic: return CALL(Activation::logistic); \
    default: break;                                        \
  }                                                        \
  fail("batch norm cannot be fused with activation ", activation_name(a))

void batchnorm_activation_train_forward(Activation a, const Tensor& x, const float* scales,
                                        const float* biases, float* rolling_mean,
                                        float* rolling_variance, float momentum,
                                        const BatchNormBuffers& buf, float* y) {
#define MISHNET_CALL(A) forward<A>(x, scales, biases, rolling_mean, rolling_variance, momentum, buf, y)
  MISHNET_FOR_FUSABLE(MISHNET_CALL);
#undef MISHNET_CALL
}

void batchnorm_activation_apply(Activation a, const Shape& shape, const float* x_hat,
                                const float* scales, const float* biases, float* y) {
#define MISHNET_CALL(A) apply<A>(shape, x_hat, scales, biases, y)
  MISHNET_FOR_FUSABLE(MISHNET_CALL);
#undef MISHNET_CALL
}

void batchnorm_activation_backward(Activation a, const Shape& shape, float* delta,
                                   const float* scales, const float* biases,
                                   const BatchNormBuffers& buf, float* dscales, float* dbiases) {
#define MISHNET_CALL(A) backward<A>(shape, delta, scales, biases, buf, dscales, dbiases)
  MISHNET_FOR_FUSABLE(MISHNET_CALL);
#undef MISHNET_CALL
}

}  // namespace mishnet::ops
