#include "data/augment.h"

#include <algorithm>
#include <cmath>

#include "mishnet/error.h"

namespace mishnet::data {

AugmentSettings AugmentSettings::from_net(const NetConfig& net, int classes) {
  AugmentSettings s;
  s.width = net.width;
  s.height = net.height;
  s.channels = net.channels;
  s.classes = classes;
  s.flip = net.flip;
  s.angle = net.angle;
  s.aspect = net.aspect;
  s.hue = net.hue;
  s.saturation = net.saturation;
  s.exposure = net.exposure;
  s.blur = net.blur;
  s.label_smooth_eps = net.label_smooth_eps;
  // Darknet reads min_crop/max_crop with defaults width and 2 * width.
  s.min_crop = net.min_crop > 0 ? net.min_crop : net.width;
  s.max_crop = net.max_crop > 0 ? net.max_crop : 2 * net.width;
  if (s.width < 1 || s.height < 1)
    fail("[net] width and height must be set for classification training (got ", s.width, "x",
         s.height, ")");
  if (s.channels != 1 && s.channels != 3)
    fail("[net] channels=", s.channels, ": classification training reads 1 (grey) or 3 (RGB) channels");
  if (s.max_crop < s.min_crop)
    fail("[net] max_crop=", s.max_crop, " is below min_crop=", s.min_crop,
         " (when absent they default to 2*width and width, as Darknet)");
  if (s.blur < 0 || (s.blur > 1 && s.blur % 2 == 0))
    fail("[net] blur=", s.blur, ": expected 0 (off), 1 (a 15x15 kernel) or an odd kernel size");
  if (s.label_smooth_eps < 0.0f || s.label_smooth_eps >= 1.0f)
    fail("[net] label_smooth_eps=", s.label_smooth_eps, ": expected a value in [0, 1)");
  if (s.aspect <= 0.0f) fail("[net] aspect=", s.aspect, ": must be positive");
  // Darknet's parser: mosaic and cutmix override mixup; both together alternate.
  if (net.mixup < 0 || net.mixup > 4)
    fail("[net] mixup=", net.mixup, ": expected 0..4 (1 mixup, 2 cutmix, 3 mosaic, 4 cutmix or mosaic)");
  int mode = net.mixup;
  if (net.mosaic && net.cutmix) mode = 4;
  else if (net.cutmix) mode = 2;
  else if (net.mosaic) mode = 3;
  s.mix = MixMode(mode);
  return s;
}

namespace {

// Darknet's get_pixel_extend: zero outside the image.
float pixel_or_zero(const Image& im, int x, int y, int c) {
  if (x < 0 || x >= im.w || y < 0 || y >= im.h) return 0.0f;
  return im.at(x, y, c);
}

float bilinear(const Image& im, float x, float y, int c) {
  int ix = int(std::floor(x)), iy = int(std::floor(y));
  float dx = x - float(ix), dy = y - float(iy);
  return (1 - dy) * (1 - dx) * pixel_or_zero(im, ix, iy, c) + dy * (1 - dx) * pixel_or_zero(im, ix, iy + 1, c) +
         (1 - dy) * dx * pixel_or_zero(im, ix + 1, iy, c) + dy * dx * pixel_or_zero(im, ix + 1, iy + 1, c);
}

void clamp_unit(Image& im) {
  for (float& v : im.data) v = std::clamp(v, 0.0f, 1.0f);
}

}  // namespace

Image rotate_crop_image(const Image& im, float rad, float scale, int w, int h, float dx, float dy,
                        float aspect) {
  const float cx = float(im.w) / 2.0f, cy = float(im.h) / 2.0f;
  const float c = std::cos(rad), s = std::sin(rad);
  Image out(w, h, im.c);
  for (int k = 0; k < im.c; ++k)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float u = (float(x) - float(w) / 2.0f) / scale * aspect + dx / scale * aspect;
        float v = (float(y) - float(h) / 2.0f) / scale + dy / scale;
        out.at(x, y, k) = bilinear(im, c * u - s * v + cx, s * u + c * v + cy, k);
      }
  return out;
}

Image random_augment_image(const Image& im, float angle, float aspect, int low, int high, int size,
                           Random& rng) {
  aspect = rng.scale(aspect);
  int r = rng.integer(low, high);
  // Darknet stores the shorter side in an int (truncating w * aspect).
  int shorter = float(im.h) < float(im.w) * aspect ? im.h : int(float(im.w) * aspect);
  float scale = float(r) / float(std::max(shorter, 1));
  float rad = rng.uniform(-angle, angle) * float(2.0 * M_PI / 360.0);
  float dx = std::max(0.0f, (float(im.w) * scale / aspect - float(size)) / 2.0f);
  float dy = std::max(0.0f, (float(im.h) * scale - float(size)) / 2.0f);
  dx = rng.uniform(-dx, dx);
  dy = rng.uniform(-dy, dy);
  return rotate_crop_image(im, rad, scale, size, size, dx, dy, aspect);
}

