#include "mishnet/image.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "data/image_opencv.h"
#include "mishnet/error.h"
#include "stb_image.h"
#include "stb_image_write.h"

namespace mishnet {

Image::Image(int width, int height, int channels, float fill)
    : w(width), h(height), c(channels), data(size_t(width) * size_t(height) * size_t(channels), fill) {}

namespace detail {

void check_image_file(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail(path, ": cannot open image: no such file");
  if (std::filesystem::is_directory(status)) fail(path, ": cannot open image: it is a directory");
}

void check_channels(const std::string& path, int channels) {
  if (channels != 1 && channels != 3 && channels != 4)
    fail(path, ": cannot load an image with ", channels, " channels (1, 3 or 4)");
}

}  // namespace detail

Image load_image_stb(const std::string& path, int channels) {
  detail::check_channels(path, channels);
  detail::check_image_file(path);
  int w = 0, h = 0, in_file = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &w, &h, &in_file, channels), stbi_image_free);
  if (!pixels) fail(path, ": cannot decode image (", stbi_failure_reason(), ")");
  Image im(w, h, channels);
  const unsigned char* src = pixels.get();
  for (int k = 0; k < channels; ++k)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        im.at(x, y, k) = float(src[(size_t(y) * size_t(w) + size_t(x)) * size_t(channels) + size_t(k)]) / 255.0f;
  return im;
}

bool image_decoder_is_opencv() {
#ifdef MISHNET_HAVE_OPENCV
  return true;
#else
  return false;
#endif
}

Image load_image(const std::string& path, int channels) {
#ifdef MISHNET_HAVE_OPENCV
  // OpenCV cannot force 4 channels on a 3-channel file; stb can.
  if (channels == 1 || channels == 3) return detail::load_image_opencv(path, channels);
#endif
  return load_image_stb(path, channels);
}

void save_image(const Image& im, const std::string& path) {
  if (im.c != 1 && im.c != 3 && im.c != 4)
    fail(path, ": cannot save an image with ", im.c, " channels (1, 3 or 4)");
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  std::vector<unsigned char> pixels(im.data.size());
  for (int k = 0; k < im.c; ++k)
    for (int y = 0; y < im.h; ++y)
      for (int x = 0; x < im.w; ++x) {
        float v = std::clamp(im.at(x, y, k), 0.0f, 1.0f);
        pixels[(size_t(y) * size_t(im.w) + size_t(x)) * size_t(im.c) + size_t(k)] =
            static_cast<unsigned char>(std::lround(v * 255.0f));
      }
  int ok = 0;
  if (ext == ".jpg" || ext == ".jpeg")
    ok = stbi_write_jpg(path.c_str(), im.w, im.h, im.c, pixels.data(), 80);
  else if (ext == ".png")
    ok = stbi_write_png(path.c_str(), im.w, im.h, im.c, pixels.data(), im.w * im.c);
  else if (ext == ".bmp")
    ok = stbi_write_bmp(path.c_str(), im.w, im.h, im.c, pixels.data());
  else
    fail(path, ": cannot save an image as '", ext, "' (use .jpg, .png or .bmp)");
  if (!ok) fail(path, ": cannot write image (directory missing or disk full?)");
}

Image resize_image(const Image& im, int w, int h) {
  if (w < 1 || h < 1) fail("resize_image: target size ", w, "x", h, " is empty");
  if (im.w == w && im.h == h) return im;
  // Darknet's scales; a one-pixel target has none (Darknet divides by zero there): it takes
  // the last column (as Darknet's special case does) and the first row.
  const float w_scale = w > 1 ? float(im.w - 1) / float(w - 1) : 0.0f;
  const float h_scale = h > 1 ? float(im.h - 1) / float(h - 1) : 0.0f;

  std::vector<int> ix(static_cast<size_t>(w));
  std::vector<float> dx(static_cast<size_t>(w));
  for (int x = 0; x < w; ++x) {
    if (x == w - 1 || im.w == 1) {
      ix[size_t(x)] = im.w - 1;  // Darknet copies the last source column here
      dx[size_t(x)] = -1.0f;
    } else {
      float sx = float(x) * w_scale;
      ix[size_t(x)] = int(sx);
      dx[size_t(x)] = sx - float(ix[size_t(x)]);
    }
  }

  // Pass 1: along rows, into w x im.h.
  Image part(w, im.h, im.c);
  for (int k = 0; k < im.c; ++k)
    for (int y = 0; y < im.h; ++y) {
      const float* row = &im.data[(size_t(k) * size_t(im.h) + size_t(y)) * size_t(im.w)];
      float* out = &part.data[(size_t(k) * size_t(im.h) + size_t(y)) * size_t(w)];
      for (int x = 0; x < w; ++x) {
        int i = ix[size_t(x)];
        float d = dx[size_t(x)];
        out[x] = d < 0 ? row[i] : (1 - d) * row[i] + d * row[i + 1];
      }
    }

  // Pass 2: along columns. Darknet stores (1-dy)*upper first and adds dy*lower afterwards.
  // Its last row takes (1-dy)*upper only, meant to be the last source row; but when float
  // rounding puts (h-1)*h_scale just below im.h-1 (about 4% of size pairs, e.g. 16 -> 224 rows)
  // that is row im.h-2 times ~1e-7, a black last row. We take the last source row there, as
  // Darknet does for the last column.
  Image out(w, h, im.c);
  for (int k = 0; k < im.c; ++k)
    for (int y = 0; y < h; ++y) {
      float* dst = &out.data[(size_t(k) * size_t(h) + size_t(y)) * size_t(w)];
      if (y == h - 1 && h > 1) {
        const float* last = &part.data[(size_t(k) * size_t(im.h) + size_t(im.h - 1)) * size_t(w)];
        std::copy(last, last + w, dst);
        continue;
      }
      float sy = float(y) * h_scale;
      int iy = int(sy);
      float dy = sy - float(iy);
      const float* upper = &part.data[(size_t(k) * size_t(im.h) + size_t(iy)) * size_t(w)];
      for (int x = 0; x < w; ++x) dst[x] = (1 - dy) * upper[x];
      if (im.h == 1) continue;
      const float* lower = upper + w;
      for (int x = 0; x < w; ++x) dst[x] += dy * lower[x];
    }
  return out;
}

