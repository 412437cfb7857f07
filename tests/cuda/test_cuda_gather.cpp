// The per-thread bodies of the gather kernels (backend/cuda/gather_kernels.h), run on the CPU
// for every index and compared with the reference ops (or the CPU layer): the pooling,
// resampling and softmax kernels' index arithmetic is checked here without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backend/cuda/gather_kernels.h"
#include "cuda_test_util.h"
#include "kernels/softmax.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "ops/broadcast_multiply.h"
#include "ops/crop.h"
#include "ops/detection_heads.h"
#include "ops/pool2d.h"
#include "ops/reorg.h"
#include "ops/upsample.h"

namespace mishnet {
namespace {

using test::expect_close;
using test::uniform_values;

ops::Pool2dDesc pool_desc(int size, int stride, int padding, int in_h, int in_w) {
  ops::Pool2dDesc d;
  d.batch = 2;
  d.channels = 3;
  d.in_h = in_h;
  d.in_w = in_w;
  d.size = size;
  d.stride_x = d.stride_y = stride;
  d.padding = padding;
  d.out_h = ops::pool2d_output_extent(in_h, size, stride, padding);
  d.out_w = ops::pool2d_output_extent(in_w, size, stride, padding);
  return d;
}

TEST(CudaGather, PoolingBodiesMatchTheReferenceOps) {
  for (auto [size, stride, padding] : {std::tuple{2, 2, 0}, std::tuple{3, 1, 2}, std::tuple{5, 1, 4},
                                       std::tuple{3, 2, 1}, std::tuple{2, 1, 1}, std::tuple{3, 3, 0}}) {
    const ops::Pool2dDesc d = pool_desc(size, stride, padding, 9, 8);
    SCOPED_TRACE("size " + std::to_string(size) + " stride " + std::to_string(stride) +
                 " padding " + std::to_string(padding));
    const size_t in_n = size_t(d.batch) * d.channels * d.in_h * d.in_w;
    const size_t out_n = size_t(d.batch) * d.channels * d.out_h * d.out_w;
    std::vector<float> src = uniform_values(in_n, 1);
    src[9] = src[10];  // a tie inside one window
    const std::vector<float> ddst = uniform_values(out_n, 2);

    std::vector<float> want(out_n), got(out_n);
    std::vector<int32_t> want_arg(out_n), got_arg(out_n);
    ops::maxpool2d_forward(d, src.data(), want.data(), want_arg.data());
    for (size_t o = 0; o < out_n; ++o) got[o] = cuda::maxpool_output(d, src.data(), o, &got_arg[o]);
    expect_close(got, want, 0.0f, 0.0f, "maxpool forward");
    EXPECT_EQ(got_arg, want_arg);

    std::vector<float> want_d(in_n, 0.5f), got_d(in_n, 0.5f);
    ops::maxpool_backward(d.batch, int(out_n / size_t(d.batch)), int(in_n / size_t(d.batch)),
                          ddst.data(), want_arg.data(), want_d.data());
    for (size_t i = 0; i < in_n; ++i)
      got_d[i] += cuda::maxpool_input_gradient(d, ddst.data(), got_arg.data(), i);
    expect_close(got_d, want_d, 1e-6f, 1e-7f, "maxpool backward");

    ops::avgpool2d_forward(d, src.data(), want.data());
    for (size_t o = 0; o < out_n; ++o) got[o] = cuda::avgpool_output(d, src.data(), o);
    expect_close(got, want, 1e-6f, 1e-7f, "avgpool forward");

    std::fill(want_d.begin(), want_d.end(), 0.5f);
    std::fill(got_d.begin(), got_d.end(), 0.5f);
    ops::avgpool2d_backward(d, ddst.data(), want_d.data());
    for (size_t i = 0; i < in_n; ++i) got_d[i] += cuda::avgpool_input_gradient(d, ddst.data(), i);
    expect_close(got_d, want_d, 1e-5f, 1e-7f, "avgpool backward");
  }
}

TEST(CudaGather, ResampleBlockSumsMatchTheReferenceOps) {
  const int planes = 4, h = 3, w = 5, stride = 3;
  const float scale = 0.5f;
  const size_t small_n = size_t(planes) * h * w, big_n = small_n * stride * stride;
  const std::vector<float> big = uniform_values(big_n, 3);
  std::vector<float> want(small_n), got(small_n);
  ops::downsample_sum_forward(planes, h, w, stride, scale, big.data(), want.data());
  for (size_t i = 0; i < small_n; ++i) got[i] = cuda::downsample_block_sum(h, w, stride, scale, big.data(), i);
  expect_close(got, want, 1e-6f, 1e-7f, "downsample forward");

  std::fill(want.begin(), want.end(), 1.0f);
  std::fill(got.begin(), got.end(), 1.0f);
  ops::upsample_nearest_backward(planes, h, w, stride, scale, big.data(), want.data());
  for (size_t i = 0; i < small_n; ++i) got[i] += cuda::downsample_block_sum(h, w, stride, scale, big.data(), i);
  expect_close(got, want, 1e-6f, 1e-7f, "upsample backward");
}

TEST(CudaGather, MaxpoolDepthBodyMatchesTheReferenceOp) {
  const int batch = 2, channels = 12, h = 3, w = 4, out_channels = 4, spatial = h * w;
  std::vector<float> src = uniform_values(size_t(batch) * channels * spatial, 4);
  src[0] = src[size_t(out_channels) * spatial];  // a tie between channels 0 and 4
  const size_t out_n = size_t(batch) * out_channels * spatial;
  std::vector<float> want(out_n), got(out_n);
  std::vector<int32_t> want_arg(out_n), got_arg(out_n);
  ops::maxpool_depth_forward(batch, channels, h, w, out_channels, src.data(), want.data(),
                             want_arg.data());
  for (size_t o = 0; o < out_n; ++o)
    got[o] = cuda::maxpool_depth_output(channels, spatial, out_channels, src.data(), o, &got_arg[o]);
  expect_close(got, want, 0.0f, 0.0f, "maxpool_depth");
  EXPECT_EQ(got_arg, want_arg);
}

TEST(CudaGather, ReorgIndexIsTheReferencePermutation) {
  for (int stride : {1, 2, 3}) {
    ops::ReorgGeometry g;
    g.batch = 2;
    g.channels = 2 * stride * stride;
    g.height = 3;
    g.width = 5;
    g.stride = stride;
    const size_t n = size_t(g.batch) * g.channels * g.height * g.width;
    std::vector<float> space(n);
    for (size_t i = 0; i < n; ++i) space[i] = float(i);
    std::vector<float> depth(n);
    ops::reorg_space_to_depth_reference(g, space.data(), depth.data());
    std::vector<int> hit(n, 0);
    for (size_t d = 0; d < n; ++d) {
      const size_t sp = cuda::reorg_space_index(g, d);
      ASSERT_LT(sp, n);
      ASSERT_EQ(depth[d], space[sp]) << "stride " << stride << " d " << d;
      ++hit[sp];
    }
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hit[i], 1) << "not a permutation at " << i;
  }
}

TEST(CudaGather, BroadcastFactorIndexMatchesTheReferenceOp) {
  const Shape shape{2, 3, 4, 5};
  const std::vector<float> x = uniform_values(shape.size(), 5);
  const size_t plane = 20, per_image = shape.per_image();
  for (auto [mode, factors] : {std::pair{ops::Broadcast::elementwise, shape.size()},
                               std::pair{ops::Broadcast::per_channel, size_t(6)},
                               std::pair{ops::Broadcast::per_position, size_t(40)}}) {
    const std::vector<float> s = uniform_values(factors, 6);
    std::vector<float> want(shape.size()), got(shape.size());
    std::vector<float> xs = x;
    ops::broadcast_multiply_reference(Tensor{xs.data(), shape}, s.data(), mode, want.data());
    for (size_t i = 0; i < shape.size(); ++i)
      got[i] = x[i] * s[cuda::broadcast_factor_index(mode, plane, per_image, i)];
    expect_close(got, want, 0.0f, 0.0f, "broadcast multiply");
  }
}

TEST(CudaGather, CropIndexMatchesTheReferenceOp) {
  const Shape shape{2, 3, 7, 9};
  const std::vector<float> x = uniform_values(shape.size(), 9);
  for (bool flip : {false, true}) {
    ops::CropWindow win;
    win.top = 2;
    win.left = 3;
    win.out_h = 4;
    win.out_w = 5;
    win.flip = flip;
    win.scale = 2.0f;
    win.shift = -1.0f;
    const size_t out_n = size_t(shape.n) * shape.c * win.out_h * win.out_w;
    std::vector<float> want(out_n), got(out_n);
    std::vector<float> xs = x;
    ops::crop_reference(Tensor{xs.data(), shape}, win, want.data());
    for (size_t o = 0; o < out_n; ++o)
      got[o] = x[cuda::crop_source_index(shape.h, shape.w, win, o)] * win.scale + win.shift;
    expect_close(got, want, 0.0f, 0.0f, flip ? "crop flipped" : "crop");
  }
}

TEST(CudaGather, RegionCellBodyMatchesTheReferenceOp) {
  ops::HeadDesc d;
  d.batch = 2;
  d.anchors = 3;
  d.entries = 5 + 6;
  d.spatial = 4 * 5;
  const size_t n = size_t(d.batch) * d.anchors * d.entries * d.spatial;
  const std::vector<float> src = uniform_values(n, 10, -6.0f, 6.0f);
  for (bool softmax : {false, true}) {
    std::vector<float> want(n);
    ops::region_activate_reference(d, src.data(), want.data(), softmax);
    std::vector<float> got = src;
    for (int block = 0; block < d.batch * d.anchors; ++block)
      for (int cell = 0; cell < d.spatial; ++cell)
        cuda::region_activate_cell(got.data() + size_t(block) * d.entries * d.spatial, d.entries,
                                   d.spatial, cell, softmax);
    expect_close(got, want, 0.0f, 0.0f, softmax ? "region softmax" : "region");
  }
}

// [detection]'s CUDA forward: a copy of the input, then softmax_groups_kernel's body (one
// thread per location: softmax_group_offset, kernels::softmax_strided over the class scores)
// against the layer's CPU forward, batch 3.
TEST(CudaGather, DetectionSoftmaxBodyMatchesTheCpuLayer) {
  const char* cfg = R"([net]
width=1
height=1
channels=32

[detection]
classes=3
coords=4
side=2
num=1
softmax=1
)";
  NetworkOptions o;
  o.batch = 3;
  Network net = Network::from_cfg(parse_cfg_text(cfg, "detection.cfg"), o);
  const Shape shape = net.layer(0).output_shape;
  const int per_image = int(shape.per_image()), locations = 2 * 2, classes = 3;
  ASSERT_EQ(per_image, locations * ((1 + 4) * 1 + classes));
  const std::vector<float> in = uniform_values(size_t(per_image) * 3, 12, -4.0f, 4.0f);
  const Tensor cpu = net.forward(in.data());
  const std::vector<float> want(cpu.data, cpu.data + cpu.size());

