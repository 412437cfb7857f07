// The cuBLAS (column-major) sgemm calls of the connected layer, from mishnet's row-major
// layouts: src batch x inputs, dst batch x outputs, weights outputs x inputs (Darknet's). A
// row-major R x C matrix is a column-major C x R one, so no data is transposed. Plain host
// arithmetic, tested on the CPU against the reference ops with a column-major gemm.
#pragma once
#include "ops/inner_product.h"

namespace mishnet::cuda {

// C = alpha * op(A) * op(B) + beta * C, column-major; op transposes when trans_* is set.
// `a`/`b` say which operand goes where.
enum class GemmOperand { weights, src, ddst };

struct GemmCall {
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0;
  int lda = 0, ldb = 0, ldc = 0;
  float beta = 0.0f;
  GemmOperand a = GemmOperand::weights, b = GemmOperand::src;
};

// dst (col-major outputs x batch) = W^T-as-stored (col-major inputs x outputs, transposed)
// x src (col-major inputs x batch).
inline GemmCall inner_product_forward_gemm(const ops::InnerProductDesc& d) {
  return {true, false, d.outputs, d.batch, d.inputs, d.inputs, d.inputs, d.outputs, 0.0f,
          GemmOperand::weights, GemmOperand::src};
}

// dsrc (col-major inputs x batch) += W (col-major inputs x outputs) x ddst (outputs x batch).
inline GemmCall inner_product_backward_data_gemm(const ops::InnerProductDesc& d) {
  return {false, false, d.inputs, d.batch, d.outputs, d.inputs, d.outputs, d.inputs, 1.0f,
          GemmOperand::weights, GemmOperand::ddst};
}

// dW (col-major inputs x outputs) += src (inputs x batch) x ddst^T (batch x outputs).
inline GemmCall inner_product_backward_weights_gemm(const ops::InnerProductDesc& d) {
  return {false, true, d.inputs, d.outputs, d.batch, d.inputs, d.outputs, d.inputs, 1.0f,
          GemmOperand::src, GemmOperand::ddst};
}

}  // namespace mishnet::cuda
