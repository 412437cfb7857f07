// The bodies of the gather-style CUDA kernels, one output (or one input cell) per call, as
// MISHNET_HD functions without CUDA types: the .cu files call them once per thread, and
// tests/cuda/test_cuda_gather.cpp calls them for every index on the CPU and compares with the
// reference ops. So the index arithmetic of these kernels is tested without a GPU.
#pragma once
#include <float.h>

#include <cstddef>
#include <cstdint>

#include "backend/cuda/launch_geometry.h"
#include "kernels/activations.h"
#include "kernels/host_device.h"
#include "kernels/softmax.h"
#include "ops/broadcast_multiply.h"
#include "ops/crop.h"
#include "ops/pool2d.h"
#include "ops/reorg.h"

namespace mishnet::cuda {

// Max over output o's window (o indexes batch x channels x out_h x out_w). argmax, when not
// null, receives the winner's index within its image (c*h*w), -1 for an all-padding window;
// row-major window order with a strict '>': ties go to the first, as ops::maxpool2d_forward.
MISHNET_HD float maxpool_output(const ops::Pool2dDesc& d, const float* src, size_t o,
                                int32_t* argmax) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * size_t(d.in_w);
  const size_t out_plane = size_t(d.out_h) * size_t(d.out_w);
  const size_t plane = o / out_plane, cell = o % out_plane;
  const int oy = int(cell / size_t(d.out_w)), ox = int(cell % size_t(d.out_w));
  const int y0 = oy * d.stride_y - before, x0 = ox * d.stride_x - before;
  const float* in = src + plane * in_plane;
  float best = -FLT_MAX;
  long best_at = -1;
  for (int y = y0; y < y0 + d.size; ++y) {
    if (y < 0 || y >= d.in_h) continue;
    for (int x = x0; x < x0 + d.size; ++x) {
      if (x < 0 || x >= d.in_w) continue;
      const float v = in[size_t(y) * size_t(d.in_w) + size_t(x)];
      if (v > best) {
        best = v;
        best_at = long(y) * d.in_w + x;
      }
    }
  }
  if (argmax) {
    const long c = long(plane % size_t(d.channels));
    *argmax = best_at < 0 ? -1 : int32_t(c * long(in_plane) + best_at);
  }
  return best;
}

// dL/d(input cell i) from the windows that cover it and chose it (argmax).
MISHNET_HD float maxpool_input_gradient(const ops::Pool2dDesc& d, const float* ddst,
                                        const int32_t* argmax, size_t i) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * size_t(d.in_w);
  const size_t out_plane = size_t(d.out_h) * size_t(d.out_w);
  const size_t plane = i / in_plane, cell = i % in_plane;
  const int y = int(cell / size_t(d.in_w)), x = int(cell % size_t(d.in_w));
  const int32_t me = int32_t((plane % size_t(d.channels)) * in_plane + cell);
  const IndexRange rows = pool_outputs_covering(y, before, d.size, d.stride_y, d.out_h);
  const IndexRange cols = pool_outputs_covering(x, before, d.size, d.stride_x, d.out_w);
  float g = 0.0f;
  for (int oy = rows.first; oy <= rows.last; ++oy)
    for (int ox = cols.first; ox <= cols.last; ++ox) {
      const size_t o = plane * out_plane + size_t(oy) * size_t(d.out_w) + size_t(ox);
      if (argmax[o] == me) g += ddst[o];
    }
  return g;
}

// Mean of the cells of output o's window that lie inside the input.
MISHNET_HD float avgpool_output(const ops::Pool2dDesc& d, const float* src, size_t o) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * size_t(d.in_w);
  const size_t out_plane = size_t(d.out_h) * size_t(d.out_w);
  const size_t plane = o / out_plane, cell = o % out_plane;
  const int oy = int(cell / size_t(d.out_w)), ox = int(cell % size_t(d.out_w));
  const IndexRange rows = clip_window(oy * d.stride_y - before, d.size, d.in_h);
  const IndexRange cols = clip_window(ox * d.stride_x - before, d.size, d.in_w);
  const float* in = src + plane * in_plane;
  float sum = 0.0f;
  int count = 0;
  for (int y = rows.first; y <= rows.last; ++y)
    for (int x = cols.first; x <= cols.last; ++x) {
      sum += in[size_t(y) * size_t(d.in_w) + size_t(x)];
      ++count;
    }
  return count ? sum / float(count) : 0.0f;
}

