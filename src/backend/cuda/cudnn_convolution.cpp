#include "backend/cuda/cudnn_convolution.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "backend/cuda/conv_geometry.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"

namespace mishnet::cuda {

namespace {

// One cuDNN handle and one workspace per thread (a thread drives one GPU), and the half copies
// of x (or dx), w (or dw) and y (or dy) of half-precision convolutions: one convolution runs
// at a time on a thread's stream, so every layer shares them.
struct ThreadCudnn {
  cudnnHandle_t handle = nullptr;
  DeviceBuffer workspace;
  DeviceBuffer half_x, half_w, half_y;
  ThreadCudnn() { MISHNET_CUDNN_CHECK(cudnnCreate(&handle)); }
  ~ThreadCudnn() {
    if (handle) (void)cudnnDestroy(handle);
  }
};

// Per thread and per device: a handle and its workspace belong to the device that was current
// when they were made, and a thread may drive several devices one after the other.
ThreadCudnn& thread_cudnn() {
  thread_local std::map<int, std::unique_ptr<ThreadCudnn>> per_device;
  int device = 0;
  MISHNET_CUDA_CHECK(cudaGetDevice(&device));
  std::unique_ptr<ThreadCudnn>& t = per_device[device];
  if (!t) t = std::make_unique<ThreadCudnn>();
  return *t;
}

struct Algorithms {
  cudnnConvolutionFwdAlgo_t forward{};
  cudnnConvolutionBwdDataAlgo_t backward_data{};
  cudnnConvolutionBwdFilterAlgo_t backward_filter{};
  size_t workspace = 0;
};

// Shapes already searched, per device and limit: YOLOv4 repeats a handful of shapes.
using CacheKey = std::tuple<int, size_t, std::array<int, 19>>;
std::mutex cache_mutex;
std::map<CacheKey, Algorithms>& algorithm_cache() {
  static std::map<CacheKey, Algorithms> cache;
  return cache;
}

// cuDNN's ranking with each usable algorithm's exact workspace (the heuristics' estimate may
// differ from what the algorithm then asks for). Only deterministic algorithms are usable:
// backward-data algorithm 0 and backward-filter algorithms 0 and 3 add with atomics, so two runs
// of the same step would differ (exact resume, GPU-vs-GPU tests); cuDNN always offers a
// deterministic one (backward algorithm 1).
template <typename Perf, typename ExactBytes>
std::vector<AlgorithmCandidate> candidates(const Perf* perf, int count, ExactBytes exact_bytes) {
  std::vector<AlgorithmCandidate> out;
  for (int i = 0; i < count; ++i) {
    AlgorithmCandidate c{int(perf[i].algo),
                         perf[i].status == CUDNN_STATUS_SUCCESS &&
                             perf[i].determinism == CUDNN_DETERMINISTIC,
                         0};
    if (c.usable) c.usable = exact_bytes(perf[i].algo, c.workspace);
    out.push_back(c);
  }
  return out;
}

int pick(const std::vector<AlgorithmCandidate>& ranked, size_t limit, const char* direction) {
  const int i = choose_algorithm(ranked, limit);
  if (i < 0)
    fail("cuDNN: no ", direction, " convolution algorithm fits workspace_size_limit_MB (",
         double(limit) / (1024.0 * 1024.0), " MB); raise the limit");
  return ranked[size_t(i)].algorithm;
}

}  // namespace

struct CudnnConvolution::Impl {
  ConvGeometry g;
  size_t limit = 0;
  bool backward = true;
  cudnnTensorDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnFilterDescriptor_t w_desc = nullptr;
  cudnnConvolutionDescriptor_t conv_desc = nullptr;
  Algorithms algos;
  // For cuDNN's fused forward (made on first use): the bias as 1 x K x 1 x 1, the activation.
  cudnnTensorDescriptor_t bias_desc = nullptr;
  cudnnActivationDescriptor_t relu_desc = nullptr, identity_desc = nullptr;

  bool half() const { return g.precision == ConvPrecision::half; }

  ~Impl() {
    if (bias_desc) (void)cudnnDestroyTensorDescriptor(bias_desc);
    if (relu_desc) (void)cudnnDestroyActivationDescriptor(relu_desc);
    if (identity_desc) (void)cudnnDestroyActivationDescriptor(identity_desc);
    if (x_desc) (void)cudnnDestroyTensorDescriptor(x_desc);
    if (y_desc) (void)cudnnDestroyTensorDescriptor(y_desc);
    if (w_desc) (void)cudnnDestroyFilterDescriptor(w_desc);
    if (conv_desc) (void)cudnnDestroyConvolutionDescriptor(conv_desc);
  }

