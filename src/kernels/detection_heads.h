// Per-value activation of a [yolo] head (Darknet's forward_yolo_layer in inference), for host
// and device: ops::yolo_activate_reference and the CUDA kernel both call it.
#pragma once
#include "kernels/activations.h"
#include "kernels/host_device.h"

namespace mishnet::kernels {

// x, y = x * scale_x_y - (scale_x_y - 1) / 2. Darknet passes -0.5*(scale-1), computed in double,
// as a float argument.
MISHNET_HD float yolo_xy_shift(float scale_x_y) { return float(-0.5 * (double(scale_x_y) - 1.0)); }

// The activated value of entry `entry` (0 = x, 1 = y, 2 = w, 3 = h, 4 = objectness, 5.. =
// classes) of an anchor: logistic on x, y, objectness and classes (not with new_coords, whose
// values are activated already), then the scale_x_y transform of x and y; w and h pass through.
MISHNET_HD float yolo_activate_value(int entry, float v, float scale_x_y, float shift,
                                     bool new_coords) {
  if (entry == 2 || entry == 3) return v;
  if (!new_coords) v = logistic(v);
  return entry < 2 ? v * scale_x_y + shift : v;
}

}  // namespace mishnet::kernels
