#include "data/detection_augment.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "mishnet/error.h"

namespace mishnet::data {

DetectionAugmentSettings DetectionAugmentSettings::from_net(const NetConfig& net, float jitter, float resize,
                                                            int max_boxes) {
  DetectionAugmentSettings s;
  s.width = net.width;
  s.height = net.height;
  s.channels = net.channels;
  s.jitter = jitter;
  s.resize = resize;
  s.letter_box = net.letter_box != 0;
  s.flip = net.flip;
  s.hue = net.hue;
  s.saturation = net.saturation;
  s.exposure = net.exposure;
  s.blur = net.blur;
  s.gaussian_noise = net.gaussian_noise;
  s.mosaic_bound = net.mosaic_bound != 0;
  s.max_boxes = max_boxes;
  if (s.width < 1 || s.height < 1)
    fail("[net] width and height must be set for detector training (got ", s.width, "x", s.height, ")");
  if (s.channels != 1 && s.channels != 3)
    fail("[net] channels=", s.channels, ": detector training reads 1 (grey) or 3 (RGB) channels");
  if (jitter < 0.0f || jitter >= 0.5f) fail("[yolo] jitter=", jitter, ": expected a value in [0, 0.5)");
  if (resize <= 0.0f) fail("[yolo] resize=", resize, ": must be positive");
  if (s.blur < 0) fail("[net] blur=", s.blur, ": must not be negative");
  if (s.gaussian_noise < 0) fail("[net] gaussian_noise=", s.gaussian_noise, ": must not be negative");
  if (max_boxes < 1) fail("[yolo] max=", max_boxes, ": must be at least 1");
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

// Widens (or heightens) a window symmetrically so that its aspect ratio is the network's:
// the image then keeps its proportions (Darknet's letter_box in load_data_detection).
void letterbox_window(CropResize& t, float image_w, float image_h, int net_w, int net_h) {
  const float net_ar = float(net_w) / float(net_h);
  if (image_w / image_h > net_ar) {
    const float delta = (image_w / net_ar - image_h) / 2;
    t.top -= delta, t.height += 2 * delta;
  } else {
    const float delta = (image_h * net_ar - image_w) / 2;
    t.left -= delta, t.width += 2 * delta;
  }
}

float lerp_draw(float lo, float hi, float r) { return lo + r * (hi - lo); }

}  // namespace

CropResize plain_window(int image_w, int image_h, int net_w, int net_h, bool letter_box) {
  CropResize t;
  t.left = 0, t.top = 0, t.width = float(image_w), t.height = float(image_h);
  t.out_w = net_w, t.out_h = net_h;
  if (letter_box) letterbox_window(t, float(image_w), float(image_h), net_w, net_h);
  return t;
}

CropResize random_window(int image_w, int image_h, const DetectionAugmentSettings& s, Random& rng) {
  const float ow = float(image_w), oh = float(image_h);
  const int dw = int(ow * s.jitter), dh = int(oh * s.jitter);
  float pleft = float(rng.integer(-dw, dw)), pright = float(rng.integer(-dw, dw));
  float ptop = float(rng.integer(-dh, dh)), pbot = float(rng.integer(-dh, dh));
  if (s.resize != 1.0f) {
    // Darknet: resize < 1 only shrinks the window (objects grow); > 1 draws between the two.
    const float down = s.resize > 1 ? 1 / s.resize : s.resize, up = s.resize < 1 ? 1 / s.resize : s.resize;
    const float min_rdw = std::trunc(ow * (1 - 1 / down) / 2), min_rdh = std::trunc(oh * (1 - 1 / down) / 2);
    const float max_rdw = s.resize < 1 ? 0.0f : std::trunc(ow * (1 - 1 / up) / 2);
    const float max_rdh = s.resize < 1 ? 0.0f : std::trunc(oh * (1 - 1 / up) / 2);
    const float r1 = float(rng.unit()), r2 = float(rng.unit());
    pleft += std::trunc(lerp_draw(min_rdw, max_rdw, r1));
    pright += std::trunc(lerp_draw(min_rdw, max_rdw, r2));
    ptop += std::trunc(lerp_draw(min_rdh, max_rdh, r1));
    pbot += std::trunc(lerp_draw(min_rdh, max_rdh, r2));
  }
  const bool flip = s.flip && rng.coin();
  CropResize t;
  t.left = pleft, t.top = ptop, t.width = ow - pleft - pright, t.height = oh - ptop - pbot;
  t.out_w = s.width, t.out_h = s.height;
  // A window that holds no part of the image (possible with large jitter or resize): Darknet
  // warns and uses the whole image; so do we.
  if (t.width < 2 || t.height < 2 || t.left >= ow - 1 || t.top >= oh - 1 || t.left + t.width <= 1 ||
      t.top + t.height <= 1)
    t = plain_window(image_w, image_h, s.width, s.height, false);
  if (s.letter_box) letterbox_window(t, t.width, t.height, s.width, s.height);
  t.flip = flip;
  return t;
}

std::vector<float> mean_colour(const Image& im) {
  std::vector<float> mean(size_t(im.c), 0.0f);
  const size_t plane = size_t(im.w) * size_t(im.h);
  for (int c = 0; c < im.c; ++c) {
    double sum = 0;
    for (size_t i = 0; i < plane; ++i) sum += im.data[size_t(c) * plane + i];
    mean[size_t(c)] = plane ? float(sum / double(plane)) : 0.0f;
  }
  return mean;
}

Image crop_resize_image(const Image& src, const CropResize& t, const std::vector<float>& fill) {
  Image out(t.out_w, t.out_h, src.c);
  const float sx = t.width / float(t.out_w), sy = t.height / float(t.out_h);
  // Source coordinates and weights per output column and row, computed once.
  std::vector<int> x0(size_t(t.out_w)), y0(size_t(t.out_h));
  std::vector<float> fx(size_t(t.out_w)), fy(size_t(t.out_h));
  for (int x = 0; x < t.out_w; ++x) {
    const int xo = t.flip ? t.out_w - 1 - x : x;
    const float u = t.left + (float(xo) + 0.5f) * sx - 0.5f;
    x0[size_t(x)] = int(std::floor(u));
    fx[size_t(x)] = u - std::floor(u);
  }
  for (int y = 0; y < t.out_h; ++y) {
    const float v = t.top + (float(y) + 0.5f) * sy - 0.5f;
    y0[size_t(y)] = int(std::floor(v));
    fy[size_t(y)] = v - std::floor(v);
  }
  for (int c = 0; c < src.c; ++c) {
    const float outside = fill.empty() ? 0.0f : fill[size_t(c)];
    auto px = [&](int x, int y) {
      return (x < 0 || y < 0 || x >= src.w || y >= src.h) ? outside : src.at(x, y, c);
    };
    for (int y = 0; y < t.out_h; ++y) {
      const int iy = y0[size_t(y)];
      const float dy = fy[size_t(y)];
      for (int x = 0; x < t.out_w; ++x) {
        const int ix = x0[size_t(x)];
        const float dx = fx[size_t(x)];
        const float v = (1 - dy) * ((1 - dx) * px(ix, iy) + dx * px(ix + 1, iy)) +
                        dy * ((1 - dx) * px(ix, iy + 1) + dx * px(ix + 1, iy + 1));
        out.at(x, y, c) = std::clamp(v, 0.0f, 1.0f);
      }
    }
  }
  return out;
}

namespace {

WindowPadding window_padding(const CropResize& t, int image_w, int image_h) {
  const float a = t.map_x(0), b = t.map_x(float(image_w));
  WindowPadding p;
  p.left = int(std::clamp(std::min(a, b), 0.0f, float(t.out_w)));
  p.right = int(std::clamp(float(t.out_w) - std::max(a, b), 0.0f, float(t.out_w)));
  p.top = int(std::clamp(t.map_y(0), 0.0f, float(t.out_h)));
  p.bottom = int(std::clamp(float(t.out_h) - t.map_y(float(image_h)), 0.0f, float(t.out_h)));
  return p;
}

}  // namespace

DetectionSample augment_detection_image(const Image& decoded, const std::vector<PixelBox>& boxes,
                                        const DetectionAugmentSettings& s, bool augment, Random& rng) {
  const CropResize t = augment ? random_window(decoded.w, decoded.h, s, rng)
                               : plain_window(decoded.w, decoded.h, s.width, s.height, s.letter_box);
  // Darknet fills the part of the window outside the image with the image's mean colour while
  // training, and letterboxes with grey (0.5) for inference.
  const std::vector<float> fill = augment ? mean_colour(decoded) : std::vector<float>(size_t(decoded.c), 0.5f);
  DetectionSample out;
  out.image = crop_resize_image(decoded, t, fill);
  out.padding = window_padding(t, decoded.w, decoded.h);
  for (const PixelBox& b : boxes)
    if (auto clipped = clip_box(transform_box(b, t), 0, 0, float(s.width), float(s.height)))
      out.boxes.push_back(*clipped);
  if (!augment) return out;
  if (s.distorts_colour()) random_distort_image(out.image, s.hue, s.saturation, s.exposure, rng);
  if (s.blur) random_detection_blur(out, s.blur, rng);
  if (s.gaussian_noise) random_gaussian_noise(out.image, s.gaussian_noise, rng);
  return out;
}

namespace {

const float* pixel_address(const Image& im, int x, int y, int c) {
  return im.data.data() + (size_t(c) * size_t(im.h) + size_t(y)) * size_t(im.w) + size_t(x);
}

void mosaic(DetectionSample& base, const DetectionSample* partners, Random& rng) {
  const int w = base.image.w, h = base.image.h, channels = base.image.c;
  const int cx = rng.integer(int(float(w) * 0.2f), int(float(w) * 0.8f));
  const int cy = rng.integer(int(float(h) * 0.2f), int(float(h) * 0.8f));
  const DetectionSample* samples[4] = {&base, &partners[0], &partners[1], &partners[2]};
  Image canvas(w, h, channels);
  std::vector<PixelBox> boxes;
  for (int q = 0; q < 4; ++q) {
    const bool right = q % 2 == 1, bottom = q >= 2;
    const int qx0 = right ? cx : 0, qx1 = right ? w : cx;
    const int qy0 = bottom ? cy : 0, qy1 = bottom ? h : cy;
    // The part of the image next to the cut, moved past the window's padding (Darknet's
    // left/right/top/bot_shift) so that the quadrant shows image rather than fill.
    const WindowPadding& pad = samples[q]->padding;
    const int ox = right ? std::min(cx, pad.left) : w - cx - std::min(w - cx, pad.right);
    const int oy = bottom ? std::min(cy, pad.top) : h - cy - std::min(h - cy, pad.bottom);
    const Image& src = samples[q]->image;
    for (int c = 0; c < channels; ++c)
      for (int y = qy0; y < qy1; ++y)
        std::memcpy(&canvas.at(qx0, y, c), pixel_address(src, ox, oy + (y - qy0), c), size_t(qx1 - qx0) * sizeof(float));
    for (const PixelBox& b : samples[q]->boxes) {
      const PixelBox moved = shift_box(b, float(qx0 - ox), float(qy0 - oy));
      // The shown part ends at the cut on the image's side of it (the shifts only skip
      // padding), so clipping to the quadrant is clipping to the image: Darknet's
      // mosaic_bound is always in effect.
      auto clipped = clip_box(moved, float(qx0), float(qy0), float(qx1), float(qy1));
      if (clipped) boxes.push_back(*clipped);
    }
  }
  base.image = std::move(canvas);
  base.boxes = std::move(boxes);
  base.padding = {};
}

// The bounding box of the part of `b` outside rectangle r, or nothing when under a pixel is left.
std::optional<PixelBox> visible_part(const PixelBox& b, float rl, float rt, float rr, float rb) {
  if (visible_fraction(b, rl, rt, rr, rb) == 0.0f) return b;
  PixelBox u = b;
  bool any = false;
  auto add = [&](float l, float t, float r, float bt) {
    if (r - l <= 0 || bt - t <= 0) return;
    if (!any) {
      u.left = l, u.top = t, u.right = r, u.bottom = bt;
      any = true;
    } else {
      u.left = std::min(u.left, l), u.top = std::min(u.top, t);
      u.right = std::max(u.right, r), u.bottom = std::max(u.bottom, bt);
    }
  };
  add(b.left, b.top, std::min(b.right, rl), b.bottom);   // left of r
  add(std::max(b.left, rr), b.top, b.right, b.bottom);   // right of r
  add(b.left, b.top, b.right, std::min(b.bottom, rt));   // above r
  add(b.left, std::max(b.top, rb), b.right, b.bottom);   // below r
  if (!any || u.width() < 1 || u.height() < 1) return std::nullopt;
  return u;
}

void cutmix(DetectionSample& base, const DetectionSample& partner, Random& rng) {
  const int w = base.image.w, h = base.image.h;
  const int cut_w = rng.integer(int(float(w) * 0.3f), int(float(w) * 0.8f));
  const int cut_h = rng.integer(int(float(h) * 0.3f), int(float(h) * 0.8f));
  const int cut_x = rng.integer(0, w - cut_w), cut_y = rng.integer(0, h - cut_h);
  for (int c = 0; c < base.image.c; ++c)
    for (int y = cut_y; y < cut_y + cut_h; ++y)
      std::memcpy(&base.image.at(cut_x, y, c), pixel_address(partner.image, cut_x, y, c), size_t(cut_w) * sizeof(float));
  const float rl = float(cut_x), rt = float(cut_y), rr = float(cut_x + cut_w), rb = float(cut_y + cut_h);
  std::vector<PixelBox> boxes;
  for (const PixelBox& b : base.boxes)
    if (auto v = visible_part(b, rl, rt, rr, rb)) boxes.push_back(*v);
  for (const PixelBox& b : partner.boxes)
    if (auto v = clip_box(b, rl, rt, rr, rb)) boxes.push_back(*v);
  base.boxes = std::move(boxes);
}

}  // namespace

void mix_detection_samples(DetectionSample& base, const DetectionSample* partners, MixMode mode, Random& rng) {
  if (mode == MixMode::mixup) {
    for (size_t i = 0; i < base.image.data.size(); ++i)
      base.image.data[i] = (base.image.data[i] + partners[0].image.data[i]) / 2.0f;
    base.boxes.insert(base.boxes.end(), partners[0].boxes.begin(), partners[0].boxes.end());
  } else if (mode == MixMode::cutmix) {
    cutmix(base, partners[0], rng);
  } else if (mode == MixMode::mosaic) {
    mosaic(base, partners, rng);
  } else {
    fail("mix_detection_samples: mode ", int(mode), " is not one of mixup, cutmix or mosaic");
  }
}

void random_detection_blur(DetectionSample& sample, int blur, Random& rng) {
  const int mode = rng.integer(0, 2);
  if (mode == 0) return;
  Image& im = sample.image;
  if (mode == 1) {
    // Background only: objects keep their sharp pixels.
    Image sharp = im;
    gaussian_blur(im, 17);
    for (const PixelBox& b : sample.boxes) {
      const int x0 = std::max(0, int(std::floor(b.left))), x1 = std::min(im.w, int(std::ceil(b.right)));
      const int y0 = std::max(0, int(std::floor(b.top))), y1 = std::min(im.h, int(std::ceil(b.bottom)));
      for (int c = 0; c < im.c; ++c)
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x) im.at(x, y, c) = sharp.at(x, y, c);
    }
    return;
  }
  int k = blur == 1 ? 17 : (blur / 2) * 2 + 1;
  if (blur > 1 && !sample.boxes.empty()) {
    float smallest = 1e30f;
    for (const PixelBox& b : sample.boxes) smallest = std::min({smallest, b.width(), b.height()});
    const int limit = int(smallest / 8);  // Darknet: no blur that erases small objects
    if (limit < k) k = limit % 2 == 1 ? limit : limit - 1;
  }
  if (k >= 3) gaussian_blur(im, k);
}