  void describe() {
    MISHNET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_desc));
    MISHNET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_desc));
    MISHNET_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_desc));
    MISHNET_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_desc));
    const std::array<int, 4> xs = packed_nchw_strides(g.x), ys = packed_nchw_strides(g.y);
    // Half tensors with float compute (cuDNN's PSEUDO_HALF_CONFIG, Darknet's CUDNN_HALF).
    const cudnnDataType_t type = half() ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    MISHNET_CUDNN_CHECK(cudnnSetTensorNdDescriptor(x_desc, type, 4, g.x.data(), xs.data()));
    MISHNET_CUDNN_CHECK(cudnnSetTensorNdDescriptor(y_desc, type, 4, g.y.data(), ys.data()));
    MISHNET_CUDNN_CHECK(cudnnSetFilterNdDescriptor(w_desc, type, CUDNN_TENSOR_NCHW, 4, g.w.data()));
    MISHNET_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(conv_desc, 2, g.pad.data(), g.stride.data(),
                                                        g.dilation.data(), CUDNN_CROSS_CORRELATION,
                                                        CUDNN_DATA_FLOAT));
    MISHNET_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_desc, g.groups));
    // Full float32 (no TF32 tensor cores): results comparable with the CPU. Mixed precision is a
    // separate, opt-in mode (docs/gpu.md): tensor cores on the half tensors.
    MISHNET_CUDNN_CHECK(
        cudnnSetConvolutionMathType(conv_desc, half() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
    // cuDNN's own output size must agree with mishnet's.
    std::array<int, 4> out{};
    MISHNET_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(conv_desc, x_desc, w_desc, 4, out.data()));
    if (out != g.y)
      fail("cuDNN convolution: cuDNN computes output ", out[3], "x", out[2], "x", out[1],
           ", mishnet ", g.y[3], "x", g.y[2], "x", g.y[1]);
  }

  void choose(cudnnHandle_t h) {
    int device = 0;
    MISHNET_CUDA_CHECK(cudaGetDevice(&device));
    std::array<int, 19> shape_key = g.key();
    shape_key[17] = backward ? 1 : 0;  // a spare slot of the key: forward-only choices differ
    const CacheKey key{device, limit, shape_key};
    {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = algorithm_cache().find(key);
      if (it != algorithm_cache().end()) {
        algos = it->second;
        return;
      }
    }
    // cuDNN's heuristics rank the algorithms (no trial runs, no allocation); the first one
    // whose workspace fits the limit wins. An algorithm whose size query fails is skipped.
    int count = 0;
    cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    MISHNET_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
        h, x_desc, w_desc, conv_desc, y_desc, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, fwd));
    const auto fwd_bytes = [&](cudnnConvolutionFwdAlgo_t a, size_t& bytes) {
      return cudnnGetConvolutionForwardWorkspaceSize(h, x_desc, w_desc, conv_desc, y_desc, a,
                                                     &bytes) == CUDNN_STATUS_SUCCESS;
    };
    algos.forward =
        cudnnConvolutionFwdAlgo_t(pick(candidates(fwd, count, fwd_bytes), limit, "forward"));
    if (!backward) {
      fwd_bytes(algos.forward, algos.workspace);
      std::lock_guard<std::mutex> lock(cache_mutex);
      algorithm_cache().emplace(key, algos);
      return;
    }
    cudnnConvolutionBwdDataAlgoPerf_t bwd_data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    MISHNET_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
        h, w_desc, y_desc, conv_desc, x_desc, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
        bwd_data));
    const auto data_bytes = [&](cudnnConvolutionBwdDataAlgo_t a, size_t& bytes) {
      return cudnnGetConvolutionBackwardDataWorkspaceSize(h, w_desc, y_desc, conv_desc, x_desc, a,
                                                          &bytes) == CUDNN_STATUS_SUCCESS;
    };
    algos.backward_data = cudnnConvolutionBwdDataAlgo_t(
        pick(candidates(bwd_data, count, data_bytes), limit, "backward-data"));
    cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    MISHNET_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        h, x_desc, y_desc, conv_desc, w_desc, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
        bwd_filter));
    const auto filter_bytes = [&](cudnnConvolutionBwdFilterAlgo_t a, size_t& bytes) {
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x_desc, y_desc, conv_desc, w_desc,
                                                            a, &bytes) == CUDNN_STATUS_SUCCESS;
    };
    algos.backward_filter = cudnnConvolutionBwdFilterAlgo_t(
        pick(candidates(bwd_filter, count, filter_bytes), limit, "backward-filter"));
    size_t f = 0, bd = 0, bf = 0;
    fwd_bytes(algos.forward, f);
    data_bytes(algos.backward_data, bd);
    filter_bytes(algos.backward_filter, bf);
    algos.workspace = std::max({f, bd, bf});
    std::lock_guard<std::mutex> lock(cache_mutex);
    algorithm_cache().emplace(key, algos);
  }

  void describe_fused() {
    if (bias_desc) return;
    MISHNET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias_desc));
    MISHNET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                   1, g.y[1], 1, 1));
    MISHNET_CUDNN_CHECK(cudnnCreateActivationDescriptor(&relu_desc));
    MISHNET_CUDNN_CHECK(cudnnSetActivationDescriptor(relu_desc, CUDNN_ACTIVATION_RELU,
                                                     CUDNN_NOT_PROPAGATE_NAN, 0.0));
    MISHNET_CUDNN_CHECK(cudnnCreateActivationDescriptor(&identity_desc));
    MISHNET_CUDNN_CHECK(cudnnSetActivationDescriptor(identity_desc, CUDNN_ACTIVATION_IDENTITY,
                                                     CUDNN_NOT_PROPAGATE_NAN, 0.0));
  }

  // The thread's handle on `stream`, with a workspace of at least the chosen algorithms' size.
  ThreadCudnn& prepare(StreamHandle stream) {
    ThreadCudnn& t = thread_cudnn();
    MISHNET_CUDNN_CHECK(cudnnSetStream(t.handle, stream));
    t.workspace.reserve(algos.workspace);
    if (half()) {
      const HalfScratch s = half_scratch_elements(g);
      t.half_x.reserve(s.x * sizeof(uint16_t));
      t.half_w.reserve(s.w * sizeof(uint16_t));
      t.half_y.reserve(s.y * sizeof(uint16_t));
    }
    return t;
  }
};

