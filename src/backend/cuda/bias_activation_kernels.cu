// The one-pass epilogue of a GPU convolution whose activation cuDNN cannot fuse
// (conv_epilogue.h): y = f(y + bias[channel]) instead of a bias pass and an activation pass.
#include "backend/cuda/conv_epilogue.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernel_util.cuh"
#include "mishnet/error.h"

namespace mishnet::cuda {

namespace {

__global__ void bias_activation_kernel(Activation a, float* y, const float* bias, int channels,
                                       size_t spatial, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) y[i] = bias_activate_element(a, y, bias, i, channels, spatial);
}

}  // namespace

void bias_activation_forward(Activation a, const Shape& shape, float* y, const float* bias,
                             StreamHandle stream) {
  if (!activation_is_elementwise(a))
    fail("bias_activation_forward: ", activation_name(a), " is not element-wise");
  const size_t spatial = size_t(shape.h) * size_t(shape.w);
  launch_elements("launch of bias_activation_kernel", shape.size(), stream, bias_activation_kernel,
                  a, y, bias, shape.c, spatial, shape.size());
}

}  // namespace mishnet::cuda
