#include "data/box_transform.h"

#include <algorithm>

namespace mishnet::data {

float CropResize::map_x(float x) const {
  const float u = (x - left) * float(out_w) / width;
  return flip ? float(out_w) - u : u;
}

float CropResize::map_y(float y) const { return (y - top) * float(out_h) / height; }

PixelBox to_pixels(const LabelBox& label, int image_w, int image_h) {
  PixelBox b;
  b.class_id = label.class_id;
  b.left = (label.x - label.w / 2) * float(image_w);
  b.right = (label.x + label.w / 2) * float(image_w);
  b.top = (label.y - label.h / 2) * float(image_h);
  b.bottom = (label.y + label.h / 2) * float(image_h);
  return b;
}

void to_relative(const PixelBox& box, int image_w, int image_h, float out[4]) {
  out[0] = (box.left + box.right) / 2 / float(image_w);
  out[1] = (box.top + box.bottom) / 2 / float(image_h);
  out[2] = box.width() / float(image_w);
  out[3] = box.height() / float(image_h);
}

PixelBox transform_box(const PixelBox& box, const CropResize& t) {
  PixelBox out = box;
  const float a = t.map_x(box.left), b = t.map_x(box.right);
  out.left = std::min(a, b);
  out.right = std::max(a, b);
  out.top = t.map_y(box.top);
  out.bottom = t.map_y(box.bottom);
  return out;
}

PixelBox shift_box(const PixelBox& box, float dx, float dy) {
  PixelBox out = box;
  out.left += dx, out.right += dx, out.top += dy, out.bottom += dy;
  return out;
}

std::optional<PixelBox> clip_box(const PixelBox& box, float left, float top, float right, float bottom,
                                 float min_w, float min_h) {
  PixelBox out = box;
  out.left = std::clamp(box.left, left, right);
  out.right = std::clamp(box.right, left, right);
  out.top = std::clamp(box.top, top, bottom);
  out.bottom = std::clamp(box.bottom, top, bottom);
  if (out.width() <= 0 || out.height() <= 0 || out.width() < min_w || out.height() < min_h) return std::nullopt;
  return out;
}

float visible_fraction(const PixelBox& box, float left, float top, float right, float bottom) {
  const float area = box.width() * box.height();
  if (area <= 0) return 0.0f;
  const float iw = std::min(box.right, right) - std::max(box.left, left);
  const float ih = std::min(box.bottom, bottom) - std::max(box.top, top);
  if (iw <= 0 || ih <= 0) return 0.0f;
  return iw * ih / area;
}

}  // namespace mishnet::data