  std::vector<float> got = in;  // the copy
  for (size_t g = 0; g < size_t(3 * locations); ++g) {
    const size_t at = cuda::softmax_group_offset(per_image, locations, classes, g);
    kernels::softmax_strided(in.data() + at, got.data() + at, classes, 1, 1.0f);
  }
  expect_close(got, want, 0.0f, 0.0f, "detection forward");
  // The softmax changed the class scores only (not a copy).
  EXPECT_NE(want[0], in[0]);
  EXPECT_EQ(want[size_t(locations * classes)], in[size_t(locations * classes)]);
}

TEST(CudaGather, InterleavedPixelsBecomePlanarUnitFloats) {
  const int batch = 2, h = 3, w = 4, channels = 3;
  std::vector<unsigned char> bytes(size_t(batch) * h * w * channels);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>((i * 37) % 256);
  size_t i = 0;
  for (int b = 0; b < batch; ++b)
    for (int k = 0; k < channels; ++k)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x, ++i) {
          const unsigned char v = bytes[((size_t(b) * h + y) * w + x) * channels + k];
          ASSERT_EQ(cuda::planar_value_from_interleaved(bytes.data(), h, w, channels, i),
                    float(v) / 255.0f);
        }
}

TEST(CudaGather, SoftmaxBackwardBodyIsTheJacobianProduct) {
  // p = softmax(z / T): dL/dz_j = sum_i dy_i dp_i/dz_j = p_j (dy_j - sum_i dy_i p_i) / T.
  const int n = 6;
  const float t = 2.0f;
  const std::vector<float> z = uniform_values(n, 7, -3.0f, 3.0f), dy = uniform_values(n, 8);
  std::vector<double> p(n);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp(z[size_t(i)] / t);
  for (int i = 0; i < n; ++i) p[size_t(i)] = std::exp(z[size_t(i)] / t) / sum;
  std::vector<float> pf(p.begin(), p.end()), dx(n, 0.5f);
  cuda::softmax_backward_strided(pf.data(), dy.data(), dx.data(), n, 1, t);
  for (int j = 0; j < n; ++j) {
    double want = 0.0;
    for (int i = 0; i < n; ++i)
      want += dy[size_t(i)] * p[size_t(i)] * ((i == j ? 1.0 : 0.0) - p[size_t(j)]) / t;
    EXPECT_NEAR(dx[size_t(j)], 0.5 + want, 1e-6) << j;
  }
}

}  // namespace
}  // namespace mishnet
