// Optimizer updates, input conversion and the [yolo]/[region] head activations on the GPU: per-element functions of
// kernels/optimizer.h and kernels/detection_heads.h, the ones the CPU code calls.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/gather_kernels.h"
#include "backend/cuda/kernel_util.cuh"
#include "kernels/detection_heads.h"
#include "kernels/optimizer.h"

namespace mishnet::cuda {

namespace {

__global__ void sgd_kernel(kernels::SgdStep p, float* w, float* v, const float* g, size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) kernels::sgd_update(p, w[i], v[i], g[i]);
}

__global__ void adam_kernel(kernels::AdamStep p, float* w, float* m, float* s, const float* g,
                            size_t n) {
  MISHNET_GRID_STRIDE_LOOP(i, n) kernels::adam_update(p, w[i], m[i], s[i], g[i]);
}

__global__ void yolo_activate_kernel(int entries, int spatial, const float* src, float* dst,
                                     float scale_x_y, float shift, bool new_coords, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) {
    const int entry = int((i / size_t(spatial)) % size_t(entries));
    dst[i] = kernels::yolo_activate_value(entry, src[i], scale_x_y, shift, new_coords);
  }
}

__global__ void planar_from_interleaved_kernel(const uint8_t* src, float* dst, int h, int w,
                                               int channels, size_t total) {
  MISHNET_GRID_STRIDE_LOOP(i, total) dst[i] = planar_value_from_interleaved(src, h, w, channels, i);
}

// One thread per (image, anchor, cell).
__global__ void region_activate_kernel(int entries, int spatial, float* dst, bool softmax,
                                       size_t cells) {
  MISHNET_GRID_STRIDE_LOOP(q, cells) {
    const size_t block = q / size_t(spatial);  // image * anchors + anchor
    region_activate_cell(dst + block * size_t(entries) * size_t(spatial), entries, spatial,
                         int(q % size_t(spatial)), softmax);
  }
}

}  // namespace

void region_activate(const ops::HeadDesc& d, const float* src, float* dst, bool softmax,
                     StreamHandle stream) {
  const size_t total = size_t(d.batch) * size_t(d.anchors) * size_t(d.entries) * size_t(d.spatial);
  if (dst != src) copy_on_device(dst, src, total * sizeof(float), stream);
  const size_t cells = size_t(d.batch) * size_t(d.anchors) * size_t(d.spatial);
  launch_elements("launch of region_activate_kernel", cells, stream, region_activate_kernel,
                  d.entries, d.spatial, dst, softmax, cells);
}

void planar_from_interleaved(const uint8_t* src, float* dst, int batch, int h, int w, int channels,
                             StreamHandle stream) {
  const size_t total = size_t(batch) * size_t(channels) * size_t(h) * size_t(w);
  launch_elements("launch of planar_from_interleaved_kernel", total, stream,
                  planar_from_interleaved_kernel, src, dst, h, w, channels, total);
}

void sgd_update(const kernels::SgdStep& p, float* w, float* velocity, const float* grad, size_t n,
                StreamHandle stream) {
  launch_elements("launch of sgd_kernel", n, stream, sgd_kernel, p, w, velocity, grad, n);
}

void adam_update(const kernels::AdamStep& p, float* w, float* m, float* v, const float* grad,
                 size_t n, StreamHandle stream) {
  launch_elements("launch of adam_kernel", n, stream, adam_kernel, p, w, m, v, grad, n);
}

void yolo_activate(const ops::HeadDesc& d, const float* src, float* dst, float scale_x_y,
                   bool new_coords, StreamHandle stream) {
  // NCHW with channels = anchors * entries: entry = channel % entries.
  const size_t total = size_t(d.batch) * d.anchors * d.entries * d.spatial;
  launch_elements("launch of yolo_activate_kernel", total, stream, yolo_activate_kernel,
                  d.entries, d.spatial, src, dst, scale_x_y, kernels::yolo_xy_shift(scale_x_y),
                  new_coords, total);
}

}  // namespace mishnet::cuda
