// oneDNN convolution backward (data and weights) against the reference ops, on random shapes
// and values drawn fresh each run. Outputs start pre-filled with random values: the op ADDS.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/dnnl/dnnl_conv2d_backward.h"
#include "ops/conv2d_backward.h"
#include "test_util.h"

namespace mishnet {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

int uniform(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

struct Geometry {
  int kernel_h, kernel_w, stride_h, stride_w, pad, dilation;
};

// A random description with the given geometry: sizes (odd ones included), channel counts
// that are multiples of `groups` (`depthwise`: one input and one output channel per group).
ops::Conv2dDesc random_desc(std::mt19937_64& rng, const Geometry& g, int batch, int groups,
                            bool depthwise = false) {
  ops::Conv2dDesc d;
  d.batch = batch;
  d.kernel_h = g.kernel_h;
  d.kernel_w = g.kernel_w;
  d.stride_h = g.stride_h;
  d.stride_w = g.stride_w;
  d.pad_h = d.pad_w = g.pad;
  d.dilation = g.dilation;
  d.groups = groups;
  if (depthwise) {
    d.in_c = d.out_c = groups;
  } else {
    d.in_c = groups * uniform(rng, 1, groups > 1 ? 4 : 24);
    d.out_c = groups * uniform(rng, 1, groups > 1 ? 4 : 24);
  }
  const int span_h = g.dilation * (g.kernel_h - 1) + 1;
  const int span_w = g.dilation * (g.kernel_w - 1) + 1;
  d.in_h = uniform(rng, std::max(1, span_h - 2 * g.pad), 19);
  d.in_w = uniform(rng, std::max(1, span_w - 2 * g.pad), 19);
  d.out_h = (d.in_h + 2 * g.pad - span_h) / g.stride_h + 1;
  d.out_w = (d.in_w + 2 * g.pad - span_w) / g.stride_w + 1;
  return d;
}

std::string describe(const ops::Conv2dDesc& d) {
  return "batch " + std::to_string(d.batch) + ", " + std::to_string(d.in_c) + "x" +
         std::to_string(d.in_h) + "x" + std::to_string(d.in_w) + " -> " +
         std::to_string(d.out_c) + "x" + std::to_string(d.out_h) + "x" + std::to_string(d.out_w) +
         ", kernel " + std::to_string(d.kernel_h) + "x" + std::to_string(d.kernel_w) +
         ", stride " + std::to_string(d.stride_h) + "x" + std::to_string(d.stride_w) + ", pad " +
         std::to_string(d.pad_h) + ", dilation " + std::to_string(d.dilation) + ", groups " +
         std::to_string(d.groups);
}

// Tolerance: max |onednn - reference| <= 1e-4 * (1 + max |reference|). The reference sums in
// the plain order (weights in double); oneDNN blocks and reorders the float sums.
void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  double max_ref = 0, max_diff = 0;
  size_t worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_ref = std::max(max_ref, double(std::fabs(want[i])));
    double diff = std::fabs(double(got[i]) - want[i]);
    if (!(diff <= max_diff)) {  // also catches NaN
      max_diff = std::isnan(diff) ? INFINITY : diff;
      worst = i;
    }
  }
  EXPECT_LE(max_diff, 1e-4 * (1 + max_ref))
      << what << ": worst at " << worst << " (" << got[worst] << " vs " << want[worst] << ")";
}

