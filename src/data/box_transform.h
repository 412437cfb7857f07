// The geometry of detection augmentation: where an object box goes when its image is cropped,
// scaled, flipped and placed on a canvas, and when it is clipped and dropped. Boxes live in
// continuous pixel coordinates (an image of width W spans [0, W]); pixel x covers [x, x+1).
// The image transforms in detection_augment.cpp sample with the same convention, so a box
// drawn around an object's pixels still surrounds them after any transform.
#pragma once
#include <optional>
#include <vector>

#include "mishnet/detection_labels.h"

namespace mishnet::data {

struct PixelBox {
  int class_id = 0;
  float left = 0, top = 0, right = 0, bottom = 0;
  float width() const { return right - left; }
  float height() const { return bottom - top; }
};

// A window of the source image (may reach outside it) resized to out_w x out_h, then mirrored
// left-right when `flip`. Darknet's image_data_augmentation with (pleft, ptop, swidth, sheight).
struct CropResize {
  float left = 0, top = 0, width = 1, height = 1;  // in source pixels
  int out_w = 1, out_h = 1;
  bool flip = false;

  // Where source point (x, y) lands in the output.
  float map_x(float x) const;
  float map_y(float y) const;
};

// Relative label (centre, size in 0..1 of an image_w x image_h image) <-> pixels.
PixelBox to_pixels(const LabelBox& label, int image_w, int image_h);
// Relative centre and size, as the [yolo] truth wants them (x, y, w, h).
void to_relative(const PixelBox& box, int image_w, int image_h, float out[4]);

// The box after `t` (edges mapped; with flip the left edge comes from the right one).
PixelBox transform_box(const PixelBox& box, const CropResize& t);
PixelBox shift_box(const PixelBox& box, float dx, float dy);

// The part of `box` inside [left, right) x [top, bottom), or nothing when that part is
// narrower than min_w or lower than min_h (Darknet drops truth below one network pixel:
// fill_truth_detection's lowest_w = 1 / net_w) or empty.
std::optional<PixelBox> clip_box(const PixelBox& box, float left, float top, float right, float bottom,
                                 float min_w = 1.0f, float min_h = 1.0f);

// Fraction of `box`'s area inside the rectangle (0 for an empty box).
float visible_fraction(const PixelBox& box, float left, float top, float right, float bottom);

}  // namespace mishnet::data
