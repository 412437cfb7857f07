// Window geometry shared by [maxpool] and [local_avgpool]: Darknet's keys, defaults and output
// size, with the checks Darknet leaves out.
#pragma once
#include <string>

#include "mishnet/cfg.h"
#include "mishnet/shape.h"
#include "ops/pool2d.h"

namespace mishnet {

struct PoolWindow {
  int size = 1, stride_x = 1, stride_y = 1, padding = 0;
};

// stride (1), stride_x/stride_y (stride), size (stride), padding (size - 1), as parse_maxpool.
inline PoolWindow parse_pool_window(const CfgSection& s) {
  PoolWindow p;
  const int stride = s.get_int("stride", 1);
  p.stride_x = s.get_int("stride_x", stride);
  p.stride_y = s.get_int("stride_y", stride);
  p.size = s.get_int("size", stride);
  p.padding = s.get_int("padding", p.size - 1);
  if (p.stride_x < 1) s.fail_key(s.has("stride_x") ? "stride_x" : "stride", "must be at least 1");
  if (p.stride_y < 1) s.fail_key(s.has("stride_y") ? "stride_y" : "stride", "must be at least 1");
  if (p.size < 1) s.fail_key("size", "must be at least 1");
  if (p.padding < 0) s.fail_key("padding", "must not be negative");
  return p;
}

// Checks the window against the input and returns the op description (batch 1).
inline ops::Pool2dDesc describe_pool(const CfgSection& s, const PoolWindow& p, const Shape& in) {
  const std::string input = std::to_string(in.w) + "x" + std::to_string(in.h);
  if (in.w + p.padding < p.size || in.h + p.padding < p.size)
    s.fail_key("size", "window " + std::to_string(p.size) + " is larger than the padded input " +
                           input + " (padding " + std::to_string(p.padding) + ")");
  ops::Pool2dDesc d;
  d.channels = in.c;
  d.in_h = in.h;
  d.in_w = in.w;
  d.size = p.size;
  d.stride_x = p.stride_x;
  d.stride_y = p.stride_y;
  d.padding = p.padding;
  d.out_w = ops::pool2d_output_extent(in.w, p.size, p.stride_x, p.padding);
  d.out_h = ops::pool2d_output_extent(in.h, p.size, p.stride_y, p.padding);
  // Darknet would output -FLT_MAX (max) or 0/0 (average) for a window that sees no input.
  const int before = p.padding / 2;
  auto outside = [&](int extent, int out, int stride) {
    return before >= p.size || (out - 1) * stride - before >= extent;
  };
  if (outside(in.w, d.out_w, p.stride_x) || outside(in.h, d.out_h, p.stride_y))
    s.fail_key("padding", "padding " + std::to_string(p.padding) + " (" + std::to_string(before) +
                              " before) leaves windows of size " + std::to_string(p.size) +
                              " entirely outside the input " + input);
  return d;
}

inline std::string pool_geometry_text(const PoolWindow& p) {
  std::string g = std::to_string(p.size) + "x" + std::to_string(p.size) + "/";
  if (p.stride_x == p.stride_y) return g + std::to_string(p.stride_x);
  return g + std::to_string(p.stride_x) + "x" + std::to_string(p.stride_y);
}

}  // namespace mishnet