// dL/d(input cell i): each covering window's gradient over the window's inside cell count.
MISHNET_HD float avgpool_input_gradient(const ops::Pool2dDesc& d, const float* ddst, size_t i) {
  const int before = d.padding / 2;
  const size_t in_plane = size_t(d.in_h) * size_t(d.in_w);
  const size_t out_plane = size_t(d.out_h) * size_t(d.out_w);
  const size_t plane = i / in_plane, cell = i % in_plane;
  const int y = int(cell / size_t(d.in_w)), x = int(cell % size_t(d.in_w));
  const IndexRange rows = pool_outputs_covering(y, before, d.size, d.stride_y, d.out_h);
  const IndexRange cols = pool_outputs_covering(x, before, d.size, d.stride_x, d.out_w);
  float g = 0.0f;
  for (int oy = rows.first; oy <= rows.last; ++oy)
    for (int ox = cols.first; ox <= cols.last; ++ox) {
      const IndexRange wr = clip_window(oy * d.stride_y - before, d.size, d.in_h);
      const IndexRange wc = clip_window(ox * d.stride_x - before, d.size, d.in_w);
      const int count = (wr.last - wr.first + 1) * (wc.last - wc.first + 1);
      g += ddst[plane * out_plane + size_t(oy) * size_t(d.out_w) + size_t(ox)] / float(count);
    }
  return g;
}

// scale * (sum of the stride x stride block of `big` that small cell i (of planes x h x w)
// covers): upsample backward and downsample forward.
MISHNET_HD float downsample_block_sum(int h, int w, int stride, float scale, const float* big, size_t i) {
  const size_t small_plane = size_t(h) * size_t(w);
  const size_t plane = i / small_plane, cell = i % small_plane;
  const size_t y = cell / size_t(w), x = cell % size_t(w);
  const size_t big_w = size_t(w) * size_t(stride);
  const float* p = big + plane * small_plane * size_t(stride) * size_t(stride);
  float sum = 0.0f;
  for (int dy = 0; dy < stride; ++dy)
    for (int dx = 0; dx < stride; ++dx)
      sum += scale * p[(y * size_t(stride) + size_t(dy)) * big_w + x * size_t(stride) + size_t(dx)];
  return sum;
}

// maxpool_depth (Darknet): output o of batch x out_channels x spatial is the max over input
// channels g, g + out_channels, ... at its pixel; argmax as maxpool_output (first wins).
MISHNET_HD float maxpool_depth_output(int channels, int spatial, int out_channels,
                                      const float* src, size_t o, int32_t* argmax) {
  const size_t p = o % size_t(spatial), g = (o / size_t(spatial)) % size_t(out_channels);
  const size_t b = o / (size_t(spatial) * size_t(out_channels));
  const float* in = src + b * size_t(channels) * size_t(spatial);
  float best = -FLT_MAX;
  long best_at = -1;
  for (size_t k = g; k < size_t(channels); k += size_t(out_channels)) {
    const float v = in[k * size_t(spatial) + p];
    if (v > best) {
      best = v;
      best_at = long(k * size_t(spatial) + p);
    }
  }
  if (argmax) *argmax = int32_t(best_at);
  return best;
}

// Darknet's reorg permutation (ops/reorg.h): the space-view index of depth-view element d
// (d indexes batch x channels x height x width).
MISHNET_HD size_t reorg_space_index(const ops::ReorgGeometry& g, size_t d) {
  const size_t s = size_t(g.stride);
  const size_t space_c = size_t(g.channels) / (s * s);
  const size_t space_w = size_t(g.width) * s, space_h = size_t(g.height) * s;
  const size_t i = d % size_t(g.width), j = (d / size_t(g.width)) % size_t(g.height);
  const size_t plane = d / (size_t(g.width) * size_t(g.height));
  const size_t b = plane / size_t(g.channels), k = plane % size_t(g.channels);
  const size_t c2 = k % space_c, offset = k / space_c;
  return ((b * space_c + c2) * space_h + j * s + offset / s) * space_w + offset % s + i * s;
}

