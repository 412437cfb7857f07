// The mixed-precision gradient kernels (backend/cuda/mixed_precision_kernels.cu) against the
// host functions of kernels/mixed_precision.h, the float <-> half conversion kernels against
// kernels/half_precision.h, and cuDNN's half convolution against the float reference on
// half-rounded operands. Needs a device: skipped (with the reason) without one. Exact
// comparisons for the kernels: the check is a predicate, the scale factors are powers of two
// and the conversions are integer arithmetic, so device and host compute identical bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/half_precision.h"
#include "kernels/mixed_precision.h"
#include "ops/conv2d.h"
#include "ops/conv2d_backward.h"
#include "test_util.h"
#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/cudnn_convolution.h"
#endif

namespace mishnet {
namespace {

#if defined(MISHNET_HAVE_CUDA)

TEST(CudaMixedPrecision, OverflowCheckAndScalingMatchTheHost) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  // Over kMaxBlocks * kThreadsPerBlock (1,048,576): each thread makes several grid-stride
  // passes, and the bad value sits in a later pass of the last thread.
  const size_t n = 3 * 1048576 + 17;
  std::vector<float> g = test::uniform_values(n, 7, -1000.0f, 1000.0f);
  auto dg = test::to_device(g);
  EXPECT_FALSE(cuda::gradients_overflow(dg.data(), n));

  const float inv_scale = 1.0f / 65536.0f;
  cuda::scale_values(dg.data(), n, inv_scale);
  std::vector<float> want = g;
  ASSERT_FALSE(kernels::check_and_unscale(want.data(), n, inv_scale));
  EXPECT_EQ(dg.to_host(), want);

  for (float bad : {std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    std::vector<float> h = g;
    h[n - 1] = bad;  // the last element: the check must reach the end
    auto dh = test::to_device(h);
    EXPECT_TRUE(cuda::gradients_overflow(dh.data(), n));
  }
  EXPECT_FALSE(cuda::gradients_overflow(nullptr, 0));
}

std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = kernels::float_bits(v[i]);
  return b;
}

TEST(CudaMixedPrecision, HalfConversionKernelsMatchTheHostBitForBit) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  // Every half to float.
  std::vector<uint16_t> every(65536);
  for (size_t i = 0; i < every.size(); ++i) every[i] = uint16_t(i);
  cuda::DeviceArray<uint16_t> dh(every);
  cuda::DeviceArray<float> df(every.size());
  cuda::half_to_float(dh.data(), df.data(), every.size());
  std::vector<float> want(every.size());
  for (size_t i = 0; i < every.size(); ++i) want[i] = kernels::half_bits_to_float(every[i]);
  EXPECT_EQ(bits_of(df.to_host()), bits_of(want));

  // Random float bit patterns (every class: NaN, inf, subnormal, normal) to half.
  std::mt19937 rng(5);
  std::vector<float> floats(1 << 20);
  for (float& f : floats) f = kernels::float_from_bits(uint32_t(rng()));
  auto dfloats = test::to_device(floats);
  cuda::DeviceArray<uint16_t> dhalves(floats.size());
  cuda::float_to_half(dfloats.data(), dhalves.data(), floats.size());
  std::vector<uint16_t> want_halves(floats.size());
  for (size_t i = 0; i < floats.size(); ++i) want_halves[i] = kernels::float_to_half_bits(floats[i]);
  EXPECT_EQ(dhalves.to_host(), want_halves);

  // x += float(h).
  const std::vector<float> x = test::uniform_values(every.size(), 9, -10.0f, 10.0f);
  auto dx = test::to_device(x);
  cuda::add_half_to_float(dh.data(), dx.data(), every.size());
  std::vector<float> sum(x.size());
  for (size_t i = 0; i < x.size(); ++i) sum[i] = x[i] + kernels::half_bits_to_float(every[i]);
  EXPECT_EQ(bits_of(dx.to_host()), bits_of(sum));
}

std::vector<float> rounded_to_half(std::vector<float> v) {
  for (float& x : v) x = kernels::round_to_half(x);
  return v;
}

float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

