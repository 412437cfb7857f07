// Detection augmentation: boxes follow the pixels. Images with solid rectangles of distinct
// colours at known label positions go through every geometric transform (jitter, resize,
// letterbox, flip, mosaic, cutmix); afterwards the box of each class must be the bounding box
// of that colour's pixels within it (to 1.5 pixels), and every pixel of a class colour must lie
// inside a box of that class.
#include <gtest/gtest.h>

#include <cmath>

#include "data/detection_augment.h"

namespace mishnet::data {
namespace {

// Pure colours (channel values 0 or 1): a blend of two of them or with the dark background
// never matches a third.
const float kColours[7][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}};

bool is_colour(const Image& im, int x, int y, int cls) {
  for (int c = 0; c < 3; ++c)
    if (std::fabs(im.at(x, y, c) - kColours[cls][c]) > 0.3f) return false;
  return true;
}

struct Rect {
  int cls, left, top, right, bottom;
};

// A dark image with the rectangles painted and their exact boxes.
DetectionSample source_image(int w, int h, const std::vector<Rect>& rects) {
  DetectionSample s;
  s.image = Image(w, h, 3, 0.05f);
  for (const Rect& r : rects) {
    for (int c = 0; c < 3; ++c)
      for (int y = r.top; y < r.bottom; ++y)
        for (int x = r.left; x < r.right; ++x) s.image.at(x, y, c) = kColours[r.cls][c];
    PixelBox b;
    b.class_id = r.cls;
    b.left = float(r.left), b.top = float(r.top), b.right = float(r.right), b.bottom = float(r.bottom);
    s.boxes.push_back(b);
  }
  return s;
}

// The check of the file comment, for every class present in `classes`.
void expect_boxes_follow_pixels(const DetectionSample& s, int classes, const std::string& what) {
  const Image& im = s.image;
  const float tol = 1.5f;
  for (int cls = 0; cls < classes; ++cls) {
    // Every pixel of the colour lies in a box of its class.
    int stray = 0;
    for (int y = 0; y < im.h; ++y)
      for (int x = 0; x < im.w; ++x) {
        if (!is_colour(im, x, y, cls)) continue;
        bool inside = false;
        for (const PixelBox& b : s.boxes)
          inside = inside || (b.class_id == cls && float(x) + 0.5f >= b.left - tol && float(x) + 0.5f <= b.right + tol &&
                              float(y) + 0.5f >= b.top - tol && float(y) + 0.5f <= b.bottom + tol);
        if (!inside) ++stray;
      }
    // A rectangle clipped to under a pixel is dropped (Darknet's rule), yet its sliver may
    // colour one line of pixels: allow that much, not a whole object.
    EXPECT_LE(stray, std::max(im.w, im.h)) << what << ": class " << cls << " pixels outside its boxes";
    // Each box is the bounding box of its colour's pixels inside it.
    for (const PixelBox& b : s.boxes) {
      if (b.class_id != cls) continue;
      int x0 = im.w, y0 = im.h, x1 = -1, y1 = -1;
      for (int y = std::max(0, int(b.top - tol)); y < std::min(im.h, int(std::ceil(b.bottom + tol))); ++y)
        for (int x = std::max(0, int(b.left - tol)); x < std::min(im.w, int(std::ceil(b.right + tol))); ++x)
          if (is_colour(im, x, y, cls)) {
            x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
          }
      if (b.width() < 3 || b.height() < 3) continue;  // slivers may have no pure pixel
      ASSERT_GE(x1, 0) << what << ": class " << cls << " box [" << b.left << "," << b.top << "," << b.right << ","
                       << b.bottom << "] holds none of its pixels";
      EXPECT_NEAR(float(x0), b.left, tol) << what << " class " << cls;
      EXPECT_NEAR(float(x1 + 1), b.right, tol) << what << " class " << cls;
      EXPECT_NEAR(float(y0), b.top, tol) << what << " class " << cls;
      EXPECT_NEAR(float(y1 + 1), b.bottom, tol) << what << " class " << cls;
    }
  }
}

DetectionAugmentSettings geometry_only(int w, int h) {
  DetectionAugmentSettings s;
  s.width = w, s.height = h;
  s.jitter = 0.3f;
  s.resize = 1.5f;
  s.flip = true;
  return s;
}

TEST(DetectionAugment, BoxesFollowJitterResizeAndFlip) {
  const DetectionSample src = source_image(200, 150, {{0, 10, 20, 60, 70}, {1, 120, 30, 190, 50}, {2, 80, 100, 110, 149}});
  for (bool letter_box : {false, true}) {
    DetectionAugmentSettings s = geometry_only(128, 96);
    s.letter_box = letter_box;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
      Random rng(seed);
      DetectionSample out = augment_detection_image(src.image, src.boxes, s, true, rng);
      ASSERT_EQ(out.image.w, 128);
      ASSERT_EQ(out.image.h, 96);
      expect_boxes_follow_pixels(out, 3, "seed " + std::to_string(seed) + (letter_box ? " letterbox" : " resize"));
    }
  }
}

