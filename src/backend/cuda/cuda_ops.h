// CUDA versions of the element-wise, normalisation, data-movement, pooling, softmax, optimizer
// and detection-head ops. Pointers are device pointers; each call queues work on `stream`
// (nullptr: the default stream) and checks the launch. The semantics are those of the
// reference ops named beside each (same ADD-into-gradient rules), and the per-element math comes
// from src/kernels/*.h, so the reference tests describe these too; tests/cuda/ compares them on
// a device.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend/cuda/stream_handle.h"
#include "kernels/optimizer.h"
#include "mishnet/activation.h"
#include "mishnet/shape.h"
#include "ops/broadcast_multiply.h"
#include "ops/crop.h"
#include "ops/detection_heads.h"
#include "ops/pool2d.h"
#include "ops/reorg.h"
#include "ops/shortcut.h"

namespace mishnet::cuda {

// --- Activations (ops::activate_reference / activation_backward_reference) ---
// y = f(x) for n values of NCHW `shape` (x may equal y); every Activation, normalize_channels*
// across channels.
void activation_forward(Activation a, const Shape& shape, const float* x, float* y,
                        StreamHandle stream = nullptr);
// delta *= f'(x, y) in place (across channels for normalize_channels*); x and y as
// activation_needs(a) says (the other may be null).
void activation_backward(Activation a, const Shape& shape, float* delta, const float* x,
                         const float* y, StreamHandle stream = nullptr);

// --- Batch norm and bias (ops/batchnorm_training.h) ---
void batchnorm_inference(const Shape& shape, const float* x, const float* scales,
                         const float* biases, const float* rolling_mean,
                         const float* rolling_variance, float* y, StreamHandle stream = nullptr);
// Batch statistics: mean/variance ([C]) and x_hat out, rolling statistics updated.
void batchnorm_train_forward(const Shape& shape, const float* x, const float* scales,
                             const float* biases, float* rolling_mean, float* rolling_variance,
                             float momentum, float* mean, float* variance, float* x_hat, float* y,
                             StreamHandle stream = nullptr);
// Adds dL/dscales and dL/dbiases; writes dx (may alias dy).
void batchnorm_backward(const Shape& shape, const float* dy, const float* scales,
                        const float* variance, const float* x_hat, float* dscales, float* dbiases,
                        float* dx, StreamHandle stream = nullptr);
// delta *= f'(scales * x_hat + biases, y): activation backward with the pre-activation
// recomputed (memory-efficient Mish).
void activation_backward_from_batchnorm(Activation a, const Shape& shape, float* delta,
                                        const float* x_hat, const float* scales,
                                        const float* biases, const float* y,
                                        StreamHandle stream = nullptr);
void add_bias(const Shape& shape, float* y, const float* bias, StreamHandle stream = nullptr);
// y = f(y + bias[channel]) in one pass (bias may be null); an element-wise activation only.
void bias_activation_forward(Activation a, const Shape& shape, float* y, const float* bias,
                             StreamHandle stream = nullptr);
// dbias += sum over batch and pixels of dy per channel.
void bias_backward(const Shape& shape, const float* dy, float* dbias, StreamHandle stream = nullptr);

// --- Data movement (ops/channel_copy.h, ops/upsample.h, ops/shortcut.h) ---
void copy_channels(int batch, int spatial, const float* src, int src_channels, int src_first,
                   float* dst, int dst_channels, int dst_first, int count,
                   StreamHandle stream = nullptr);
void add_channels(int batch, int spatial, const float* ddst, int dst_channels, int dst_first,
                  float* dsrc, int src_channels, int src_first, int count,
                  StreamHandle stream = nullptr);
void upsample_nearest_forward(int planes, int h, int w, int stride, float scale, const float* src,
                              float* dst, StreamHandle stream = nullptr);
void upsample_nearest_backward(int planes, int h, int w, int stride, float scale,
                               const float* ddst, float* dsrc, StreamHandle stream = nullptr);
void downsample_sum_forward(int planes, int out_h, int out_w, int stride, float scale,
                            const float* src, float* dst, StreamHandle stream = nullptr);
void downsample_sum_backward(int planes, int out_h, int out_w, int stride, float scale,
                             const float* ddst, float* dsrc, StreamHandle stream = nullptr);

// At most this many `from` inputs (they travel in the kernel's parameters).
constexpr int kMaxShortcutInputs = 16;
// `effective_weights`: device copy of ops::shortcut_effective_weights (null when unweighted).
void shortcut_forward(const ops::ShortcutDesc& d, const float* in, const float* const* from,
                      const float* effective_weights, float* out, StreamHandle stream = nullptr);
// Gradients of the inputs only (d_in and entries of d_from may be null); the learned weights'
// gradient is shortcut_backward_weights.
void shortcut_backward_inputs(const ops::ShortcutDesc& d, const float* delta,
                              const float* effective_weights, float* d_in, float* const* d_from,
                              StreamHandle stream = nullptr);
// Training a weighted shortcut (kernels/shortcut_weights.h): the effective weights from the raw
// ones on the device (ops::shortcut_effective_weights), and d_weights += dL/d(raw weights), the
// weight gradient of ops::shortcut_backward through the normalisation (one block per (input,
// channel) into `per_channel`, d.inputs() * d.channels doubles of scratch, then one thread per
// weight).
void shortcut_effective_weights(const ops::ShortcutDesc& d, const float* raw, float* effective,
                                StreamHandle stream = nullptr);
void shortcut_backward_weights(const ops::ShortcutDesc& d, const float* delta, const float* in,
                               const float* const* from, const float* raw,
                               const float* effective, double* per_channel, float* d_weights,
                               StreamHandle stream = nullptr);

// --- Pooling (ops/pool2d.h) ---
void maxpool2d_forward(const ops::Pool2dDesc& d, const float* src, float* dst, int32_t* argmax,
                       StreamHandle stream = nullptr);
// dsrc += ddst at each window's winner (gathered per input cell: deterministic).
void maxpool2d_backward(const ops::Pool2dDesc& d, const float* ddst, const int32_t* argmax,
                        float* dsrc, StreamHandle stream = nullptr);
void avgpool2d_forward(const ops::Pool2dDesc& d, const float* src, float* dst,
                       StreamHandle stream = nullptr);
void avgpool2d_backward(const ops::Pool2dDesc& d, const float* ddst, float* dsrc,
                        StreamHandle stream = nullptr);
void global_avgpool_forward(int batch, int channels, int spatial, const float* src, float* dst,
                            StreamHandle stream = nullptr);
void global_avgpool_backward(int batch, int channels, int spatial, const float* ddst, float* dsrc,
                             StreamHandle stream = nullptr);

// Darknet's maxpool_depth (ops::maxpool_depth_forward) and its backward (each input is a
// candidate of exactly one output, so the scatter is race-free): dsrc[argmax] += ddst.
void maxpool_depth_forward(int batch, int channels, int h, int w, int out_channels,
                           const float* src, float* dst, int32_t* argmax,
                           StreamHandle stream = nullptr);
void maxpool_depth_backward(int batch, int channels, int h, int w, int out_channels,
                            const float* ddst, const int32_t* argmax, float* dsrc,
                            StreamHandle stream = nullptr);

// --- Reorg, broadcast multiply, dropout (ops/reorg.h, ops/broadcast_multiply.h, ops/dropout.h) ---
void reorg_space_to_depth(const ops::ReorgGeometry& g, const float* space, float* depth,
                          bool accumulate, StreamHandle stream = nullptr);
void reorg_depth_to_space(const ops::ReorgGeometry& g, const float* depth, float* space,
                          bool accumulate, StreamHandle stream = nullptr);
void broadcast_multiply(const Shape& shape, ops::Broadcast mode, const float* x, const float* s,
                        float* y, StreamHandle stream = nullptr);
// ADDS dx = dy * s and ds = sum over the broadcast of dy * x; either may be null.
void broadcast_multiply_backward(const Shape& shape, ops::Broadcast mode, const float* dy,
                                 const float* x, const float* s, float* dx, float* ds,
                                 StreamHandle stream = nullptr);
// `keep` is the mask ops::dropout_draw_mask drew on the host (uploaded), so a seed drops the
// same elements on the CPU and the GPU.
void dropout_forward(size_t n, const float* in, const uint8_t* keep, float scale, float* out,
                     StreamHandle stream = nullptr);
void dropout_backward(size_t n, const float* dout, const uint8_t* keep, float scale, float* din,
                      StreamHandle stream = nullptr);

// --- Crop, [implicit], accumulate (ops/crop.h, ops/batch_broadcast.h, ops/accumulate.h) ---
void crop(const Shape& x_shape, const float* x, const ops::CropWindow& win, float* y,
          StreamHandle stream = nullptr);
// dx += scale * dy at the window's positions.
void crop_backward(const Shape& x_shape, const ops::CropWindow& win, const float* dy, float* dx,
                   StreamHandle stream = nullptr);
// dst[b * count + i] = src[i]; its adjoint dst[i] += sum over b of src[b * count + i].
void broadcast_over_batch(const float* src, size_t count, int batch, float* dst,
                          StreamHandle stream = nullptr);
void sum_over_batch(const float* src, size_t count, int batch, float* dst,
                    StreamHandle stream = nullptr);
// dst += src over n floats.
void accumulate(const float* src, size_t n, float* dst, StreamHandle stream = nullptr);

// --- Softmax and cross-entropy (ops/softmax_op.h, layers/softmax.cpp) ---
void softmax_groups(const float* src, float* dst, int images, int image_size, int groups,
                    int group_size, float temperature, StreamHandle stream = nullptr);
void softmax_channels(const float* src, float* dst, int images, int channels, int spatial,
                      float temperature, StreamHandle stream = nullptr);
// Backward of softmax_groups / softmax_channels without a loss: dsrc += p * (ddst - sum(ddst *
// p)) / temperature per group (layers/softmax.cpp).
void softmax_groups_backward(const float* p, const float* ddst, float* dsrc, int images,
                             int image_size, int groups, int group_size, float temperature,
                             StreamHandle stream = nullptr);
void softmax_channels_backward(const float* p, const float* ddst, float* dsrc, int images,
                               int channels, int spatial, float temperature,
                               StreamHandle stream = nullptr);
// delta = (p - t) / temperature for n values; returns the loss -sum t log p (waits for the
// stream: the loss comes back to the host).
double softmax_cross_entropy(const float* p, const float* truth, float* delta, size_t n,
                             float temperature, StreamHandle stream = nullptr);

// --- Optimizer updates (src/train/optimizer.cpp, kernels/optimizer.h) ---
void sgd_update(const kernels::SgdStep& p, float* w, float* velocity, const float* grad, size_t n,
                StreamHandle stream = nullptr);
void adam_update(const kernels::AdamStep& p, float* w, float* m, float* v, const float* grad, size_t n,
                 StreamHandle stream = nullptr);

// --- Mixed-precision training (kernels/mixed_precision.h, train/loss_scale.h) ---
// True when any of the n values is inf or nan (waits for the stream: the flag comes back to
// the host).
bool gradients_overflow(const float* grad, size_t n, StreamHandle stream = nullptr);
// x *= factor for n values: the loss scale on the loss deltas, 1/scale on the gradients.
void scale_values(float* x, size_t n, float factor, StreamHandle stream = nullptr);
// float <-> IEEE half (uint16_t bit patterns, kernels/half_precision.h: round to nearest even)
// for the half-precision convolution: h = half(x); x = float(h); x += float(h) (ADD, as the
// float gradients accumulate).
void float_to_half(const float* x, uint16_t* h, size_t n, StreamHandle stream = nullptr);
void half_to_float(const uint16_t* h, float* x, size_t n, StreamHandle stream = nullptr);
void add_half_to_float(const uint16_t* h, float* x, size_t n, StreamHandle stream = nullptr);

// --- Input (data/image.cpp's load_image conversion) ---
// dst (batch x channels x h x w floats in [0, 1]) from interleaved 8-bit pixels (batch x h x w x
// channels), for batches uploaded as bytes (4x less to copy than floats).
void planar_from_interleaved(const uint8_t* src, float* dst, int batch, int h, int w, int channels,
                             StreamHandle stream = nullptr);

// --- Detection heads (ops/detection_heads.h) ---
void yolo_activate(const ops::HeadDesc& d, const float* src, float* dst, float scale_x_y,
                   bool new_coords, StreamHandle stream = nullptr);

// [region] in inference (ops::region_activate_reference): logistic on objectness, softmax over
// the classes when `softmax`; coordinates pass through. dst may equal src.
void region_activate(const ops::HeadDesc& d, const float* src, float* dst, bool softmax,
                     StreamHandle stream = nullptr);

}  // namespace mishnet::cuda
