// Copying a block of channels between NCHW tensors of equal height and width: the concat and
// group split of [route]. Plain reference implementations.
#pragma once

namespace mishnet::ops {

// For each image b: dst channels [dst_first, dst_first + count) = src channels
// [src_first, src_first + count). src has src_channels per image, dst dst_channels; both have
// `spatial` = h*w cells per channel. A block already in place (same address) is left alone.
void copy_channels(int batch, int spatial, const float* src, int src_channels, int src_first,
                   float* dst, int dst_channels, int dst_first, int count);
// The backward of copy_channels: src-side gradient += dst-side gradient for the same block.
void add_channels(int batch, int spatial, const float* ddst, int dst_channels, int dst_first,
                  float* dsrc, int src_channels, int src_first, int count);

}  // namespace mishnet::ops
