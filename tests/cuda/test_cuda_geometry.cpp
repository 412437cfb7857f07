// The CUDA backend's host arithmetic, checked on the CPU (no GPU needed): launch geometry,
// pooling/upsample/route index helpers against brute force, the arena layout, version
// decoding, batch partition across GPUs, cuDNN descriptor geometry and algorithm choice, and
// the cuBLAS calls of the connected layer run through a column-major CPU gemm.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "backend/cuda/arena_layout.h"
#include "backend/cuda/batch_partition.h"
#include "backend/cuda/conv_geometry.h"
#include "backend/cuda/cuda_versions.h"
#include "backend/cuda/gemm_geometry.h"
#include "backend/cuda/launch_geometry.h"
#include "ops/inner_product.h"
#include "ops/upsample.h"
#include "test_util.h"

namespace mishnet {
namespace {

using namespace mishnet::cuda;

TEST(CudaGeometry, LaunchCoversEveryElementWithinTheBlockCap) {
  EXPECT_EQ(launch_1d(0).blocks, 1u);
  EXPECT_EQ(launch_1d(1).blocks, 1u);
  EXPECT_EQ(launch_1d(256).blocks, 1u);
  EXPECT_EQ(launch_1d(257).blocks, 2u);
  EXPECT_EQ(launch_1d(257).threads, unsigned(kThreadsPerBlock));
  EXPECT_EQ(launch_1d(size_t(1) << 40).blocks, kMaxBlocks);
  // A grid-stride loop visits each index exactly once.
  for (size_t n : {size_t(1), size_t(255), size_t(1000), size_t(kMaxBlocks) * 256 + 7}) {
    const Launch1d g = launch_1d(n, 256);
    const size_t grid = size_t(g.blocks) * g.threads;
    std::vector<int> seen(n, 0);
    for (size_t t = 0; t < grid; ++t)
      for (size_t i = t; i < n; i += grid) ++seen[i];
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "n=" << n << " i=" << i;
  }
}

TEST(CudaGeometry, PoolOutputsCoveringMatchesBruteForce) {
  for (int size = 1; size <= 5; ++size)
    for (int stride = 1; stride <= 3; ++stride)
      for (int padding = 0; padding <= size; ++padding)
        for (int in = 1; in <= 9; ++in) {
          const int before = padding / 2;
          const int out = (in + padding - size) / stride + 1;
          if (out < 1) continue;
          for (int x = 0; x < in; ++x) {
            std::vector<int> want;
            for (int o = 0; o < out; ++o) {
              const int start = o * stride - before;
              if (start <= x && x < start + size) want.push_back(o);
            }
            const IndexRange r = pool_outputs_covering(x, before, size, stride, out);
            std::vector<int> got;
            for (int o = r.first; o <= r.last; ++o) got.push_back(o);
            ASSERT_EQ(got, want) << "size " << size << " stride " << stride << " padding "
                                 << padding << " in " << in << " x " << x;
          }
        }
}

TEST(CudaGeometry, ClipWindowKeepsTheInsideCells) {
  EXPECT_EQ(clip_window(-1, 3, 5).first, 0);
  EXPECT_EQ(clip_window(-1, 3, 5).last, 1);
  EXPECT_EQ(clip_window(3, 3, 5).first, 3);
  EXPECT_EQ(clip_window(3, 3, 5).last, 4);
  EXPECT_EQ(clip_window(1, 2, 5).last, 2);
}

TEST(CudaGeometry, UpsampleSourceIndexMatchesTheReferenceOp) {
  // The reference forward with scale 1 copies src[upsample_source_index(i)] into dst[i].
  const int planes = 3, h = 4, w = 5, stride = 3;
  std::vector<float> src(size_t(planes) * h * w);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float(i);
  std::vector<float> dst(src.size() * stride * stride);
  ops::upsample_nearest_forward(planes, h, w, stride, 1.0f, src.data(), dst.data());
  for (size_t i = 0; i < dst.size(); ++i)
    ASSERT_EQ(dst[i], src[upsample_source_index(i, h, w, stride)]) << i;
}

TEST(CudaGeometry, ChannelOffsetsWalkTheRightElements) {
  // Block of channels [2, 5) of a 7-channel tensor, 2 images of 3 pixels.
  const int spatial = 3, count = 3, channels = 7, first = 2, batch = 2;
  size_t i = 0;
  for (int b = 0; b < batch; ++b)
    for (int c = first; c < first + count; ++c)
      for (int p = 0; p < spatial; ++p, ++i)
        ASSERT_EQ(channel_block_offset(i, spatial, count, channels, first),
                  (size_t(b) * channels + c) * spatial + p);
  // Channel 4's elements of a 2 x 6 x 5 tensor, image-major.
  size_t k = 0;
  for (int b = 0; b < 2; ++b)
    for (int p = 0; p < 5; ++p, ++k)
      ASSERT_EQ(channel_element_offset(k, 4, 6, 5), (size_t(b) * 6 + 4) * 5 + p);
}

TEST(CudaGeometry, ArenaBlocksAreAlignedAndDisjoint) {
  ArenaLayout layout;
  const size_t a = layout.add(10), b = layout.add(1000), c = layout.add(0), d = layout.add(256);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 256u);
  EXPECT_EQ(c, 1280u);
  EXPECT_EQ(d, 1280u);
  EXPECT_EQ(layout.total(), 1536u);
  for (size_t i = 0; i < layout.blocks(); ++i) EXPECT_EQ(layout.offset(i) % kArenaAlignment, 0u);
  EXPECT_NO_THROW(check_arena_range(1536, 1280, 256));
  EXPECT_ERROR_CONTAINS(check_arena_range(1536, 1280, 257), "exceed");
  EXPECT_ERROR_CONTAINS(check_arena_range(1536, 100, 4), "not a multiple");
}

TEST(CudaGeometry, VersionNumbersDecode) {
  EXPECT_EQ(decode_cuda_version(13000).str(), "13.0.0");
  EXPECT_EQ(decode_cuda_version(12080).str(), "12.8.0");
  EXPECT_FALSE(decode_cuda_version(0).known());
  EXPECT_EQ(decode_cudnn_version(91400).str(), "9.14.0");
  EXPECT_EQ(decode_cudnn_version(90301).str(), "9.3.1");
  EXPECT_EQ(decode_cudnn_version(8902).str(), "8.9.2");
  EXPECT_EQ(decode_nccl_version(22805).str(), "2.28.5");
  EXPECT_EQ(decode_nccl_version(2804).str(), "2.8.4");
}

TEST(CudaGeometry, BatchPartitionCoversTheBatchOnce) {
  for (int gpus = 1; gpus <= 8; ++gpus)
    for (int total = gpus; total <= 70; ++total) {
      const std::vector<BatchSlice> s = partition_batch(total, gpus);
      ASSERT_EQ(int(s.size()), gpus);
      int next = 0, smallest = total, largest = 0;
      for (int r = 0; r < gpus; ++r) {
        EXPECT_EQ(s[size_t(r)].rank, r);
        EXPECT_EQ(s[size_t(r)].first, next);
        EXPECT_GE(s[size_t(r)].count, 1);
        next += s[size_t(r)].count;
        smallest = std::min(smallest, s[size_t(r)].count);
        largest = std::max(largest, s[size_t(r)].count);
      }
      EXPECT_EQ(next, total);
      EXPECT_LE(largest - smallest, 1);
    }
  const std::vector<BatchSlice> s = partition_batch(10, 4);  // 3 3 2 2
  EXPECT_EQ(s[0].count, 3);
  EXPECT_EQ(s[1].first, 3);
  EXPECT_EQ(s[3].first, 8);
  EXPECT_EQ(s[3].count, 2);
  EXPECT_ERROR_CONTAINS(partition_batch(3, 4), "cannot be split");
  EXPECT_ERROR_CONTAINS(partition_batch(3, 0), "at least one GPU");
}

TEST(CudaGeometry, GpuListParses) {
  EXPECT_EQ(parse_gpu_list("0"), std::vector<int>({0}));
  EXPECT_EQ(parse_gpu_list("0,1,2,3"), std::vector<int>({0, 1, 2, 3}));
  EXPECT_EQ(parse_gpu_list("3,1"), std::vector<int>({3, 1}));
  EXPECT_ERROR_CONTAINS(parse_gpu_list(""), "is not a GPU index");
  EXPECT_ERROR_CONTAINS(parse_gpu_list("0,,1"), "is not a GPU index");
  EXPECT_ERROR_CONTAINS(parse_gpu_list("0,-1"), "'-1' is not a GPU index");
  EXPECT_ERROR_CONTAINS(parse_gpu_list("a"), "is not a GPU index");
  EXPECT_ERROR_CONTAINS(parse_gpu_list("99999999999"), "is not a GPU index");
  EXPECT_ERROR_CONTAINS(parse_gpu_list("1,1"), "listed twice");
}

ops::Conv2dDesc conv(int in_c, int hw, int out_c, int k, int stride, int pad, int dilation,
                     int groups) {
  ops::Conv2dDesc d;
  d.batch = 2;
  d.in_c = in_c;
  d.in_h = d.in_w = hw;
  d.out_c = out_c;
  d.kernel_h = d.kernel_w = k;
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = pad;
  d.dilation = dilation;
  d.groups = groups;
  // Darknet's output size (convolutional_layer.c) with dilation.
  d.out_h = d.out_w = (hw + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  return d;
}

TEST(CudaGeometry, ConvDescriptorsFollowTheDesc) {
  const ConvGeometry g = conv_geometry(conv(32, 13, 64, 3, 2, 1, 1, 4));
  EXPECT_EQ(g.x, (std::array<int, 4>{2, 32, 13, 13}));
  EXPECT_EQ(g.w, (std::array<int, 4>{64, 8, 3, 3}));  // in_c / groups per filter
  EXPECT_EQ(g.y, (std::array<int, 4>{2, 64, 7, 7}));
  EXPECT_EQ(g.pad, (std::array<int, 2>{1, 1}));
  EXPECT_EQ(g.stride, (std::array<int, 2>{2, 2}));
  EXPECT_EQ(g.groups, 4);
  EXPECT_EQ(packed_nchw_strides(g.x), (std::array<int, 4>{32 * 169, 169, 13, 1}));
  // Darknet's size formula agrees with cuDNN's wherever padding is symmetric.
  for (int k = 1; k <= 7; k += 2)
    for (int stride = 1; stride <= 3; ++stride)
      for (int dilation = 1; dilation <= 3; ++dilation)
        for (int hw = k * dilation; hw <= 20; ++hw) {
          const ops::Conv2dDesc d = conv(4, hw, 8, k, stride, k / 2 * dilation, dilation, 1);
          EXPECT_NO_THROW(conv_geometry(d)) << "k " << k << " stride " << stride << " hw " << hw;
        }
  // Depthwise: groups = channels.
  EXPECT_EQ(conv_geometry(conv(16, 8, 16, 3, 1, 1, 1, 16)).w[1], 1);
  // Different keys for different shapes.
  EXPECT_NE(conv_geometry(conv(16, 8, 16, 3, 1, 1, 1, 16)).key(),
            conv_geometry(conv(16, 8, 16, 3, 1, 1, 1, 8)).key());
}

TEST(CudaGeometry, ConvDescriptorsRejectWhatCudnnCannotExpress) {
  ops::Conv2dDesc d = conv(8, 10, 8, 3, 1, 1, 1, 1);
  d.out_h = d.out_w = 11;  // would need asymmetric padding
  EXPECT_ERROR_CONTAINS(conv_geometry(d), "symmetric padding");
  EXPECT_ERROR_CONTAINS(conv_geometry(conv(6, 8, 8, 3, 1, 1, 1, 4)), "groups=4 must divide");
  ops::Conv2dDesc zero_stride = conv(8, 10, 8, 3, 1, 1, 1, 1);
  zero_stride.stride_w = 0;
  EXPECT_ERROR_CONTAINS(conv_geometry(zero_stride), "must be positive");
}

// Mixed precision: which convolutions run in half (Darknet's CUDNN_HALF tensor-core rules),
// the algorithm cache keeping half and float apart, the scratch sizes and the fallback note.
TEST(CudaGeometry, HalfConvolutionSupportFollowsTheTensorCoreRules) {
  EXPECT_TRUE(half_convolution_support(conv_geometry(conv(32, 13, 64, 3, 2, 1, 1, 1))).supported);
  EXPECT_TRUE(half_convolution_support(conv_geometry(conv(8, 6, 8, 1, 1, 0, 1, 1))).supported);
  EXPECT_EQ(half_convolution_support(conv_geometry(conv(32, 13, 64, 3, 2, 1, 1, 1))).reason, "");
  const auto reason = [](const ops::Conv2dDesc& d) {
    const HalfConvolutionSupport s = half_convolution_support(conv_geometry(d));
    EXPECT_FALSE(s.supported);
    return s.reason;
  };
  EXPECT_EQ(reason(conv(3, 12, 8, 3, 1, 1, 1, 1)),
            "3 input channels (tensor cores need a multiple of 8)");
  EXPECT_EQ(reason(conv(16, 12, 12, 3, 1, 1, 1, 1)), "12 filters (tensor cores need a multiple of 8)");
  EXPECT_EQ(reason(conv(16, 12, 16, 3, 1, 1, 1, 2)),
            "groups=2 (half precision is for ungrouped convolutions)");
  EXPECT_EQ(reason(conv(16, 12, 16, 3, 1, 2, 2, 1)),
            "dilation=2 (half precision is for undilated convolutions)");
  // 16 channels in 2 groups: 8 per group would suit tensor cores, groups still refuse.
  EXPECT_FALSE(half_convolution_support(conv_geometry(conv(16, 12, 16, 3, 1, 1, 1, 2))).supported);

  const ops::Conv2dDesc d = conv(32, 13, 64, 3, 2, 1, 1, 1);
  const ConvGeometry f = conv_geometry(d), h = conv_geometry(d, ConvPrecision::half);
  EXPECT_EQ(f.precision, ConvPrecision::float32);
  EXPECT_EQ(h.precision, ConvPrecision::half);
  EXPECT_EQ(h.x, f.x);
  EXPECT_EQ(h.w, f.w);
  EXPECT_EQ(h.y, f.y);
  EXPECT_NE(h.key(), f.key());  // cached per shape and data type
  EXPECT_EQ(conv_geometry(d, ConvPrecision::float32).key(), f.key());
  EXPECT_ERROR_CONTAINS(conv_geometry(conv(3, 12, 8, 3, 1, 1, 1, 1), ConvPrecision::half),
                        "3 input channels");
  const HalfScratch s = half_scratch_elements(h);
  EXPECT_EQ(s.x, size_t(2 * 32 * 13 * 13));
  EXPECT_EQ(s.w, size_t(64 * 32 * 3 * 3));
  EXPECT_EQ(s.y, size_t(2 * 64 * 7 * 7));

  EXPECT_EQ(half_fallback_note(7, "groups=2 (half precision is for ungrouped convolutions)"),
            "note: layer 7 [convolutional]: mixed precision: groups=2 (half precision is for "
            "ungrouped convolutions); this layer trains in float32");
  const std::string note = "note: a note of test_cuda_geometry.cpp, seen once";
  EXPECT_TRUE(first_time_noted(note));
  EXPECT_FALSE(first_time_noted(note));
  EXPECT_TRUE(first_time_noted(note + " (another)"));
}

TEST(CudaGeometry, AlgorithmChoiceRespectsTheWorkspaceLimit) {
  const std::vector<AlgorithmCandidate> ranked = {
      {6, false, 0}, {1, true, 500 << 20}, {0, true, 4 << 20}, {2, true, 0}};
  EXPECT_EQ(choose_algorithm(ranked, size_t(1) << 30), 1);  // fastest usable that fits
  EXPECT_EQ(choose_algorithm(ranked, size_t(16) << 20), 2);
  EXPECT_EQ(choose_algorithm(ranked, 0), 3);
  EXPECT_EQ(choose_algorithm({{1, false, 0}}, 0), -1);
  EXPECT_EQ(workspace_limit_bytes(1024), size_t(1) << 30);
  EXPECT_EQ(workspace_limit_bytes(0.5), size_t(1) << 19);
  EXPECT_ERROR_CONTAINS(workspace_limit_bytes(-1), "at least 0");
}

// Column-major C = alpha op(A) op(B) + beta C, as cuBLAS defines sgemm.
void sgemm_column_major(const GemmCall& c, const float* a, const float* b, float* out) {
  for (int j = 0; j < c.n; ++j)
    for (int i = 0; i < c.m; ++i) {
      double sum = 0.0;
      for (int p = 0; p < c.k; ++p) {
        const float av = c.trans_a ? a[p + size_t(i) * c.lda] : a[i + size_t(p) * c.lda];
        const float bv = c.trans_b ? b[j + size_t(p) * c.ldb] : b[p + size_t(j) * c.ldb];
        sum += double(av) * bv;
      }
      float& o = out[i + size_t(j) * c.ldc];
      o = float(sum) + c.beta * o;
    }
}

const float* pick(GemmOperand which, const std::vector<float>& w, const std::vector<float>& src,
                  const std::vector<float>& ddst) {
  return which == GemmOperand::weights ? w.data() : which == GemmOperand::src ? src.data() : ddst.data();
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

TEST(CudaGeometry, GemmCallsComputeTheConnectedLayer) {
  ops::InnerProductDesc d;
  d.batch = 3;
  d.inputs = 7;
  d.outputs = 5;
  const std::vector<float> w = random_values(d.weights_count(), 1);
  const std::vector<float> src = random_values(size_t(d.batch) * d.inputs, 2);
  const std::vector<float> ddst = random_values(size_t(d.batch) * d.outputs, 3);

  std::vector<float> want(size_t(d.batch) * d.outputs), got(want.size(), 123.0f);
  ops::inner_product_reference(d, src.data(), w.data(), nullptr, want.data());
  GemmCall c = inner_product_forward_gemm(d);
  sgemm_column_major(c, pick(c.a, w, src, ddst), pick(c.b, w, src, ddst), got.data());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;

  // Backward passes add into what is there.
  std::vector<float> dsrc_want(src.size(), 0.5f), dsrc_got(src.size(), 0.5f);
  ops::inner_product_backward_data_reference(d, ddst.data(), w.data(), dsrc_want.data());
  c = inner_product_backward_data_gemm(d);
  sgemm_column_major(c, pick(c.a, w, src, ddst), pick(c.b, w, src, ddst), dsrc_got.data());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_NEAR(dsrc_got[i], dsrc_want[i], 1e-5f) << i;

  std::vector<float> dw_want(w.size(), -0.25f), dw_got(w.size(), -0.25f);
  ops::inner_product_backward_weights_reference(d, src.data(), ddst.data(), dw_want.data());
  c = inner_product_backward_weights_gemm(d);
  sgemm_column_major(c, pick(c.a, w, src, ddst), pick(c.b, w, src, ddst), dw_got.data());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(dw_got[i], dw_want[i], 1e-5f) << i;
}

}  // namespace
}  // namespace mishnet
