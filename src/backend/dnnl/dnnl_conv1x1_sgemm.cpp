// 1x1 convolution (stride 1, no padding) straight on NCHW: per image and group it is the matrix
// product dst[oc][p] = Σ_ic W[oc][ic]·src[ic][p], which oneDNN's sgemm runs at full speed with
// no reorder at all. oneDNN's own NCHW convolution is 4x slower on these shapes, and its blocked
// one spends most of a 1x1 layer's time transposing NCHW in and out (docs/cpu-backend.md).
//
// The output is computed in tiles of all of a group's output channels (or a block of them) by a
// run of pixels, small enough for the L2 cache: sgemm writes the tile into per-thread scratch,
// bias and activation are applied there while it is hot, and the tile is copied to dst.
#include "backend/dnnl/dnnl_conv1x1_sgemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "backend/dnnl/dnnl_eltwise.h"
#include "backend/dnnl/dnnl_engine.h"
#include "mishnet/error.h"

namespace mishnet::dnnl_backend {

namespace {

// A tile of at most this many floats (256 KiB) stays in L2 while bias and activation run.
constexpr long kTileFloats = 64 * 1024;
constexpr long kMinTileColumns = 64;

long round_up(long x, long m) { return (x + m - 1) / m * m; }

class SgemmConv1x1 final : public ops::Conv2dOp {
 public:
  explicit SgemmConv1x1(const ops::Conv2dDesc& d) : d_(d) {
    pixels_ = long(d.out_h) * d.out_w;
    in_per_group_ = d.in_c / d.groups;
    out_per_group_ = d.out_c / d.groups;

    // Columns per tile: the whole tile within kTileFloats, a multiple of 16 (one AVX-512
    // vector), never more than the image.
    const long max_cols = std::max(kMinTileColumns, kTileFloats / out_per_group_ / 16 * 16);
    long col_tiles = (pixels_ + max_cols - 1) / max_cols;
    // Too few tiles to keep every thread busy (small images): split the channels as well.
    const long threads = omp_get_max_threads();
    const long images = long(d.batch) * d.groups;
    row_blocks_ = 1;
    if (images * col_tiles < 2 * threads)
      row_blocks_ = std::min((2 * threads + images * col_tiles - 1) / (images * col_tiles),
                             std::max(1L, long(out_per_group_) / 16));
    // A tile count that divides evenly among the threads (11 tiles on 2 threads would leave
    // one thread idle for a twelfth of the layer).
    while (col_tiles > 1 && col_tiles < pixels_ / 16 &&
           (images * row_blocks_ * col_tiles) % threads)
      ++col_tiles;
    cols_ = std::min(pixels_, round_up((pixels_ + col_tiles - 1) / col_tiles, 16));
    col_tiles_ = (pixels_ + cols_ - 1) / cols_;
    rows_ = std::min<long>(round_up((out_per_group_ + row_blocks_ - 1) / row_blocks_, 8),
                           out_per_group_);
    row_blocks_ = (out_per_group_ + rows_ - 1) / rows_;

    fused_ = eltwise_usable(d.activation);
    if (fused_ && d.activation != Activation::linear) {
      // One primitive chain per distinct tile size (full/last rows by full/last columns).
      for (long r : {rows_, out_per_group_ - (row_blocks_ - 1) * rows_})
        for (long c : {cols_, pixels_ - (col_tiles_ - 1) * cols_})
          if (!eltwise_.count(r * c))
            eltwise_[r * c] = make_primitives(*eltwise_chain(d.activation), size_t(r * c));
    }
    name_ = "onednn:sgemm_1x1 (nchw)";
  }

  // Darknet's [out][in/groups] layout is already sgemm's row-major A, so the weights are used
  // where they are, as the reference op does: the caller keeps them alive and unchanged until
  // the next set_weights (the conv layer's folded copy). No second copy of the largest tensors.
  void set_weights(const float* weights, const float* bias) override {
    weights_ = weights;
    bias_.assign(size_t(d_.out_c), 0.0f);
    if (bias) std::copy(bias, bias + d_.out_c, bias_.begin());
  }

