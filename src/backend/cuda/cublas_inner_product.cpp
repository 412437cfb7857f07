#include "backend/cuda/cublas_inner_product.h"

#include <map>
#include <memory>

#include "backend/cuda/cublas_library.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/gemm_geometry.h"

namespace mishnet::cuda {

namespace {

// One cuBLAS handle per thread (a thread drives one GPU).
struct ThreadCublas {
  cublasHandle_t handle = nullptr;
  ThreadCublas() {
    MISHNET_CUBLAS_CHECK(blas::create(&handle));
    // Full float32: the default mode never uses TF32 unless asked (CUBLAS_TF32_TENSOR_OP_MATH).
    MISHNET_CUBLAS_CHECK(blas::set_math_mode(handle, CUBLAS_DEFAULT_MATH));
  }
  ~ThreadCublas() {
    if (handle) (void)blas::destroy(handle);
  }
};

// Per thread and per device, as the cuDNN handles (cudnn_convolution.cpp).
cublasHandle_t thread_cublas(StreamHandle stream) {
  thread_local std::map<int, std::unique_ptr<ThreadCublas>> per_device;
  int device = 0;
  MISHNET_CUDA_CHECK(cudaGetDevice(&device));
  std::unique_ptr<ThreadCublas>& t = per_device[device];
  if (!t) t = std::make_unique<ThreadCublas>();
  MISHNET_CUBLAS_CHECK(blas::set_stream(t->handle, stream));
  return t->handle;
}

const float* operand(GemmOperand which, const float* weights, const float* src,
                     const float* ddst) {
  switch (which) {
    case GemmOperand::weights: return weights;
    case GemmOperand::src: return src;
    case GemmOperand::ddst: return ddst;
  }
  return nullptr;
}

void run(const GemmCall& c, const float* weights, const float* src, const float* ddst, float* out,
         StreamHandle stream) {
  if (c.m == 0 || c.n == 0) return;
  const float alpha = 1.0f;
  MISHNET_CUBLAS_CHECK(blas::sgemm(thread_cublas(stream), c.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   c.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, c.m, c.n, c.k, &alpha,
                                   operand(c.a, weights, src, ddst), c.lda,
                                   operand(c.b, weights, src, ddst), c.ldb, &c.beta, out, c.ldc));
}

}  // namespace

void inner_product_forward(const ops::InnerProductDesc& d, const float* src, const float* weights,
                           const float* bias, float* dst, StreamHandle stream) {
  run(inner_product_forward_gemm(d), weights, src, nullptr, dst, stream);
  if (bias) add_bias(Shape{d.batch, d.outputs, 1, 1}, dst, bias, stream);
}

void inner_product_backward_data(const ops::InnerProductDesc& d, const float* ddst,
                                 const float* weights, float* dsrc, StreamHandle stream) {
  run(inner_product_backward_data_gemm(d), weights, nullptr, ddst, dsrc, stream);
}

void inner_product_backward_weights(const ops::InnerProductDesc& d, const float* src,
                                    const float* ddst, float* dweights, StreamHandle stream) {
  run(inner_product_backward_weights_gemm(d), nullptr, src, ddst, dweights, stream);
}

}  // namespace mishnet::cuda