TEST(DetectionAugment, PlainWindowLetterboxesWithoutRandomness) {
  const DetectionSample src = source_image(200, 100, {{0, 0, 0, 200, 100}});
  DetectionAugmentSettings s = geometry_only(100, 100);
  s.letter_box = true;
  Random rng(1);
  DetectionSample out = augment_detection_image(src.image, src.boxes, s, false, rng);
  ASSERT_EQ(out.boxes.size(), 1u);
  EXPECT_FLOAT_EQ(out.boxes[0].left, 0.0f);
  EXPECT_FLOAT_EQ(out.boxes[0].right, 100.0f);
  EXPECT_FLOAT_EQ(out.boxes[0].top, 25.0f);
  EXPECT_FLOAT_EQ(out.boxes[0].bottom, 75.0f);
  EXPECT_FLOAT_EQ(out.image.at(50, 5, 0), 0.5f);  // grey bars, as letterbox_image
  expect_boxes_follow_pixels(out, 1, "plain letterbox");
}

TEST(DetectionAugment, BoxesFollowMosaicAndCutmix) {
  const std::vector<std::vector<Rect>> sources = {
      {{0, 5, 5, 60, 50}, {1, 70, 40, 120, 90}},
      {{2, 10, 60, 50, 115}, {3, 60, 10, 115, 45}},
      {{4, 30, 30, 90, 90}, {5, 0, 0, 20, 20}},
      {{6, 40, 5, 110, 100}},
  };
  DetectionAugmentSettings s = geometry_only(96, 96);
  for (MixMode mode : {MixMode::mosaic, MixMode::cutmix}) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      Random rng(seed);
      DetectionSample samples[4];
      for (int i = 0; i < 4; ++i) {
        DetectionSample src = source_image(120, 120, sources[size_t(i)]);
        samples[i] = augment_detection_image(src.image, src.boxes, s, true, rng);
      }
      mix_detection_samples(samples[0], samples + 1, mode, rng);
      expect_boxes_follow_pixels(samples[0], 7, std::string(mode == MixMode::mosaic ? "mosaic" : "cutmix") +
                                                     " seed " + std::to_string(seed));
    }
  }
}

TEST(DetectionAugment, MixupAveragesAndKeepsBothBoxSets) {
  const DetectionSample a = source_image(32, 32, {{0, 0, 0, 10, 10}});
  const DetectionSample b = source_image(32, 32, {{1, 20, 20, 30, 30}, {2, 0, 20, 5, 30}});
  DetectionSample base = a;
  base.boxes = a.boxes;
  Random rng(1);
  mix_detection_samples(base, &b, MixMode::mixup, rng);
  ASSERT_EQ(base.boxes.size(), 3u);
  EXPECT_FLOAT_EQ(base.image.at(5, 5, 0), (1.0f + 0.05f) / 2);
  EXPECT_EQ(base.boxes[2].class_id, 2);
}

TEST(DetectionAugment, TruthLayout) {
  std::vector<PixelBox> boxes(3);
  boxes[0].class_id = 4, boxes[0].left = 0, boxes[0].top = 10, boxes[0].right = 20, boxes[0].bottom = 50;
  boxes[1].class_id = 1, boxes[1].left = 50, boxes[1].top = 0, boxes[1].right = 100, boxes[1].bottom = 100;
  boxes[2].class_id = 2, boxes[2].left = 1, boxes[2].top = 1, boxes[2].right = 2, boxes[2].bottom = 2;
  std::vector<float> truth(4 * 5, -1.0f);
  fill_detection_truth(boxes, 100, 100, 2, truth.data());  // max 2: the third box is left out
  const float expected[] = {0.1f, 0.3f, 0.2f, 0.4f, 4.0f, 0.75f, 0.5f, 0.5f, 1.0f, 1.0f};
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(truth[size_t(i)], expected[i]) << i;
  for (int i = 10; i < 20; ++i) EXPECT_EQ(truth[size_t(i)], -1.0f) << "beyond max_boxes * 5 untouched";
}

TEST(DetectionAugment, BlurKeepsObjectsAndNoiseIsBounded) {
  DetectionSample s = source_image(64, 64, {{0, 20, 20, 44, 44}});
  for (int x = 0; x < 64; x += 2) s.image.at(x, 5, 1) = 1.0f;  // stripes in the background
  int blurred_background = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    DetectionSample t = s;
    Random rng(seed);
    random_detection_blur(t, 1, rng);
    for (int y = 20; y < 44; ++y)
      for (int x = 20; x < 44; ++x) {
        // The whole-image mode blurs the object's edges; its centre stays the colour.
        if (x > 28 && x < 36 && y > 28 && y < 36) {
          ASSERT_NEAR(t.image.at(x, y, 0), 1.0f, 1e-3f);
        }
      }
    if (t.image.at(4, 5, 1) != 1.0f) ++blurred_background;
  }
  EXPECT_GT(blurred_background, 0);
  int changed = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    Random rng(seed);
    Image n = s.image;
    random_gaussian_noise(n, 20, rng);
    for (float v : n.data) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
    changed += n.data != s.image.data;
  }
  EXPECT_GT(changed, 0);
}

}  // namespace
}  // namespace mishnet::data