void flip_image(Image& im) {
  for (int k = 0; k < im.c; ++k)
    for (int y = 0; y < im.h; ++y) {
      float* row = &im.at(0, y, k);
      std::reverse(row, row + im.w);
    }
}

void rgb_to_hsv(Image& im) {
  for (int y = 0; y < im.h; ++y)
    for (int x = 0; x < im.w; ++x) {
      float r = im.at(x, y, 0), g = im.at(x, y, 1), b = im.at(x, y, 2);
      float max = std::max({r, g, b}), min = std::min({r, g, b});
      float delta = max - min;
      float h = 0, s = 0, v = max;
      if (max != 0 && delta != 0) {
        s = delta / max;
        if (r == max) h = (g - b) / delta;
        else if (g == max) h = 2 + (b - r) / delta;
        else h = 4 + (r - g) / delta;
        if (h < 0) h += 6;
        h /= 6;
      } else if (max != 0) {
        s = 0;  // grey: Darknet divides 0 by 0 here; hue is meaningless, take 0
      }
      im.at(x, y, 0) = h;
      im.at(x, y, 1) = s;
      im.at(x, y, 2) = v;
    }
}

void hsv_to_rgb(Image& im) {
  for (int y = 0; y < im.h; ++y)
    for (int x = 0; x < im.w; ++x) {
      float h = 6 * im.at(x, y, 0), s = im.at(x, y, 1), v = im.at(x, y, 2);
      float r = v, g = v, b = v;
      if (s != 0) {
        int index = int(std::floor(h));
        float f = h - float(index);
        float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        switch (index) {
          case 0: r = v; g = t; b = p; break;
          case 1: r = q; g = v; b = p; break;
          case 2: r = p; g = v; b = t; break;
          case 3: r = p; g = q; b = v; break;
          case 4: r = t; g = p; b = v; break;
          default: r = v; g = p; b = q; break;
        }
      }
      im.at(x, y, 0) = r;
      im.at(x, y, 1) = g;
      im.at(x, y, 2) = b;
    }
}

void distort_image(Image& im, float hue, float saturation, float exposure) {
  const size_t plane = size_t(im.w) * size_t(im.h);
  if (im.c >= 3) {
    rgb_to_hsv(im);
    for (size_t i = 0; i < plane; ++i) {
      float& h = im.data[i];
      h += hue;
      if (h > 1) h -= 1;
      if (h < 0) h += 1;
      im.data[plane + i] *= saturation;
      im.data[2 * plane + i] *= exposure;
    }
    hsv_to_rgb(im);
  } else {
    for (size_t i = 0; i < plane; ++i) im.data[i] *= exposure;
  }
  clamp_unit(im);
}

void random_distort_image(Image& im, float hue, float saturation, float exposure, Random& rng) {
  float dhue = rng.uniform(-hue, hue);
  float dsat = rng.scale(saturation);
  float dexp = rng.scale(exposure);
  distort_image(im, dhue, dsat, dexp);
}

namespace {

std::vector<float> gaussian_kernel(int ksize) {
  // OpenCV's getGaussianKernel (4.x): fixed kernels up to 9 taps when sigma is derived from
  // the size, else the sampled Gaussian with sigma = 0.3 * ((ksize - 1) / 2 - 1) + 0.8.
  switch (ksize) {
    case 1: return {1.0f};
    case 3: return {0.25f, 0.5f, 0.25f};
    case 5: return {0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f};
    case 7: return {0.03125f, 0.109375f, 0.21875f, 0.28125f, 0.21875f, 0.109375f, 0.03125f};
    case 9: return {0.015625f, 0.05078125f, 0.1171875f, 0.19921875f, 0.234375f, 0.19921875f, 0.1171875f, 0.05078125f, 0.015625f};
    default: break;
  }
  double sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8;
  std::vector<double> k(static_cast<size_t>(ksize));
  double sum = 0;
  for (int i = 0; i < ksize; ++i) {
    double x = i - (ksize - 1) * 0.5;
    k[size_t(i)] = std::exp(-x * x / (2 * sigma * sigma));
    sum += k[size_t(i)];
  }
  std::vector<float> out(static_cast<size_t>(ksize));
  for (int i = 0; i < ksize; ++i) out[size_t(i)] = float(k[size_t(i)] / sum);
  return out;
}

// OpenCV's BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 n-3 ...
int reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

}  // namespace