CudnnConvolution::CudnnConvolution(const ops::Conv2dDesc& d, size_t workspace_limit_bytes,
                                   Directions directions, ConvPrecision precision)
    : impl_(std::make_unique<Impl>()) {
  impl_->g = conv_geometry(d, precision);
  impl_->limit = workspace_limit_bytes;
  impl_->backward = directions == Directions::all;
  impl_->describe();
  impl_->choose(thread_cudnn().handle);
}

CudnnConvolution::~CudnnConvolution() = default;

namespace {

uint16_t* halves(const DeviceBuffer& b) { return static_cast<uint16_t*>(b.data()); }

}  // namespace

void CudnnConvolution::forward(const float* x, const float* w, const float* bias, float* y,
                               StreamHandle stream) {
  Impl& m = *impl_;
  ThreadCudnn& t = m.prepare(stream);
  const float one = 1.0f, zero = 0.0f;
  if (m.half()) {
    const HalfScratch n = half_scratch_elements(m.g);
    float_to_half(x, halves(t.half_x), n.x, stream);
    float_to_half(w, halves(t.half_w), n.w, stream);
    MISHNET_CUDNN_CHECK(cudnnConvolutionForward(
        t.handle, &one, m.x_desc, t.half_x.data(), m.w_desc, t.half_w.data(), m.conv_desc,
        m.algos.forward, t.workspace.data(), t.workspace.bytes(), &zero, m.y_desc,
        t.half_y.data()));
    half_to_float(halves(t.half_y), y, n.y, stream);
  } else {
    MISHNET_CUDNN_CHECK(cudnnConvolutionForward(t.handle, &one, m.x_desc, x, m.w_desc, w,
                                                m.conv_desc, m.algos.forward, t.workspace.data(),
                                                t.workspace.bytes(), &zero, m.y_desc, y));
  }
  if (bias) add_bias(Shape{m.g.y[0], m.g.y[1], m.g.y[2], m.g.y[3]}, y, bias, stream);
}

static_assert(kCudnnImplicitPrecompGemm == int(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM));

ConvEpilogue CudnnConvolution::epilogue(Activation a, bool has_bias) const {
  return choose_conv_epilogue(a, has_bias, int(impl_->algos.forward));
}

void CudnnConvolution::forward_activation(const float* x, const float* w, const float* bias,
                                          Activation a, float* y, StreamHandle stream) {
  Impl& m = *impl_;
  const Shape out{m.g.y[0], m.g.y[1], m.g.y[2], m.g.y[3]};
  const ConvEpilogue e = epilogue(a, bias != nullptr);
  const bool fused = e == ConvEpilogue::cudnn_fused_relu || e == ConvEpilogue::cudnn_fused_identity;
  if (fused && m.half())  // the fused call would read float data through half descriptors
    fail("CudnnConvolution: forward_activation runs float32 convolutions only");
  if (fused) {
    m.describe_fused();
    ThreadCudnn& t = m.prepare(stream);
    // y = act(1 * conv(x) + 0 * z + bias) with z = y (cuDNN reads z only when alpha2 != 0).
    const float one = 1.0f, zero = 0.0f;
    MISHNET_CUDNN_CHECK(cudnnConvolutionBiasActivationForward(
        t.handle, &one, m.x_desc, x, m.w_desc, w, m.conv_desc, m.algos.forward,
        t.workspace.data(), t.workspace.bytes(), &zero, m.y_desc, y, m.bias_desc, bias,
        e == ConvEpilogue::cudnn_fused_relu ? m.relu_desc : m.identity_desc, m.y_desc, y));
    return;
  }
  if (e == ConvEpilogue::bias_then_activation) {
    forward(x, w, bias, y, stream);
    activation_forward(a, out, y, y, stream);
    return;
  }
  forward(x, w, nullptr, y, stream);
  if (e == ConvEpilogue::bias_activation_kernel) bias_activation_forward(a, out, y, bias, stream);
}

