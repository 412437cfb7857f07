// Softmax over groups of values: the [softmax] layer, [region] and [detection] class scores.
#pragma once

namespace mishnet::ops {

// For each of `images` images of `image_size` floats, for each of `groups` consecutive chunks of
// group_size floats (group g starts at g * group_size): dst = softmax(src / temperature).
// Darknet's softmax_cpu with stride 1. dst may equal src.
void softmax_groups_reference(const float* src, float* dst, int images, int image_size,
                              int groups, int group_size, float temperature);

// For each image and each of `spatial` positions: softmax across `channels` values spaced
// `spatial` apart (NCHW channel softmax). dst may equal src.
void softmax_channels_reference(const float* src, float* dst, int images, int channels,
                                int spatial, float temperature);

}  // namespace mishnet::ops
