// 2-D convolution on the GPU with cuDNN: forward, backward-data and backward-filter, with
// algorithms chosen once per shape under a workspace limit (cached process-wide) and one
// workspace per thread shared by all convolutions. No CUDA types here.
// In half precision (mixed-precision training) x, w and dy stay float32 in memory: each call
// converts what it reads into per-thread half scratch buffers, cuDNN runs on halves with float
// accumulation and tensor cores, and the result is converted back to float (gradients ADDED).
// Callers check conv_geometry.h's half_convolution_support first.
#pragma once
#include <cstddef>
#include <memory>

#include "backend/cuda/conv_epilogue.h"
#include "backend/cuda/conv_geometry.h"
#include "backend/cuda/stream_handle.h"
#include "ops/conv2d.h"

namespace mishnet::cuda {

class CudnnConvolution {
 public:
  // Throws when cuDNN cannot express `d` (conv_geometry) or no algorithm fits the limit.
  // Forward only (inference): the backward algorithms are not chosen, the workspace is the
  // forward one's, and backward_data/backward_filter throw.
  enum class Directions { all, forward_only };
  CudnnConvolution(const ops::Conv2dDesc& d, size_t workspace_limit_bytes,
                   Directions directions = Directions::all,
                   ConvPrecision precision = ConvPrecision::float32);
  ~CudnnConvolution();
  CudnnConvolution(const CudnnConvolution&) = delete;
  CudnnConvolution& operator=(const CudnnConvolution&) = delete;

  // y = conv(x, w) + bias (bias per output channel, may be null). Device pointers; weights in
  // Darknet's layout [out_c][in_c/groups][kh][kw].
  void forward(const float* x, const float* w, const float* bias, float* y,
               StreamHandle stream = nullptr);
  // y = f(conv(x, w) + bias) for inference: cuDNN's fused convolution + bias + activation where
  // cuDNN allows it, otherwise the convolution and one element-wise pass (conv_epilogue.h says
  // which). bias may be null.
  void forward_activation(const float* x, const float* w, const float* bias, Activation a,
                          float* y, StreamHandle stream = nullptr);
  // What forward_activation does for `a` with this convolution's forward algorithm.
  ConvEpilogue epilogue(Activation a, bool has_bias) const;

  // dx += dL/dx (ADD, as ops::Conv2dBackwardOp).
  void backward_data(const float* dy, const float* w, float* dx, StreamHandle stream = nullptr);
  // dw += dL/dw.
  void backward_filter(const float* x, const float* dy, float* dw, StreamHandle stream = nullptr);

  // Runs forward with cuDNN algorithm `algorithm` (a cudnnConvolutionFwdAlgo_t) instead of the
  // heuristics' choice (tests reach every epilogue with it); throws when cuDNN cannot run it on
  // this shape or its workspace exceeds the limit.
  void force_forward_algorithm(int algorithm);

  // The chosen cuDNN algorithm numbers (cudnnConvolution*Algo_t) and workspace bytes.
  int forward_algorithm() const;
  int backward_data_algorithm() const;
  int backward_filter_algorithm() const;
  size_t workspace_bytes() const;
  ConvPrecision precision() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mishnet::cuda