LetterboxPlacement letterbox_placement(int image_w, int image_h, int w, int h) {
  LetterboxPlacement p;
  if (float(w) / float(image_w) < float(h) / float(image_h)) {
    p.new_w = w;
    p.new_h = (image_h * w) / image_w;
  } else {
    p.new_h = h;
    p.new_w = (image_w * h) / image_h;
  }
  // A very thin image could round to zero pixels; keep one.
  p.new_w = std::max(p.new_w, 1);
  p.new_h = std::max(p.new_h, 1);
  p.dx = (w - p.new_w) / 2;
  p.dy = (h - p.new_h) / 2;
  return p;
}

Image letterbox_image(const Image& im, int w, int h) {
  LetterboxPlacement p = letterbox_placement(im.w, im.h, w, h);
  Image resized = resize_image(im, p.new_w, p.new_h);
  Image boxed(w, h, im.c, 0.5f);
  for (int k = 0; k < im.c; ++k)
    for (int y = 0; y < resized.h; ++y)
      for (int x = 0; x < resized.w; ++x) {
        int tx = x + p.dx, ty = y + p.dy;
        if (tx >= 0 && tx < w && ty >= 0 && ty < h) boxed.at(tx, ty, k) = resized.at(x, y, k);
      }
  return boxed;
}

Image resize_min(const Image& im, int min_side) {
  int w = im.w, h = im.h;
  if (w < h) {
    h = (h * min_side) / w;
    w = min_side;
  } else {
    w = (w * min_side) / h;
    h = min_side;
  }
  return resize_image(im, std::max(w, 1), std::max(h, 1));
}

Image crop_image(const Image& im, int dx, int dy, int w, int h) {
  Image out(w, h, im.c);
  for (int k = 0; k < im.c; ++k)
    for (int y = 0; y < h; ++y) {
      int sy = std::clamp(y + dy, 0, im.h - 1);
      for (int x = 0; x < w; ++x) out.at(x, y, k) = im.at(std::clamp(x + dx, 0, im.w - 1), sy, k);
    }
  return out;
}

Image centre_crop_image(const Image& im, int w, int h) {
  Image resized = resize_min(im, w);
  return crop_image(resized, (resized.w - w) / 2, (resized.h - h) / 2, w, h);
}

Image fit_image_to_network(const Image& im, int w, int h, bool letterbox) {
  if (im.w == w && im.h == h) return im;
  return letterbox ? letterbox_image(im, w, h) : resize_image(im, w, h);
}

Image grayscale_image(const Image& im) {
  if (im.c == 1) return im;
  if (im.c < 3) fail("grayscale_image: expected 3 or 4 channels, got ", im.c);
  Image grey(im.w, im.h, 1);
  for (int y = 0; y < im.h; ++y)
    for (int x = 0; x < im.w; ++x)
      grey.at(x, y, 0) = 0.299f * im.at(x, y, 0) + 0.587f * im.at(x, y, 1) + 0.114f * im.at(x, y, 2);
  return grey;
}

void class_colour(int class_id, int classes, float rgb[3]) {
  static const float ramp[6][3] = {{1, 0, 1}, {0, 0, 1}, {0, 1, 1}, {0, 1, 0}, {1, 1, 0}, {1, 0, 0}};
  if (classes < 1) classes = 1;
  int offset = int((long long)class_id * 123457 % classes);
  // Darknet's get_color(c, x, max): channel c of the ramp at x/max; red is c=2, blue c=0.
  auto colour = [&](int ch) {
    float ratio = float(offset) / float(classes) * 5;
    int i = int(std::floor(ratio));
    int j = int(std::ceil(ratio));
    ratio -= float(i);
    return (1 - ratio) * ramp[i][ch] + ratio * ramp[j][ch];
  };
  rgb[0] = colour(2);
  rgb[1] = colour(1);
  rgb[2] = colour(0);
}

}  // namespace mishnet
