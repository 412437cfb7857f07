// Activations on the GPU: kernels::activate / activation_gradient per element, and the
// normalize_channels family per pixel (kernels/normalize_channels.h), as the reference op.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/kernel_util.cuh"
#include "kernels/activations.h"
#include "kernels/normalize_channels.h"
#include "mishnet/error.h"

namespace mishnet::cuda {

namespace {

__global__ void activate_kernel(Activation a, const float* x, float* y, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) y[i] = kernels::activate(a, x[i]);
}

__global__ void activation_gradient_kernel(Activation a, float* delta, const float* x,
                                           const float* y, size_t n) {
  // The value an activation does not read may be anything (kernels/activations.h): 0 here.
  MISHNET_GRID_STRIDE_LOOP(i, n) {
    delta[i] *= kernels::activation_gradient(a, x ? x[i] : 0.0f, y ? y[i] : 0.0f);
  }
}

// One thread per (image, pixel): the pixel's channel k is at base[k * spatial].
__global__ void normalize_channels_kernel(Activation a, float* y, int channels, long spatial,
                                          size_t pixels) {
  MISHNET_GRID_STRIDE_LOOP(i, pixels) {
    float* base = y + (i / spatial) * channels * spatial + i % spatial;
    if (a == Activation::normalize_channels)
      kernels::normalize_channels_forward(base, channels, spatial);
    else
      kernels::normalize_channels_softmax_forward(
          base, channels, spatial, a == Activation::normalize_channels_softmax_maxval);
  }
}

__global__ void normalize_channels_backward_kernel(Activation a, float* delta, const float* x,
                                                   const float* y, int channels, long spatial,
                                                   size_t pixels) {
  MISHNET_GRID_STRIDE_LOOP(i, pixels) {
    const size_t offset = (i / spatial) * channels * spatial + i % spatial;
    // Only the pointer the activation reads is offset (the other may be null).
    if (a == Activation::normalize_channels)
      kernels::normalize_channels_backward(delta + offset, x + offset, channels, spatial);
    else
      kernels::normalize_channels_softmax_backward(delta + offset, y + offset, channels, spatial);
  }
}

bool across_channels(Activation a) { return !activation_is_elementwise(a); }

}  // namespace

void activation_forward(Activation a, const Shape& shape, const float* x, float* y,
                        StreamHandle stream) {
  const size_t n = shape.size();
  if (!across_channels(a)) {
    launch_elements("launch of activate_kernel", n, stream, activate_kernel, a, x, y, n);
    return;
  }
  if (x != y) copy_on_device(y, x, n * sizeof(float), stream);
  const long spatial = long(shape.h) * shape.w;
  const size_t pixels = size_t(shape.n) * size_t(spatial);
  launch_elements("launch of normalize_channels_kernel", pixels, stream,
                  normalize_channels_kernel, a, y, shape.c, spatial, pixels);
}

void activation_backward(Activation a, const Shape& shape, float* delta, const float* x,
                         const float* y, StreamHandle stream) {
  const ActivationNeeds needs = activation_needs(a);
  if (needs == ActivationNeeds::input && !x)
    fail("cuda::activation_backward: '", activation_name(a), "' needs its input");
  if (needs == ActivationNeeds::output && !y)
    fail("cuda::activation_backward: '", activation_name(a), "' needs its output");
  if (a == Activation::linear) return;
  const size_t n = shape.size();
  if (!across_channels(a)) {
    launch_elements("launch of activation_gradient_kernel", n, stream, activation_gradient_kernel,
                    a, delta, x, y, n);
    return;
  }
  const long spatial = long(shape.h) * shape.w;
  const size_t pixels = size_t(shape.n) * size_t(spatial);
  launch_elements("launch of normalize_channels_backward_kernel", pixels, stream,
                  normalize_channels_backward_kernel, a, delta, x, y, shape.c, spatial, pixels);
}

}  // namespace mishnet::cuda