void check_against_reference(
    const ops::Conv2dDesc& d, std::mt19937_64& rng,
    dnnl_backend::ConvBackwardImpl impl = dnnl_backend::ConvBackwardImpl::automatic) {
  SCOPED_TRACE(describe(d) + ", impl " + std::to_string(int(impl)));
  auto op = dnnl_backend::make_conv2d_backward(d, impl);
  ASSERT_NE(op, nullptr) << "oneDNN refused the description";
  EXPECT_EQ(std::string(op->impl_name()).rfind("onednn:", 0), 0u) << op->impl_name();

  const size_t src_n = size_t(d.batch) * d.in_c * d.in_h * d.in_w;
  const size_t dst_n = size_t(d.batch) * d.out_c * d.out_h * d.out_w;
  const std::vector<float> src = random_vector(src_n, rng);
  const std::vector<float> ddst = random_vector(dst_n, rng);
  const std::vector<float> weights = random_vector(d.weights_count(), rng);

  // Pre-filled outputs: both implementations must add to them.
  std::vector<float> dsrc_ref = random_vector(src_n, rng), dsrc = dsrc_ref;
  std::vector<float> dw_ref = random_vector(d.weights_count(), rng), dw = dw_ref;
  ops::conv2d_backward_data_reference(d, ddst.data(), weights.data(), dsrc_ref.data());
  ops::conv2d_backward_weights_reference(d, src.data(), ddst.data(), dw_ref.data());
  op->backward_weights(src.data(), ddst.data(), dw.data());
  op->backward_data(ddst.data(), weights.data(), dsrc.data());
  expect_close(dsrc, dsrc_ref, "backward_data");
  expect_close(dw, dw_ref, "backward_weights");

  // A second call on the same op (cached primitives, reorders re-run on new weights) adds again.
  const std::vector<float> weights2 = random_vector(d.weights_count(), rng);
  ops::conv2d_backward_data_reference(d, ddst.data(), weights2.data(), dsrc_ref.data());
  ops::conv2d_backward_weights_reference(d, src.data(), ddst.data(), dw_ref.data());
  op->backward_data(ddst.data(), weights2.data(), dsrc.data());
  op->backward_weights(src.data(), ddst.data(), dw.data());
  expect_close(dsrc, dsrc_ref, "backward_data, second call");
  expect_close(dw, dw_ref, "backward_weights, second call");
}

// Each geometry at batch 1 and 4, a few random shapes each.
void check_geometry(const Geometry& g, int groups = 1, bool depthwise = false) {
  std::mt19937_64 rng(test::test_seed() ^ (uint64_t(g.kernel_h) << 8) ^
                      (uint64_t(g.stride_h) << 16) ^ (uint64_t(g.stride_w) << 20) ^
                      (uint64_t(g.dilation) << 24) ^ (uint64_t(groups) << 32) ^ depthwise);
  for (int batch : {1, 4})
    for (int t = 0; t < 3; ++t)
      check_against_reference(random_desc(rng, g, batch, groups, depthwise), rng);
}

TEST(Conv2dBackwardDnnl, Pointwise) { check_geometry({1, 1, 1, 1, 0, 1}); }
TEST(Conv2dBackwardDnnl, PointwiseStride2) { check_geometry({1, 1, 2, 2, 0, 1}); }
TEST(Conv2dBackwardDnnl, Kernel3Stride1Pad1) { check_geometry({3, 3, 1, 1, 1, 1}); }
TEST(Conv2dBackwardDnnl, Kernel3Stride1Pad0) { check_geometry({3, 3, 1, 1, 0, 1}); }
TEST(Conv2dBackwardDnnl, Kernel3Stride2Pad1) { check_geometry({3, 3, 2, 2, 1, 1}); }
TEST(Conv2dBackwardDnnl, Kernel3Stride2Pad0) { check_geometry({3, 3, 2, 2, 0, 1}); }
TEST(Conv2dBackwardDnnl, StrideXDiffersFromStrideY) {
  check_geometry({3, 3, 1, 2, 1, 1});
  check_geometry({3, 3, 2, 1, 1, 1});
}
TEST(Conv2dBackwardDnnl, NonSquareKernel) { check_geometry({1, 3, 1, 1, 1, 1}); }
TEST(Conv2dBackwardDnnl, Kernel5Stride1Pad2) { check_geometry({5, 5, 1, 1, 2, 1}); }
TEST(Conv2dBackwardDnnl, Dilation2) { check_geometry({3, 3, 1, 1, 2, 2}); }
TEST(Conv2dBackwardDnnl, Dilation2Stride2) { check_geometry({3, 3, 2, 2, 1, 2}); }
TEST(Conv2dBackwardDnnl, Groups) {
  check_geometry({3, 3, 1, 1, 1, 1}, 2);
  check_geometry({3, 3, 2, 2, 1, 1}, 4);
  check_geometry({1, 1, 1, 1, 0, 1}, 8);
}
TEST(Conv2dBackwardDnnl, Depthwise) {
  check_geometry({3, 3, 1, 1, 1, 1}, 16, true);
  check_geometry({3, 3, 2, 2, 1, 1}, 5, true);
  check_geometry({5, 5, 1, 1, 2, 1}, 32, true);
}

