// Convolution and batch-norm backward against central finite differences (double sums).
#include <cmath>
#include <random>
#include <vector>

#include "ops/batchnorm_training.h"
#include "ops/conv2d.h"
#include "ops/conv2d_backward.h"
#include "test_util.h"

namespace mishnet {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937_64& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

struct ConvCase {
  int batch, in_c, h, w, out_c, k, stride_h, stride_w, pad, dilation, groups;
};

ops::Conv2dDesc describe(const ConvCase& c) {
  ops::Conv2dDesc d;
  d.batch = c.batch;
  d.in_c = c.in_c;
  d.in_h = c.h;
  d.in_w = c.w;
  d.out_c = c.out_c;
  d.kernel_h = d.kernel_w = c.k;
  d.stride_h = c.stride_h;
  d.stride_w = c.stride_w;
  d.pad_h = d.pad_w = c.pad;
  d.dilation = c.dilation;
  d.groups = c.groups;
  int span = c.dilation * (c.k - 1) + 1;
  d.out_h = (c.h + 2 * c.pad - span) / c.stride_h + 1;
  d.out_w = (c.w + 2 * c.pad - span) / c.stride_w + 1;
  return d;
}

// loss = sum(r * conv(x, w)); checks dL/dx and dL/dw from the backward ops.
void check_conv_case(const ConvCase& c, std::mt19937_64& rng) {
  ops::Conv2dDesc d = describe(c);
  std::vector<float> x = random_vector(size_t(d.batch) * d.in_c * d.in_h * d.in_w, rng);
  std::vector<float> w = random_vector(d.weights_count(), rng);
  std::vector<float> r = random_vector(size_t(d.batch) * d.out_c * d.out_h * d.out_w, rng);
  std::vector<float> y(r.size());
  auto loss = [&] {
    ops::conv2d_reference(d, x.data(), w.data(), nullptr, y.data());
    return dot(r, y);
  };
  std::vector<float> dx(x.size(), 0.5f), dw(w.size(), -0.25f);  // ADD semantics: start non-zero
  auto op = ops::make_conv2d_backward(d, BackendKind::cpu);
  op->backward_data(r.data(), w.data(), dx.data());
  op->backward_weights(x.data(), r.data(), dw.data());
  // Convolution is linear, so a central difference is exact up to rounding: tolerance 1e-3.
  const float h = 1e-2f;
  for (int t = 0; t < 12; ++t) {
    size_t i = std::uniform_int_distribution<size_t>(0, x.size() - 1)(rng);
    float keep = x[i];
    x[i] = keep + h;
    double lp = loss();
    x[i] = keep - h;
    double lm = loss();
    x[i] = keep;
    EXPECT_NEAR(dx[i] - 0.5f, (lp - lm) / (2 * h), 1e-3) << "dx[" << i << "]";
    size_t j = std::uniform_int_distribution<size_t>(0, w.size() - 1)(rng);
    keep = w[j];
    w[j] = keep + h;
    lp = loss();
    w[j] = keep - h;
    lm = loss();
    w[j] = keep;
    EXPECT_NEAR(dw[j] + 0.25f, (lp - lm) / (2 * h), 1e-3) << "dw[" << j << "]";
  }
}

TEST(Conv2dBackward, MatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  const ConvCase cases[] = {
      {2, 3, 7, 6, 4, 3, 1, 1, 1, 1, 1},  // 3x3 same
      {1, 4, 9, 9, 6, 3, 2, 2, 1, 1, 2},  // strided, grouped
      {1, 4, 8, 7, 4, 3, 1, 1, 2, 2, 4},  // depthwise, dilated
      {2, 5, 5, 5, 3, 1, 1, 1, 0, 1, 1},  // 1x1
      {1, 2, 8, 9, 3, 3, 2, 1, 1, 1, 1},  // stride_h != stride_w
  };
  for (const auto& c : cases) check_conv_case(c, rng);
}

TEST(BatchNormTraining, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed() + 1);
  Shape s{3, 4, 3, 2};
  std::vector<float> x = random_vector(s.size(), rng, 2.0f);
  std::vector<float> scales = random_vector(4, rng), biases = random_vector(4, rng);
  std::vector<float> r = random_vector(s.size(), rng);
  std::vector<float> mean(4), var(4), x_hat(s.size()), y(s.size());
  std::vector<float> rm(4, 0.0f), rv(4, 1.0f);
  auto loss = [&] {
    ops::BatchNormBuffers buf{mean.data(), var.data(), x_hat.data()};
    ops::batchnorm_train_forward_reference(Tensor{x.data(), s}, scales.data(), biases.data(),
                                           rm.data(), rv.data(), 0.01f, buf, y.data());
    return dot(r, y);
  };
  loss();
  std::vector<float> dx(s.size()), dscales(4, 0.0f), dbiases(4, 0.0f);
  ops::BatchNormBuffers buf{mean.data(), var.data(), x_hat.data()};
  ops::batchnorm_backward_reference(s, r.data(), scales.data(), buf, dscales.data(),
                                    dbiases.data(), dx.data());
  const float h = 1e-2f;
  // Batch norm is not linear: second-order error ~h^2 * curvature; tolerance 2e-3.
  for (size_t i = 0; i < x.size(); i += 5) {
    float keep = x[i];
    x[i] = keep + h;
    double lp = loss();
    x[i] = keep - h;
    double lm = loss();
    x[i] = keep;
    EXPECT_NEAR(dx[i], (lp - lm) / (2 * h), 2e-3) << "dx[" << i << "]";
  }
  for (int c = 0; c < 4; ++c) {
    float keep = scales[size_t(c)];
    scales[size_t(c)] = keep + h;
    double lp = loss();
    scales[size_t(c)] = keep - h;
    double lm = loss();
    scales[size_t(c)] = keep;
    EXPECT_NEAR(dscales[size_t(c)], (lp - lm) / (2 * h), 2e-3);
    double sum_r = 0;
    for (int b = 0; b < s.n; ++b)
      for (int i = 0; i < s.h * s.w; ++i) sum_r += r[(size_t(b) * s.c + c) * s.h * s.w + i];
    EXPECT_NEAR(dbiases[size_t(c)], sum_r, 1e-4);
  }
  // Rolling statistics moved 1% towards the batch ones, variance unbiased.
  loss();
  EXPECT_GT(rv[0], 0.0f);
}

}  // namespace
}  // namespace mishnet