// The factor of s that multiplies element i (flat NCHW) of x (ops/broadcast_multiply.h).
MISHNET_HD size_t broadcast_factor_index(ops::Broadcast mode, size_t plane, size_t per_image,
                                         size_t i) {
  switch (mode) {
    case ops::Broadcast::per_channel: return i / plane;
    case ops::Broadcast::per_position: return (i / per_image) * plane + i % plane;
    case ops::Broadcast::elementwise: break;
  }
  return i;
}

// Network input from decoded 8-bit pixels: element i of the planar float batch
// (batch x channels x h x w) is the interleaved byte (y, x, k) of its image / 255, as
// load_image does on the CPU.
MISHNET_HD float planar_value_from_interleaved(const unsigned char* src, int h, int w, int channels,
                                         size_t i) {
  const size_t plane = size_t(h) * size_t(w);
  const size_t image = i / (plane * size_t(channels));
  const size_t k = (i / plane) % size_t(channels), cell = i % plane;
  return float(src[(image * plane + cell) * size_t(channels) + k]) / 255.0f;
}

// Offset of softmax group g (of images x groups, consecutive groups of group_size values at the
// start of each image of image_size values): softmax_groups and its backward, [softmax] and
// [detection]'s class scores.
MISHNET_HD size_t softmax_group_offset(int image_size, int groups, int group_size, size_t g) {
  return (g / size_t(groups)) * size_t(image_size) + (g % size_t(groups)) * size_t(group_size);
}

// Softmax backward for one group of n probabilities p spaced `stride` apart:
// dx += p * (dy - sum(dy * p)) / temperature, the sum in double (layers/softmax.cpp).
MISHNET_HD void softmax_backward_strided(const float* p, const float* dy, float* dx, int n,
                                         size_t stride, float temperature) {
  double dot = 0.0;
  for (int i = 0; i < n; ++i) dot += double(dy[size_t(i) * stride]) * p[size_t(i) * stride];
  for (int i = 0; i < n; ++i) {
    const size_t k = size_t(i) * stride;
    dx[k] += p[k] * (dy[k] - float(dot)) / temperature;
  }
}

// [crop]: the input index (of a c x in_h x in_w image stack) that output o of the window reads
// (outputs: planes x out_h x out_w); flip mirrors the columns. A window never reads an input
// twice, so the backward scatter through this index is race-free.
MISHNET_HD size_t crop_source_index(int in_h, int in_w, const ops::CropWindow& win, size_t o) {
  const size_t out_plane = size_t(win.out_h) * size_t(win.out_w);
  const size_t plane = o / out_plane, cell = o % out_plane;
  const int r = int(cell / size_t(win.out_w)), j = int(cell % size_t(win.out_w));
  const int col = win.flip ? win.left + win.out_w - 1 - j : win.left + j;
  return (plane * size_t(in_h) + size_t(win.top + r)) * size_t(in_w) + size_t(col);
}

// [region] head in inference (ops::region_activate_reference) for one cell of one anchor: the
// anchor's block of entries x spatial values starts at `block`; logistic on the objectness
// (entry 4), and a softmax over the classes (entries 5..) when `softmax`. In place.
MISHNET_HD void region_activate_cell(float* block, int entries, int spatial, int cell,
                                     bool softmax) {
  float* obj = block + size_t(4) * size_t(spatial) + size_t(cell);
  *obj = kernels::logistic(*obj);
  if (softmax) {
    float* classes = block + size_t(5) * size_t(spatial) + size_t(cell);
    kernels::softmax_strided(classes, classes, entries - 5, spatial, 1.0f);
  }
}

}  // namespace mishnet::cuda
