// Pooling ops with Darknet's geometry: windowed max and average ([maxpool], [local_avgpool]),
// max across channel groups (maxpool_depth) and global average ([avgpool]).
// Plain reference implementations (OpenMP over planes). Backward passes ADD into the input
// gradient, so several consumers of a tensor accumulate.
#pragma once
#include <cstdint>
#include <memory>

#include "mishnet/layer.h"

namespace mishnet::ops {

// A window of `size` x `size` moves by stride_x / stride_y. `padding` is Darknet's total
// padding per axis: padding/2 cells before, the rest after; padded cells are never read (they
// are not candidates for the max and not counted in the average).
struct Pool2dDesc {
  int batch = 1;
  int channels = 0;
  int in_h = 0, in_w = 0;
  int out_h = 0, out_w = 0;
  int size = 1;
  int stride_x = 1, stride_y = 1;
  int padding = 0;
  // src and dst in oneDNN's nChw16c layout (channels a multiple of 16; the network keeps them so
  // between layers, src/core/layout_plan.h): the cpu backend's inference op only.
  bool blocked = false;
};

// Darknet's output extent along one axis: (in + padding - size) / stride + 1.
inline int pool2d_output_extent(int in, int size, int stride, int padding) {
  return (in + padding - size) / stride + 1;
}

// dst = max over each window. When `argmax` is not null it receives, per output, the index
// within its image (c*h*w) of the input that won; ties go to the first in row-major window
// order (Darknet's strict '>'). A window with no cell above -FLT_MAX gives -FLT_MAX and -1.
void maxpool2d_forward_reference(const Pool2dDesc& d, const float* src, float* dst,
                                 int32_t* argmax);
// The same results, bit for bit: 2x2 windows at stride 2 that all lie inside the input (the
// maxpools of yolov4-tiny and the CSP backbones in training) take a branch-free loop over row
// pairs, every other geometry the reference.
void maxpool2d_forward(const Pool2dDesc& d, const float* src, float* dst, int32_t* argmax);

// dst = mean of the window's cells that lie inside the input.
void avgpool2d_forward(const Pool2dDesc& d, const float* src, float* dst);
// The exact gradient of avgpool2d_forward: each cell gets ddst / (cells inside the window).
void avgpool2d_backward(const Pool2dDesc& d, const float* ddst, float* dsrc);

// Darknet's maxpool_depth: output channel g (of out_channels) is the max over input channels
// g, g + out_channels, g + 2*out_channels, ... at each pixel. argmax as in maxpool2d_forward.
void maxpool_depth_forward(int batch, int channels, int h, int w, int out_channels,
                           const float* src, float* dst, int32_t* argmax);
// Backward of both max poolings: dsrc[argmax[o]] += ddst[o] within each image, where an image
// has out_size outputs and in_size inputs.
void maxpool_backward(int batch, int out_size, int in_size, const float* ddst,
                      const int32_t* argmax, float* dsrc);

// [avgpool]: mean over h*w per channel; dst is batch x channels.
void global_avgpool_forward(int batch, int channels, int spatial, const float* src, float* dst);
void global_avgpool_backward(int batch, int channels, int spatial, const float* ddst, float* dsrc);

// Inference-only windowed pooling behind one interface, so a backend can supply a faster
// one (no argmax: training keeps maxpool2d_forward, whose argmax the backward pass needs).
enum class PoolKind { max, average };

class Pool2dInferenceOp {
 public:
  virtual ~Pool2dInferenceOp() = default;
  // src is d.batch x channels x in_h x in_w, dst d.batch x channels x out_h x out_w.
  virtual void forward(const float* src, float* dst) = 0;
  virtual const char* impl_name() const = 0;
};

// The fastest implementation the backend has for this geometry, else the reference
// (maxpool2d_forward / avgpool2d_forward).
std::unique_ptr<Pool2dInferenceOp> make_pool2d_inference(const Pool2dDesc& d, PoolKind kind,
                                                         BackendKind backend);
std::unique_ptr<Pool2dInferenceOp> make_pool2d_inference_reference(const Pool2dDesc& d,
                                                                   PoolKind kind);

}  // namespace mishnet::ops