void gaussian_blur(Image& im, int ksize) {
  if (ksize < 1 || ksize % 2 == 0) fail("gaussian_blur: kernel size ", ksize, " is not a positive odd number");
  const std::vector<float> k = gaussian_kernel(ksize);
  const int r = ksize / 2;
  std::vector<float> tmp(im.data.size());
  Image src = im;
  // Rows, then columns (the kernel is separable).
  for (int c = 0; c < im.c; ++c)
    for (int y = 0; y < im.h; ++y)
      for (int x = 0; x < im.w; ++x) {
        float sum = 0;
        for (int t = -r; t <= r; ++t) sum += k[size_t(t + r)] * src.at(reflect101(x + t, im.w), y, c);
        tmp[(size_t(c) * size_t(im.h) + size_t(y)) * size_t(im.w) + size_t(x)] = sum;
      }
  for (int c = 0; c < im.c; ++c)
    for (int y = 0; y < im.h; ++y)
      for (int x = 0; x < im.w; ++x) {
        float sum = 0;
        for (int t = -r; t <= r; ++t)
          sum += k[size_t(t + r)] * tmp[(size_t(c) * size_t(im.h) + size_t(reflect101(y + t, im.h))) * size_t(im.w) + size_t(x)];
        im.at(x, y, c) = sum;
      }
  clamp_unit(im);  // float rounding may step a hair outside [0, 1]
}

void fill_smoothed_truth(float* truth, int classes, int class_id, float eps) {
  float other = classes > 1 ? eps / float(classes - 1) : 0.0f;
  for (int i = 0; i < classes; ++i) truth[i] = i == class_id ? 1.0f - eps : other;
}

Sample augment_sample(const Image& decoded, int class_id, const AugmentSettings& s, Random& rng) {
  const int size = std::max(s.width, s.height);
  Image crop = random_augment_image(decoded, s.angle, s.aspect, s.min_crop, s.max_crop, size, rng);
  if (s.flip && rng.coin()) flip_image(crop);
  if (s.distorts_colour()) random_distort_image(crop, s.hue, s.saturation, s.exposure, rng);
  Sample out;
  out.image = resize_image(crop, s.width, s.height);
  // Bilinear sampling of values in [0, 1] stays there up to rounding; make it exact.
  clamp_unit(out.image);
  out.truth.resize(size_t(s.classes));
  fill_smoothed_truth(out.truth.data(), s.classes, class_id, s.label_smooth_eps);
  return out;
}

void mix_samples(Sample& base, const Sample* partners, MixMode mode, Random& rng) {
  Image& im = base.image;
  const int w = im.w, h = im.h;
  std::vector<float>& truth = base.truth;
  if (mode == MixMode::mixup) {
    for (size_t i = 0; i < im.data.size(); ++i) im.data[i] = (im.data[i] + partners[0].image.data[i]) / 2.0f;
    for (size_t j = 0; j < truth.size(); ++j) truth[j] = (truth[j] + partners[0].truth[j]) / 2.0f;
  } else if (mode == MixMode::cutmix) {
    const int cut_w = rng.integer(int(float(w) * 0.3f), int(float(w) * 0.8f));
    const int cut_h = rng.integer(int(float(h) * 0.3f), int(float(h) * 0.8f));
    const int cut_x = rng.integer(0, std::max(0, w - cut_w - 1));
    const int cut_y = rng.integer(0, std::max(0, h - cut_h - 1));
    for (int c = 0; c < im.c; ++c)
      for (int y = cut_y; y < cut_y + cut_h; ++y)
        for (int x = cut_x; x < cut_x + cut_w; ++x) im.at(x, y, c) = partners[0].image.at(x, y, c);
    const float alpha = float(cut_w * cut_h) / float(w * h);
    for (size_t j = 0; j < truth.size(); ++j) truth[j] = truth[j] * (1 - alpha) + partners[0].truth[j] * alpha;
  } else if (mode == MixMode::mosaic) {
    const int cut_x = rng.integer(int(float(w) * 0.2f), int(float(w) * 0.8f));
    const int cut_y = rng.integer(int(float(h) * 0.2f), int(float(h) * 0.8f));
    // Quadrants: base top-left, partners top-right, bottom-left, bottom-right.
    for (int c = 0; c < im.c; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          if (x < cut_x && y < cut_y) continue;
          const Sample& from = partners[(x >= cut_x && y < cut_y) ? 0 : (x < cut_x ? 1 : 2)];
          im.at(x, y, c) = from.image.at(x, y, c);
        }
    const float area = float(w * h);
    const float s1 = float(cut_x * cut_y) / area, s2 = float((w - cut_x) * cut_y) / area;
    const float s3 = float(cut_x * (h - cut_y)) / area, s4 = float((w - cut_x) * (h - cut_y)) / area;
    for (size_t j = 0; j < truth.size(); ++j)
      truth[j] = truth[j] * s1 + partners[0].truth[j] * s2 + partners[1].truth[j] * s3 + partners[2].truth[j] * s4;
  } else {
    fail("mix_samples: mode ", int(mode), " is not one of mixup, cutmix or mosaic");
  }
}

}  // namespace mishnet::data