// A training-sized shape: the blocked kernels' full vector paths (channels multiple of 16).
TEST(Conv2dBackwardDnnl, BlockedChannels) {
  std::mt19937_64 rng(test::test_seed() + 1);
  ops::Conv2dDesc d;
  d.batch = 2;
  d.in_c = 32;
  d.out_c = 48;
  d.in_h = 17;
  d.in_w = 20;
  d.kernel_h = d.kernel_w = 3;
  d.stride_h = d.stride_w = 2;
  d.pad_h = d.pad_w = 1;
  d.out_h = (d.in_h + 2 - 3) / 2 + 1;
  d.out_w = (d.in_w + 2 - 3) / 2 + 1;
  check_against_reference(d, rng);
  d.in_c = 3;  // a network's first layer: few input channels
  check_against_reference(d, rng);
  d.in_c = 32;  // stride 1 and 16x16 or more: the automatic choice is Winograd
  d.stride_h = d.stride_w = 1;
  d.in_h = d.out_h = 18;
  d.in_w = d.out_w = 21;
  check_against_reference(d, rng);
}

// Every internal path, including the ones the automatic choice does not take for these shapes:
// oneDNN primitives for 1x1, NHWC and NCHW layouts (results added by a reorder with a sum
// post-op instead of the blocked-to-NCHW add), Winograd at any channel count.
TEST(Conv2dBackwardDnnl, EveryImplementation) {
  using dnnl_backend::ConvBackwardImpl;
  std::mt19937_64 rng(test::test_seed() + 2);
  const std::vector<ConvBackwardImpl> direct = {ConvBackwardImpl::blocked, ConvBackwardImpl::nhwc,
                                                ConvBackwardImpl::plain,
                                                ConvBackwardImpl::pointwise_gemm};
  for (const Geometry& g : {Geometry{1, 1, 1, 1, 0, 1}, Geometry{3, 3, 2, 1, 1, 1}})
    for (ConvBackwardImpl impl : direct)
      check_against_reference(random_desc(rng, g, uniform(rng, 1, 3), 1), rng, impl);
  for (int pad : {0, 1})
    for (int t = 0; t < 3; ++t)
      check_against_reference(random_desc(rng, {3, 3, 1, 1, pad, 1}, uniform(rng, 1, 3), 1), rng,
                              ConvBackwardImpl::winograd);
}

TEST(Conv2dBackwardDnnl, CpuBackendDispatchesToOneDnn) {
  ops::Conv2dDesc d;
  d.in_c = d.out_c = 16;
  d.in_h = d.in_w = d.out_h = d.out_w = 8;
  d.kernel_h = d.kernel_w = 3;
  d.pad_h = d.pad_w = 1;
  auto cpu = ops::make_conv2d_backward(d, BackendKind::cpu);
  EXPECT_EQ(std::string(cpu->impl_name()).rfind("onednn:", 0), 0u) << cpu->impl_name();
  auto reference = ops::make_conv2d_backward(d, BackendKind::reference);
  EXPECT_STREQ(reference->impl_name(), "reference");
}

}  // namespace
}  // namespace mishnet