void CudnnConvolution::backward_data(const float* dy, const float* w, float* dx,
                                     StreamHandle stream) {
  Impl& m = *impl_;
  if (!m.backward) fail("CudnnConvolution: backward_data on a forward-only convolution");
  ThreadCudnn& t = m.prepare(stream);
  const float one = 1.0f, zero = 0.0f;
  if (m.half()) {
    // dx_half = conv_data(dy_half, w_half), then dx += dx_half in float.
    const HalfScratch n = half_scratch_elements(m.g);
    float_to_half(dy, halves(t.half_y), n.y, stream);
    float_to_half(w, halves(t.half_w), n.w, stream);
    MISHNET_CUDNN_CHECK(cudnnConvolutionBackwardData(
        t.handle, &one, m.w_desc, t.half_w.data(), m.y_desc, t.half_y.data(), m.conv_desc,
        m.algos.backward_data, t.workspace.data(), t.workspace.bytes(), &zero, m.x_desc,
        t.half_x.data()));
    add_half_to_float(halves(t.half_x), dx, n.x, stream);
    return;
  }
  MISHNET_CUDNN_CHECK(cudnnConvolutionBackwardData(t.handle, &one, m.w_desc, w, m.y_desc, dy,
                                                   m.conv_desc, m.algos.backward_data,
                                                   t.workspace.data(), t.workspace.bytes(), &one,
                                                   m.x_desc, dx));
}

void CudnnConvolution::backward_filter(const float* x, const float* dy, float* dw,
                                       StreamHandle stream) {
  Impl& m = *impl_;
  if (!m.backward) fail("CudnnConvolution: backward_filter on a forward-only convolution");
  ThreadCudnn& t = m.prepare(stream);
  const float one = 1.0f, zero = 0.0f;
  if (m.half()) {
    // dw_half = conv_filter(x_half, dy_half), then dw += dw_half in float (the float
    // gradient accumulates over layers' calls and subdivisions, as on the CPU).
    const HalfScratch n = half_scratch_elements(m.g);
    float_to_half(x, halves(t.half_x), n.x, stream);
    float_to_half(dy, halves(t.half_y), n.y, stream);
    MISHNET_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
        t.handle, &one, m.x_desc, t.half_x.data(), m.y_desc, t.half_y.data(), m.conv_desc,
        m.algos.backward_filter, t.workspace.data(), t.workspace.bytes(), &zero, m.w_desc,
        t.half_w.data()));
    add_half_to_float(halves(t.half_w), dw, n.w, stream);
    return;
  }
  MISHNET_CUDNN_CHECK(cudnnConvolutionBackwardFilter(t.handle, &one, m.x_desc, x, m.y_desc, dy,
                                                     m.conv_desc, m.algos.backward_filter,
                                                     t.workspace.data(), t.workspace.bytes(),
                                                     &one, m.w_desc, dw));
}

void CudnnConvolution::force_forward_algorithm(int algorithm) {
  Impl& m = *impl_;
  size_t bytes = 0;
  const auto a = cudnnConvolutionFwdAlgo_t(algorithm);
  if (cudnnGetConvolutionForwardWorkspaceSize(thread_cudnn().handle, m.x_desc, m.w_desc,
                                              m.conv_desc, m.y_desc, a, &bytes) !=
      CUDNN_STATUS_SUCCESS)
    fail("cuDNN: forward algorithm ", algorithm, " cannot run this convolution");
  if (bytes > m.limit)
    fail("cuDNN: forward algorithm ", algorithm, " needs ", bytes,
         " bytes of workspace, over workspace_size_limit_MB");
  m.algos.forward = a;
  m.algos.workspace = std::max(m.algos.workspace, bytes);
}

int CudnnConvolution::forward_algorithm() const { return int(impl_->algos.forward); }
int CudnnConvolution::backward_data_algorithm() const { return int(impl_->algos.backward_data); }
int CudnnConvolution::backward_filter_algorithm() const {
  return int(impl_->algos.backward_filter);
}
size_t CudnnConvolution::workspace_bytes() const { return impl_->algos.workspace; }
ConvPrecision CudnnConvolution::precision() const { return impl_->g.precision; }

}  // namespace mishnet::cuda
