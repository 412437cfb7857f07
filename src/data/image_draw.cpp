// Boxes and labels on images: OpenCV's drawing when built with it, else our own rectangles and
// the stb_easy_font bitmap font (quads we fill ourselves).
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"  // stb_easy_font's unused static helpers
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <algorithm>
#include <cmath>
#include <vector>

#include "data/image_opencv.h"
#include "mishnet/image.h"
#include "stb_easy_font.h"

namespace mishnet {

namespace {

void fill_rect(Image& im, int x0, int y0, int x1, int y1, const float* rgb) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, im.w - 1);
  y1 = std::min(y1, im.h - 1);
  for (int k = 0; k < im.c; ++k) {
    float v = im.c >= 3 ? rgb[std::min(k, 2)] : 0.8f;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) im.at(x, y, k) = v;
  }
}

// Darknet's draw_box_width: `width` nested one-pixel rectangles, inwards from the corners.
void draw_box(Image& im, int left, int top, int right, int bottom, int width, const float* rgb) {
  for (int i = 0; i < width; ++i) {
    int x0 = left + i, y0 = top + i, x1 = right - i, y1 = bottom - i;
    if (x1 < x0 || y1 < y0) break;
    fill_rect(im, x0, y0, x1, y0, rgb);
    fill_rect(im, x0, y1, x1, y1, rgb);
    fill_rect(im, x0, y0, x0, y1, rgb);
    fill_rect(im, x1, y0, x1, y1, rgb);
  }
}

void draw_text(Image& im, int x, int y, const std::string& text, int scale, const float* rgb) {
  std::vector<char> buf(text.begin(), text.end());
  buf.push_back('\0');
  struct Vertex {
    float x, y, z;
    unsigned char colour[4];
  };
  std::vector<Vertex> quads(text.size() * 80 + 16);
  int n = stb_easy_font_print(0, 0, buf.data(), nullptr, quads.data(), int(quads.size() * sizeof(Vertex)));
  for (int q = 0; q < n; ++q) {
    const Vertex* v = &quads[size_t(q) * 4];
    float qx0 = std::min({v[0].x, v[1].x, v[2].x, v[3].x}), qx1 = std::max({v[0].x, v[1].x, v[2].x, v[3].x});
    float qy0 = std::min({v[0].y, v[1].y, v[2].y, v[3].y}), qy1 = std::max({v[0].y, v[1].y, v[2].y, v[3].y});
    fill_rect(im, x + int(qx0 * float(scale)), y + int(qy0 * float(scale)), x + int(qx1 * float(scale)) - 1,
              y + int(qy1 * float(scale)) - 1, rgb);
  }
}

}  // namespace

namespace detail {

void draw_labelled_boxes_plain(Image& im, const std::vector<LabelledBox>& boxes) {
  const int width = std::max(1, int(float(im.h) * 0.002f));
  const int scale = std::max(1, im.h / 400);
  const float black[3] = {0, 0, 0};
  for (const LabelledBox& b : boxes) {
    draw_box(im, b.left, b.top, b.right, b.bottom, width, b.rgb);
    if (b.label.empty()) continue;
    std::vector<char> buf(b.label.begin(), b.label.end());
    buf.push_back('\0');
    int text_w = stb_easy_font_width(buf.data()) * scale;
    int text_h = 7 * scale;  // cap height of stb_easy_font: 7 units
    int bar_h = text_h + 4 * scale;
    // Above the box when there is room, else just inside its top edge.
    int bar_top = b.top - bar_h >= 0 ? b.top - bar_h : b.top;
    fill_rect(im, b.left, bar_top, std::max(b.right, b.left + text_w + 2 * scale), bar_top + bar_h - 1, b.rgb);
    draw_text(im, b.left + scale, bar_top + 2 * scale, b.label, scale, black);
  }
}

}  // namespace detail

void draw_labelled_boxes(Image& im, const std::vector<LabelledBox>& boxes) {
#ifdef MISHNET_HAVE_OPENCV
  detail::draw_labelled_boxes_opencv(im, boxes);
#else
  detail::draw_labelled_boxes_plain(im, boxes);
#endif
}

}  // namespace mishnet
