#include <cmath>
#include <vector>

#include "kernels/activations.h"
#include "kernels/batchnorm.h"
#include "ops/batchnorm_statistics.h"
#include "ops/batchnorm_training.h"

namespace mishnet::ops {

namespace {
size_t plane(const Shape& s) { return size_t(s.h) * size_t(s.w); }
}  // namespace

void batchnorm_train_forward_reference(const Tensor& x, const float* scales, const float* biases,
                                       float* rolling_mean, float* rolling_variance,
                                       float momentum, const BatchNormBuffers& buf, float* y) {
  const Shape s = x.shape;
  const size_t hw = plane(s);
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
        yp[i] = scale * v + bias;
      }
    }
  }
}

void batchnorm_backward_reference(const Shape& s, const float* dy, const float* scales,
                                  const BatchNormBuffers& buf, float* dscales, float* dbiases,
                                  float* dx) {
  const size_t hw = plane(s);
  const double count = double(s.n) * double(hw);
#pragma omp parallel for schedule(static) if (s.size() > 16384)
  for (int c = 0; c < s.c; ++c) {
    double sum_dy = 0.0, sum_dy_xh = 0.0;
    for (int b = 0; b < s.n; ++b) {
      const size_t off = (size_t(b) * s.c + c) * hw;
      const float* d = dy + off;
      const float* xh = buf.x_hat + off;
      float part_dy = 0.0f, part_dy_xh = 0.0f;
#pragma omp simd reduction(+ : part_dy, part_dy_xh)
      for (size_t i = 0; i < hw; ++i) {
        part_dy += d[i];
        part_dy_xh += d[i] * xh[i];
      }
      sum_dy += part_dy;
      sum_dy_xh += part_dy_xh;
    }
    dbiases[c] += float(sum_dy);
    dscales[c] += float(sum_dy_xh);
    const float inv_std = 1.0f / std::sqrt(buf.variance[c] + kernels::kBatchNormEpsilon);
    // dx = scale * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))
    const float k = scales[c] * inv_std;
    const float mean_dy = float(sum_dy / count), mean_dy_xh = float(sum_dy_xh / count);
    for (int b = 0; b < s.n; ++b) {
      const size_t off = (size_t(b) * s.c + c) * hw;
      const float* d = dy + off;
      const float* xh = buf.x_hat + off;
      float* out = dx + off;
#pragma omp simd
      for (size_t i = 0; i < hw; ++i) out[i] = k * (d[i] - mean_dy - xh[i] * mean_dy_xh);
    }
  }
}

void batchnorm_inference_reference(const Tensor& x, const float* scales, const float* biases,
                                   const float* rolling_mean, const float* rolling_variance,
                                   float* y) {
  const Shape s = x.shape;
  const size_t hw = plane(s);
#pragma omp parallel for collapse(2) schedule(static) if (s.size() > 16384)
  for (int b = 0; b < s.n; ++b)
    for (int c = 0; c < s.c; ++c) {
      const float m = kernels::batchnorm_multiplier(scales[c], rolling_variance[c]);
      const float o = biases[c] - rolling_mean[c] * m;
      size_t off = (size_t(b) * s.c + c) * hw;
      for (size_t i = 0; i < hw; ++i) y[off + i] = x.data[off + i] * m + o;
    }
}

namespace {
// The activation is fixed per call: instantiating the loop per activation takes the switch out
// of the inner loop, so the compiler can vectorise it.
template <Activation A>
void backward_from_batchnorm(const Shape& s, float* delta, const float* x_hat,
                             const float* scales, const float* biases, const float* y) {
  const size_t hw = plane(s);
#pragma omp parallel for collapse(2) schedule(static) if (s.size() > 16384)
  for (int b = 0; b < s.n; ++b)
    for (int c = 0; c < s.c; ++c) {
      const size_t off = (size_t(b) * s.c + c) * hw;
      const float scale = scales[c], bias = biases[c];
      float* d = delta + off;
      const float* xh = x_hat + off;
      const float* yp = y + off;
#pragma omp simd
      for (size_t i = 0; i < hw; ++i)
        d[i] *= kernels::activation_gradient(A, scale * xh[i] + bias, yp[i]);
    }
}
}  // namespace

void activation_backward_from_batchnorm_reference(Activation a, const Shape& s, float* delta,
                                                  const float* x_hat, const float* scales,
                                                  const float* biases, const float* y) {
  switch (a) {
    case Activation::linear: return;
    case Activation::mish: return backward_from_batchnorm<Activation::mish>(s, delta, x_hat, scales, biases, y);
    case Activation::leaky: return backward_from_batchnorm<Activation::leaky>(s, delta, x_hat, scales, biases, y);
    case Activation::swish: return backward_from_batchnorm<Activation::swish>(s, delta, x_hat, scales, biases, y);
    case Activation::relu: return backward_from_batchnorm<Activation::relu>(s, delta, x_hat, scales, biases, y);
    case Activation::logistic: return backward_from_batchnorm<Activation::logistic>(s, delta, x_hat, scales, biases, y);
    default: break;
  }
  const size_t hw = plane(s);
#pragma omp parallel for collapse(2) schedule(static) if (s.size() > 16384)
  for (int b = 0; b < s.n; ++b)
    for (int c = 0; c < s.c; ++c) {
      size_t off = (size_t(b) * s.c + c) * hw;
      for (size_t i = 0; i < hw; ++i) {
        float pre = scales[c] * x_hat[off + i] + biases[c];
        delta[off + i] *= kernels::activation_gradient(a, pre, y[off + i]);
      }
    }
}

void fold_batchnorm(int outputs, size_t per_output, const float* weights, const float* bias,
                    const float* scales, const float* rolling_mean,
                    const float* rolling_variance, std::vector<float>& folded_weights,
                    std::vector<float>& folded_bias) {
  folded_weights.assign(weights, weights + size_t(outputs) * per_output);
  folded_bias.assign(bias, bias + outputs);
  if (!scales) return;
  for (int o = 0; o < outputs; ++o) {
    const float m = kernels::batchnorm_multiplier(scales[o], rolling_variance[o]);
    for (size_t k = 0; k < per_output; ++k) folded_weights[size_t(o) * per_output + k] *= m;
    folded_bias[size_t(o)] = bias[o] - rolling_mean[o] * m;
  }
}

void bias_backward_reference(const Shape& s, const float* dy, float* dbias) {
  const size_t hw = plane(s);
#pragma omp parallel for schedule(static) if (s.size() > 16384)
  for (int c = 0; c < s.c; ++c) {
    double sum = 0.0;
    for (int b = 0; b < s.n; ++b) {
      const float* p = dy + (size_t(b) * s.c + c) * hw;
      for (size_t i = 0; i < hw; ++i) sum += p[i];
    }
    dbias[c] += float(sum);
  }
}

void add_bias_reference(const Tensor& y, const float* bias) {
  const Shape s = y.shape;
  const size_t hw = plane(s);
#pragma omp parallel for collapse(2) schedule(static) if (s.size() > 16384)
  for (int b = 0; b < s.n; ++b)
    for (int c = 0; c < s.c; ++c) {
      float* p = y.data + (size_t(b) * s.c + c) * hw;
      for (size_t i = 0; i < hw; ++i) p[i] += bias[c];
    }
}

}  // namespace mishnet::ops
