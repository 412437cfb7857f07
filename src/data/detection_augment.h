// Detection augmentation after Darknet's load_data_detection / image_data_augmentation
// (AlexeyAB): a random crop window (jitter, resize), letterbox, flip, HSV, blur, Gaussian noise,
// and the mixing of several images (mosaic, cutmix, mixup), with the object boxes following
// every transform (box_transform.h). Every random draw comes from the caller's per-image
// generator. docs/data.md describes the options and where we differ from Darknet.
#pragma once
#include <vector>

#include "data/augment.h"
#include "data/box_transform.h"
#include "mishnet/image.h"

namespace mishnet::data {

struct DetectionAugmentSettings {
  int width = 0, height = 0, channels = 3;
  float jitter = 0.0f;        // [yolo] jitter: each side of the crop window moves by up to jitter * side
  float resize = 1.0f;        // [yolo] resize: the window also scales by up to this factor
  bool letter_box = false;    // keep the aspect ratio (window widened to the network's)
  bool flip = false;
  float hue = 0.0f, saturation = 1.0f, exposure = 1.0f;
  int blur = 0;               // 1: background or whole image with a 17x17 kernel; K: kernel ~K
  int gaussian_noise = 0;     // noise sigma in 8-bit units (half the images)
  MixMode mix = MixMode::none;
  bool mosaic_bound = false;  // accepted; mosaic boxes always end at their quadrant (see below)
  int max_boxes = 90;         // truth boxes per image (the [yolo] `max`)

  // [net] options plus the jitter, resize and max of the last [yolo] (given by the caller).
  // Throws on values Darknet would misbehave with.
  static DetectionAugmentSettings from_net(const NetConfig& net, float jitter, float resize, int max_boxes);
  bool distorts_colour() const { return hue != 0.0f || saturation != 1.0f || exposure != 1.0f; }
};

// Output pixels on each side that the crop window put outside the source image (mosaic shows
// image rather than this fill, as Darknet's left/right/top/bot_shift).
struct WindowPadding {
  int left = 0, right = 0, top = 0, bottom = 0;
};

// An image at network size and its objects in its pixels.
struct DetectionSample {
  Image image;
  std::vector<PixelBox> boxes;
  WindowPadding padding;
};

// The crop window without augmentation: the whole image, or with letter_box the window widened
// (or heightened) symmetrically to the network's aspect ratio, so the image sits centred.
CropResize plain_window(int image_w, int image_h, int net_w, int net_h, bool letter_box);
// Darknet's random window: each side moved by rand_int(-jitter*side, jitter*side), plus the
// `resize` scaling (one draw for left/top, one for right/bottom), letterbox widening, and a
// coin for flip. Falls back to the plain window when the draw leaves no image.
CropResize random_window(int image_w, int image_h, const DetectionAugmentSettings& s, Random& rng);

// The window of `src` resized to out_w x out_h (bilinear with pixel centres at +0.5, so that
// edges map as CropResize::map_x says), mirrored when t.flip; `fill` (per channel) outside src.
Image crop_resize_image(const Image& src, const CropResize& t, const std::vector<float>& fill);
std::vector<float> mean_colour(const Image& im);

// One image: window (random or plain), boxes mapped and clipped to the output (dropped below
// one pixel), then with `augment` HSV, blur and noise. `boxes` are in `decoded`'s pixels.
DetectionSample augment_detection_image(const Image& decoded, const std::vector<PixelBox>& boxes,
                                        const DetectionAugmentSettings& s, bool augment, Random& rng);

// Mixing into `base` (all samples at network size):
// mosaic: partners[0..2] (with base) fill the quadrants around a point 20%..80% across and
//   down; each quadrant shows its image's part next to the cut, skipping window padding as
//   Darknet does; boxes shifted and clipped to their quadrant (the part shown ends at the cut
//   on the image's side, so this equals clipping to the image: mosaic_bound changes nothing).
// cutmix: a rectangle of 30%..80% of each side from partners[0]; its boxes clipped to the
//   rectangle; base boxes shrunk to the bounding box of their visible part (dropped when under
//   a pixel of it is left).
// mixup: the average of the two images, boxes of both.
void mix_detection_samples(DetectionSample& base, const DetectionSample* partners, MixMode mode, Random& rng);

// Blur as Darknet's detector: a third of the images none, a third the background only (boxes
// kept sharp, 17x17), a third the whole image (17x17 for blur=1, else an odd kernel near
// `blur`, limited to an eighth of the smallest box side).
void random_detection_blur(DetectionSample& sample, int blur, Random& rng);
// Gaussian noise with sigma = min(level, 127) / 255 on half the images; clamped to [0, 1].
void random_gaussian_noise(Image& im, int level, Random& rng);

// The [yolo] truth: max_boxes x (x, y, w, h, class_id), relative to the image, zero after the
// last box. Boxes beyond max_boxes are left out.
void fill_detection_truth(const std::vector<PixelBox>& boxes, int image_w, int image_h, int max_boxes, float* truth);

}  // namespace mishnet::data
