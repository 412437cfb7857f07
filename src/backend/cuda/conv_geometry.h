// cuDNN convolution descriptors from mishnet's Conv2dDesc, and algorithm choice under a
// workspace limit: plain host arithmetic (no cuDNN types), tested on the CPU
// (tests/cuda/test_cuda_conv_geometry.cpp); cudnn_convolution.cpp feeds it to cuDNN.
#pragma once
#include <array>
#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "mishnet/error.h"
#include "ops/conv2d.h"

namespace mishnet::cuda {

// cuDNN's output extent: 1 + (in + 2 pad - ((kernel - 1) dilation + 1)) / stride.
inline int cudnn_output_extent(int in, int pad, int kernel, int stride, int dilation) {
  return 1 + (in + 2 * pad - ((kernel - 1) * dilation + 1)) / stride;
}

// Strides of a packed NCHW tensor with these dimensions.
inline std::array<int, 4> packed_nchw_strides(const std::array<int, 4>& dims) {
  return {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
}

// The storage type of a convolution's x, w and y in cuDNN: float32, or IEEE half for mixed
// precision ([net] mixed_precision=1: half tensors, float accumulation, tensor cores).
enum class ConvPrecision { float32 = 0, half = 1 };

struct ConvGeometry {
  ConvPrecision precision = ConvPrecision::float32;
  std::array<int, 4> x{};  // input: N, C, H, W
  std::array<int, 4> w{};  // filter: K, C / groups, R, S (Darknet's weight layout is KCRS)
  std::array<int, 4> y{};  // output: N, K, P, Q
  std::array<int, 2> pad{}, stride{}, dilation{};
  int groups = 1;

  // Everything cuDNN sees, for the algorithm cache (slot 17 is the caller's; the data type is
  // in slot 18: half and float algorithms differ).
  std::array<int, 19> key() const {
    return {x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], y[2], y[3], pad[0], pad[1],
            stride[0], stride[1], dilation[0], dilation[1], groups, 0, int(precision)};
  }
};

// Throws when cuDNN cannot express `d`: cuDNN pads symmetrically, so the output size must be
// the one symmetric padding gives (Darknet's pad = size/2 always is).
inline ConvGeometry conv_geometry(const ops::Conv2dDesc& d) {
  if (d.groups < 1 || d.in_c % d.groups != 0 || d.out_c % d.groups != 0)
    fail("cuDNN convolution: groups=", d.groups, " must divide the input channels (", d.in_c,
         ") and filters (", d.out_c, ")");
  if (d.batch < 1 || d.stride_h < 1 || d.stride_w < 1 || d.dilation < 1 || d.kernel_h < 1 ||
      d.kernel_w < 1)
    fail("cuDNN convolution: batch, kernel, stride and dilation must be positive");
  ConvGeometry g;
  g.x = {d.batch, d.in_c, d.in_h, d.in_w};
  g.w = {d.out_c, d.in_c / d.groups, d.kernel_h, d.kernel_w};
  g.y = {d.batch, d.out_c, d.out_h, d.out_w};
  g.pad = {d.pad_h, d.pad_w};
  g.stride = {d.stride_h, d.stride_w};
  g.dilation = {d.dilation, d.dilation};
  g.groups = d.groups;
  const int p = cudnn_output_extent(d.in_h, d.pad_h, d.kernel_h, d.stride_h, d.dilation);
  const int q = cudnn_output_extent(d.in_w, d.pad_w, d.kernel_w, d.stride_w, d.dilation);
  if (p != d.out_h || q != d.out_w)
    fail("cuDNN convolution: output ", d.out_w, "x", d.out_h, " is not what symmetric padding ",
         d.pad_w, "x", d.pad_h, " gives (", q, "x", p, ")");
  return g;
}

// Whether a convolution trains in half precision under [net] mixed_precision=1, and if not, why
// (the layer prints the reason and trains in float32: never silently). Darknet's CUDNN_HALF
// rules for tensor cores: no groups, and channel counts (per group) and filters multiples of 8;
// dilated convolutions stay in float32 too (cuDNN has few half algorithms for them). The first
// layer of a network (3 channels) thus stays float32, as in Darknet.
struct HalfConvolutionSupport {
  bool supported = false;
  std::string reason;  // empty when supported
};

inline HalfConvolutionSupport half_convolution_support(const ConvGeometry& g) {
  if (g.groups != 1)
    return {false, "groups=" + std::to_string(g.groups) + " (half precision is for ungrouped "
                   "convolutions)"};
  if (g.dilation[0] != 1 || g.dilation[1] != 1)
    return {false, "dilation=" + std::to_string(g.dilation[0]) + " (half precision is for "
                   "undilated convolutions)"};
  if (g.w[1] % 8 != 0)
    return {false, std::to_string(g.w[1]) + " input channels (tensor cores need a multiple of 8)"};
  if (g.w[0] % 8 != 0)
    return {false, std::to_string(g.w[0]) + " filters (tensor cores need a multiple of 8)"};
  return {true, ""};
}

// The one-line note of a layer that mixed precision leaves in float32.
inline std::string half_fallback_note(int layer, const std::string& reason) {
  return "note: layer " + std::to_string(layer) + " [convolutional]: mixed precision: " + reason +
         "; this layer trains in float32";
}

// True the first time `note` is seen in this process: each GPU and each multi-scale rebuild
// makes the layer's device state again, the note is printed once.
inline bool first_time_noted(const std::string& note) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mutex);
  return seen.insert(note).second;
}

// `d`'s geometry in `precision`; throws as conv_geometry, and for half when
// half_convolution_support refuses it (callers check that first and fall back with a note).
inline ConvGeometry conv_geometry(const ops::Conv2dDesc& d, ConvPrecision precision) {
  ConvGeometry g = conv_geometry(d);
  if (precision == ConvPrecision::half) {
    const HalfConvolutionSupport s = half_convolution_support(g);
    if (!s.supported) fail("cuDNN half convolution: not for ", s.reason);
  }
  g.precision = precision;
  return g;
}

// The floats (= halves) of the scratch copies a half convolution converts into: x (also dx),
// w (also dw) and y (also dy).
struct HalfScratch {
  size_t x = 0, w = 0, y = 0;
};

inline HalfScratch half_scratch_elements(const ConvGeometry& g) {
  const auto count = [](const std::array<int, 4>& a) {
    return size_t(a[0]) * size_t(a[1]) * size_t(a[2]) * size_t(a[3]);
  };
  return {count(g.x), count(g.w), count(g.y)};
}

// One result of cuDNN's algorithm search, in its ranking order (fastest expected first).
struct AlgorithmCandidate {
  int algorithm = 0;
  bool usable = false;  // status success and not a "not supported" entry
  size_t workspace = 0;
};

// The first usable candidate whose workspace fits `limit` bytes; -1 when none does (the caller
// reports it: no silent fallback).
inline int choose_algorithm(const std::vector<AlgorithmCandidate>& ranked, size_t limit) {
  for (size_t i = 0; i < ranked.size(); ++i)
    if (ranked[i].usable && ranked[i].workspace <= limit) return int(i);
  return -1;
}

// [net] workspace_size_limit_MB (Darknet's option; MB = 2^20 bytes).
inline size_t workspace_limit_bytes(double megabytes) {
  if (!(megabytes >= 0.0)) fail("workspace_size_limit_MB must be at least 0, not ", megabytes);
  return size_t(megabytes * 1024.0 * 1024.0);
}

}  // namespace mishnet::cuda