  void forward(const float* src, float* dst) override {
    const long tiles = long(d_.batch) * d_.groups * row_blocks_ * col_tiles_;
    bool ok = true;
#pragma omp parallel for schedule(static) reduction(&& : ok)
    for (long t = 0; t < tiles; ++t) {
      try {
        ok = run_tile(t, src, dst) && ok;
      } catch (const dnnl::error&) {  // exceptions must not leave an OpenMP region
        ok = false;
      }
    }
    if (!ok) fail("oneDNN failed in a 1x1 convolution (sgemm or eltwise)");
  }

  bool fused_activation() const override { return fused_; }
  const char* impl_name() const override { return name_.c_str(); }

 private:
  bool run_tile(long t, const float* src, float* dst) const {
    const long col_tile = t % col_tiles_;
    const long row_block = (t / col_tiles_) % row_blocks_;
    const long group = (t / col_tiles_ / row_blocks_) % d_.groups;
    const long image = t / col_tiles_ / row_blocks_ / d_.groups;
    const long p0 = col_tile * cols_, cols = std::min(cols_, pixels_ - p0);
    const long r0 = row_block * rows_, rows = std::min(rows_, out_per_group_ - r0);
    const long oc0 = group * out_per_group_ + r0;

    const float* a = weights_ + oc0 * in_per_group_;
    const float* b = src + (image * d_.in_c + group * in_per_group_) * pixels_ + p0;
    float* out = dst + (image * d_.out_c + oc0) * pixels_ + p0;

    // Bias first, then C += A·B: the tile is written once by sgemm and stays in cache.
    float* tile = scratch(ScratchSlot::src, size_t(rows * cols) * sizeof(float));
    for (long r = 0; r < rows; ++r) std::fill_n(tile + r * cols, cols, bias_[size_t(oc0 + r)]);
    if (dnnl_sgemm('N', 'N', rows, cols, in_per_group_, 1.0f, a, in_per_group_, b, pixels_, 1.0f,
                   tile, cols) != dnnl_success)
      return false;
    if (fused_ && d_.activation != Activation::linear) {
      dnnl::memory::desc md({rows * cols}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::x);
      dnnl::memory mem(md, cpu_engine(), tile);
      dnnl::stream& s = cpu_stream();
      for (const auto& p : eltwise_.at(rows * cols))
        p.execute(s, {{DNNL_ARG_SRC, mem}, {DNNL_ARG_DST, mem}});
      s.wait();
    }
    for (long r = 0; r < rows; ++r)
      std::memcpy(out + r * pixels_, tile + r * cols, size_t(cols) * sizeof(float));
    return true;
  }

  ops::Conv2dDesc d_;
  long pixels_ = 0, in_per_group_ = 0, out_per_group_ = 0;
  long cols_ = 0, rows_ = 0, col_tiles_ = 0, row_blocks_ = 0;
  bool fused_ = false;
  std::string name_;
  const float* weights_ = nullptr;
  std::vector<float> bias_;
  std::map<long, std::vector<dnnl::eltwise_forward>> eltwise_;
};

}  // namespace

bool sgemm_conv1x1_applies(const ops::Conv2dDesc& d) {
  return d.kernel_h == 1 && d.kernel_w == 1 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h == 0 &&
         d.pad_w == 0 && d.out_h == d.in_h && d.out_w == d.in_w;
}

std::unique_ptr<ops::Conv2dOp> make_sgemm_conv1x1(const ops::Conv2dDesc& d) {
  if (!sgemm_conv1x1_applies(d)) return nullptr;
  return std::make_unique<SgemmConv1x1>(d);
}

}  // namespace mishnet::dnnl_backend
