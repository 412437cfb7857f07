// Box geometry of detection augmentation: mapping through a crop window, flip, clipping and
// dropping, conversions between relative labels and pixels.
#include <gtest/gtest.h>

#include "data/box_transform.h"

namespace mishnet::data {
namespace {

PixelBox box(float l, float t, float r, float b, int cls = 0) {
  PixelBox p;
  p.class_id = cls;
  p.left = l, p.top = t, p.right = r, p.bottom = b;
  return p;
}

TEST(BoxTransform, CropScalesAndShifts) {
  CropResize t;
  t.left = 10, t.top = -20, t.width = 100, t.height = 200;  // window reaches above the image
  t.out_w = 50, t.out_h = 400;
  PixelBox out = transform_box(box(10, 0, 60, 50), t);
  EXPECT_FLOAT_EQ(out.left, 0.0f);
  EXPECT_FLOAT_EQ(out.right, 25.0f);
  EXPECT_FLOAT_EQ(out.top, 40.0f);
  EXPECT_FLOAT_EQ(out.bottom, 140.0f);
}

TEST(BoxTransform, FlipMirrorsAboutTheOutputWidth) {
  CropResize t;
  t.width = 100, t.height = 100, t.out_w = 100, t.out_h = 100, t.flip = true;
  PixelBox out = transform_box(box(10, 5, 30, 25, 7), t);
  EXPECT_FLOAT_EQ(out.left, 70.0f);
  EXPECT_FLOAT_EQ(out.right, 90.0f);
  EXPECT_FLOAT_EQ(out.top, 5.0f);
  EXPECT_EQ(out.class_id, 7);
}

TEST(BoxTransform, ClipKeepsTheInsideAndDropsSlivers) {
  auto c = clip_box(box(-10, 5, 20, 300), 0, 0, 100, 100);
  ASSERT_TRUE(c.has_value());
  EXPECT_FLOAT_EQ(c->left, 0.0f);
  EXPECT_FLOAT_EQ(c->right, 20.0f);
  EXPECT_FLOAT_EQ(c->bottom, 100.0f);
  // Darknet drops truth narrower than one network pixel after clipping.
  EXPECT_FALSE(clip_box(box(99.5f, 10, 120, 20), 0, 0, 100, 100).has_value());
  EXPECT_FALSE(clip_box(box(120, 10, 130, 20), 0, 0, 100, 100).has_value());
  EXPECT_TRUE(clip_box(box(98.5f, 10, 120, 20), 0, 0, 100, 100).has_value());
  EXPECT_FALSE(clip_box(box(10, 10, 20, 20), 0, 0, 100, 100, 11.0f, 1.0f).has_value());
}

TEST(BoxTransform, RelativeRoundTrip) {
  LabelBox l;
  l.class_id = 3, l.x = 0.5f, l.y = 0.25f, l.w = 0.2f, l.h = 0.1f;
  PixelBox p = to_pixels(l, 200, 100);
  EXPECT_FLOAT_EQ(p.left, 80.0f);
  EXPECT_FLOAT_EQ(p.right, 120.0f);
  EXPECT_FLOAT_EQ(p.top, 20.0f);
  EXPECT_FLOAT_EQ(p.bottom, 30.0f);
  float r[4];
  to_relative(p, 200, 100, r);
  EXPECT_FLOAT_EQ(r[0], 0.5f);
  EXPECT_FLOAT_EQ(r[1], 0.25f);
  EXPECT_FLOAT_EQ(r[2], 0.2f);
  EXPECT_FLOAT_EQ(r[3], 0.1f);
}

TEST(BoxTransform, VisibleFraction) {
  EXPECT_FLOAT_EQ(visible_fraction(box(0, 0, 10, 10), 5, 0, 20, 20), 0.5f);
  EXPECT_FLOAT_EQ(visible_fraction(box(0, 0, 10, 10), 20, 20, 30, 30), 0.0f);
  EXPECT_FLOAT_EQ(visible_fraction(box(0, 0, 0, 10), 0, 0, 30, 30), 0.0f);
}

}  // namespace
}  // namespace mishnet::data
