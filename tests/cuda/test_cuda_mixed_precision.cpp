// The mixed-precision gradient kernels (backend/cuda/mixed_precision_kernels.cu) against the
// host functions of kernels/mixed_precision.h. Needs a device: skipped (with the reason)
// without one. Exact comparisons: the check is a predicate and the scale factors are powers of
// two, so device and host compute bit-identical results.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/mixed_precision.h"
#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {
namespace {

#if defined(MISHNET_HAVE_CUDA)

TEST(CudaMixedPrecision, OverflowCheckAndScalingMatchTheHost) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const size_t n = 100003;  // more than one grid-stride pass on small launches
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

#else

TEST(CudaMixedPrecision, BuiltWithoutCuda) {
  GTEST_SKIP() << "built without CUDA (MISHNET_CUDA=OFF or no nvcc)";
}

#endif

}  // namespace
}  // namespace mishnet
