// Nearest-neighbour resampling by an integer factor, Darknet's [upsample]: upsampling repeats
// each cell stride x stride times, downsampling (negative stride in the cfg) SUMS each
// stride x stride block; both multiply by `scale`. Plain reference implementations; backward
// passes ADD into the input gradient.
#pragma once

namespace mishnet::ops {

// `planes` = batch * channels; src is planes x h x w, dst planes x (h*stride) x (w*stride).
void upsample_nearest_forward(int planes, int h, int w, int stride, float scale, const float* src,
                              float* dst);
// dsrc += scale * (sum of the block of ddst each source cell was copied to).
void upsample_nearest_backward(int planes, int h, int w, int stride, float scale, const float* ddst,
                               float* dsrc);

// The same on tensors in nChw16c: `blocks` = batch * channels / 16, each cell a vector of 16
// channels (src blocks x h x w x 16, dst blocks x (h*stride) x (w*stride) x 16).
void upsample_nearest_forward_blocked16(int blocks, int h, int w, int stride, float scale,
                                        const float* src, float* dst);

// src is planes x (out_h*stride) x (out_w*stride), dst planes x out_h x out_w.
void downsample_sum_forward(int planes, int out_h, int out_w, int stride, float scale,
                            const float* src, float* dst);
// dsrc += scale * ddst of the block each cell belongs to.
void downsample_sum_backward(int planes, int out_h, int out_w, int stride, float scale,
                             const float* ddst, float* dsrc);

}  // namespace mishnet::ops
