// Classification augmentation as Darknet does it (data.c load_data_augment, image.c
// random_augment_image / rotate_crop_image / random_distort_image), written so that every
// random draw comes from a generator the caller seeds per image: the result depends only on
// that seed, never on thread count or timing.
#pragma once
#include <cstdint>
#include <random>

#include "mishnet/image.h"
#include "mishnet/net_config.h"

namespace mishnet::data {

// A seeded source of the few distributions Darknet's augmentation uses. The distributions are
// written here (not std::uniform_*_distribution, whose output differs between standard
// libraries) so that a seed gives the same images everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1) with 53 random bits.
  double unit() { return double(engine_() >> 11) * (1.0 / 9007199254740992.0); }
  // Darknet's rand_uniform(min, max): uniform between the two (either order).
  float uniform(float a, float b) {
    if (b < a) std::swap(a, b);
    return a + float(unit()) * (b - a);
  }
  // Darknet's rand_int(min, max): an integer in [min, max], both ends included.
  int integer(int lo, int hi) {
    if (hi < lo) std::swap(lo, hi);
    return lo + int(unit() * double(int64_t(hi) - lo + 1));
  }
  bool coin() { return (engine_() >> 63) != 0; }
  // Darknet's rand_scale(s): a factor between 1 and s, inverted half the time.
  float scale(float s) {
    float f = uniform(1.0f, s);
    return coin() ? f : 1.0f / f;
  }

 private:
  std::mt19937_64 engine_;
};

// How a batch mixes images (Darknet's use_mixup, from [net] mixup/cutmix/mosaic).
enum class MixMode { none = 0, mixup = 1, cutmix = 2, mosaic = 3, cutmix_or_mosaic = 4 };

// The [net] options classification training acts on, with Darknet's defaults filled in.
struct AugmentSettings {
  int width = 0, height = 0, channels = 3;
  int classes = 0;
  bool flip = false;
  float angle = 0.0f;   // degrees, drawn in [-angle, angle]
  float aspect = 1.0f;  // rand_scale(aspect) stretches x
  float hue = 0.0f, saturation = 1.0f, exposure = 1.0f;
  int min_crop = 0, max_crop = 0;  // shorter side after scaling, drawn in [min_crop, max_crop]
  int blur = 0;                    // Gaussian kernel size (1: 15, as Darknet); 1 image in 4
  MixMode mix = MixMode::none;
  float label_smooth_eps = 0.0f;

  // Darknet's defaults: min_crop = width, max_crop = 2 * width when the cfg leaves them out
  // (NetConfig holds 0 there). Throws on values Darknet would misbehave with (max_crop below
  // min_crop, an even blur kernel, mixup above 4).
  static AugmentSettings from_net(const NetConfig& net, int classes);
  bool distorts_colour() const { return hue != 0.0f || saturation != 1.0f || exposure != 1.0f; }
};

// Darknet's rotate_crop_image: a w x h view of `im` rotated by `rad` about its centre,
// scaled by `scale`, x stretched by `aspect`, shifted by (dx, dy); bilinear, 0 outside.
Image rotate_crop_image(const Image& im, float rad, float scale, int w, int h, float dx, float dy,
                        float aspect);
// Darknet's random_augment_image: aspect, scale (shorter side to [low, high]), angle and an
// offset drawn from `rng`, then a size x size rotate_crop_image.
Image random_augment_image(const Image& im, float angle, float aspect, int low, int high, int size,
                           Random& rng);
// Mirror left-right in place.
void flip_image(Image& im);
// Darknet's distort_image: 3+ channels go through HSV (hue shifted and wrapped, saturation and
// value scaled); 1 or 2 channels only scale channel 0 by `exposure`. Clamped to [0, 1].
void distort_image(Image& im, float hue, float saturation, float exposure);
// Darknet's random_distort_image: hue in [-hue, hue], rand_scale(saturation/exposure).
void random_distort_image(Image& im, float hue, float saturation, float exposure, Random& rng);
// Darknet's rgb_to_hsv / hsv_to_rgb (hue in [0, 1)), on the first three channels.
void rgb_to_hsv(Image& im);
void hsv_to_rgb(Image& im);
// OpenCV's GaussianBlur(ksize x ksize, sigma from ksize) with its default border (reflect
// 101), in float: what Darknet's blur_image does, without its 8-bit round trip.
void gaussian_blur(Image& im, int ksize);

// Darknet's fill_truth_smooth: 1 - eps for the class, eps / (classes - 1) for the others.
void fill_smoothed_truth(float* truth, int classes, int class_id, float eps);

// One training sample: the network-sized image and its truth.
struct Sample {
  Image image;
  std::vector<float> truth;
};

// The per-image part of Darknet's load_image_augment_paths: random crop/scale/rotation to
// max(w, h) square, flip, HSV distortion, resize to w x h; truth smoothed.
Sample augment_sample(const Image& decoded, int class_id, const AugmentSettings& s, Random& rng);
// Mixes `partners` (1 for mixup/cutmix, 3 for mosaic) into `base`, images and truth, as
// Darknet's load_data_augment: mixup averages; cutmix pastes a rectangle of 30%..80% of each
// side and weighs truth by area; mosaic puts the four images in quadrants around a point
// 20%..80% across and weighs truth by quadrant area.
void mix_samples(Sample& base, const Sample* partners, MixMode mode, Random& rng);

}  // namespace mishnet::data