void random_gaussian_noise(Image& im, int level, Random& rng) {
  if (level <= 0 || !rng.coin()) return;
  const float sigma = float(std::min(level, 127)) / 255.0f;
  for (size_t i = 0; i < im.data.size(); i += 2) {
    // Box-Muller: two independent normals from two uniforms.
    const double u1 = std::max(rng.unit(), 1e-300), u2 = rng.unit();
    const double r = std::sqrt(-2.0 * std::log(u1));
    im.data[i] = std::clamp(im.data[i] + sigma * float(r * std::cos(2 * M_PI * u2)), 0.0f, 1.0f);
    if (i + 1 < im.data.size())
      im.data[i + 1] = std::clamp(im.data[i + 1] + sigma * float(r * std::sin(2 * M_PI * u2)), 0.0f, 1.0f);
  }
}

void fill_detection_truth(const std::vector<PixelBox>& boxes, int image_w, int image_h, int max_boxes, float* truth) {
  std::fill(truth, truth + size_t(max_boxes) * 5, 0.0f);
  const size_t n = std::min(boxes.size(), size_t(max_boxes));
  for (size_t i = 0; i < n; ++i) {
    to_relative(boxes[i], image_w, image_h, truth + i * 5);
    truth[i * 5 + 4] = float(boxes[i].class_id);
  }
}

}  // namespace mishnet::data