// cuDNN's half convolution (half operands, float accumulation, the result rounded to half)
// against the float reference run on the half-rounded operands with its result rounded to half.
// What may differ is the order and precision of accumulation (float in both, about K * 2^-24 of
// the sum of |terms|, K <= 288 here: below 2e-5 of the tensor's scale) and, where that moves a
// result across a rounding boundary, one half ulp (2^-10 relative): tolerance 1e-3 relative +
// 1e-4 of the tensor's scale. Forgetting a conversion costs 2^-11 relative on random operands
// in many elements (caught by the exact operands used), a layout mistake O(1).
TEST(CudaMixedPrecision, HalfConvolutionMatchesTheReferenceOnRoundedOperands) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  struct Case {
    int batch, in_c, hw, out_c, k, stride, pad;
  };
  for (const Case& c : {Case{2, 16, 10, 32, 3, 1, 1}, Case{2, 8, 12, 16, 3, 2, 1},
                        Case{1, 32, 7, 8, 1, 1, 0}}) {
    ops::Conv2dDesc d;
    d.batch = c.batch;
    d.in_c = c.in_c;
    d.in_h = d.in_w = c.hw;
    d.out_c = c.out_c;
    d.kernel_h = d.kernel_w = c.k;
    d.stride_h = d.stride_w = c.stride;
    d.pad_h = d.pad_w = c.pad;
    d.out_h = d.out_w = (c.hw + 2 * c.pad - c.k) / c.stride + 1;
    SCOPED_TRACE("in " + std::to_string(c.in_c) + " out " + std::to_string(c.out_c) + " k " +
                 std::to_string(c.k) + " stride " + std::to_string(c.stride));
    const size_t x_n = size_t(d.batch) * d.in_c * d.in_h * d.in_w;
    const size_t y_n = size_t(d.batch) * d.out_c * d.out_h * d.out_w;
    const std::vector<float> x = test::uniform_values(x_n, 31), w = test::uniform_values(d.weights_count(), 32),
                             bias = test::uniform_values(size_t(d.out_c), 33),
                             dy = test::uniform_values(y_n, 34);
    const std::vector<float> hx = rounded_to_half(x), hw = rounded_to_half(w), hdy = rounded_to_half(dy);
    std::vector<float> y(y_n), dx(x_n, 0.0f), dw(w.size(), 0.0f);
    ops::conv2d_reference(d, hx.data(), hw.data(), nullptr, y.data());
    ops::conv2d_backward_data_reference(d, hdy.data(), hw.data(), dx.data());
    ops::conv2d_backward_weights_reference(d, hx.data(), hdy.data(), dw.data());
    y = rounded_to_half(y);
    for (size_t i = 0; i < y_n; ++i) y[i] += bias[(i / size_t(d.out_h * d.out_w)) % size_t(d.out_c)];
    dx = rounded_to_half(dx);
    dw = rounded_to_half(dw);
    for (float& v : dx) v += 0.5f;  // the device adds into 0.5 and -0.5
    for (float& v : dw) v -= 0.5f;

    cuda::CudnnConvolution conv(d, size_t(64) << 20, cuda::CudnnConvolution::Directions::all,
                                cuda::ConvPrecision::half);
    EXPECT_EQ(conv.precision(), cuda::ConvPrecision::half);
    auto gx = test::to_device(x), gw = test::to_device(w), gb = test::to_device(bias),
         gdy = test::to_device(dy);
    cuda::DeviceArray<float> gy(y_n);
    conv.forward(gx.data(), gw.data(), gb.data(), gy.data());
    test::expect_close(gy.to_host(), y, 1e-3f, 1e-4f * max_abs(y), "half forward");
    auto gdx = test::to_device(std::vector<float>(x_n, 0.5f));
    auto gdw = test::to_device(std::vector<float>(w.size(), -0.5f));
    conv.backward_filter(gx.data(), gdy.data(), gdw.data());
    conv.backward_data(gdy.data(), gw.data(), gdx.data());
    test::expect_close(gdx.to_host(), dx, 1e-3f, 1e-4f * max_abs(dx), "half backward data");
    test::expect_close(gdw.to_host(), dw, 1e-3f, 1e-4f * max_abs(dw), "half backward filter");
  }
  // A geometry half_convolution_support refuses is an error, not a silent float convolution.
  ops::Conv2dDesc grouped;
  grouped.batch = 1;
  grouped.in_c = grouped.out_c = 16;
  grouped.in_h = grouped.in_w = grouped.out_h = grouped.out_w = 6;
  grouped.kernel_h = grouped.kernel_w = 3;
  grouped.pad_h = grouped.pad_w = 1;
  grouped.groups = 2;
  EXPECT_ERROR_CONTAINS(cuda::CudnnConvolution(grouped, size_t(64) << 20,
                                               cuda::CudnnConvolution::Directions::all,
                                               cuda::ConvPrecision::half),
                        "groups=2");
}

#else

TEST(CudaMixedPrecision, BuiltWithoutCuda) {
  GTEST_SKIP() << "built without CUDA (MISHNET_CUDA=OFF or no nvcc)";
}

#endif

}  // namespace
}  // namespace mishnet
