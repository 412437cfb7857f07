#if MISHNET_HAVE_OPENCV
#include "demo/frame_pixels.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "mishnet/error.h"

namespace mishnet::demo {
namespace {

// 8-bit BGR (or grey) pixels into planar floats at (dx, dy) of a w-wide plane set.
void write_planes(const cv::Mat& src, int w, int h, int c, int dx, int dy, float* out) {
  const size_t plane = size_t(w) * size_t(h);
  const float scale = 1.0f / 255.0f;
  for (int y = 0; y < src.rows; ++y) {
    const unsigned char* row = src.ptr<unsigned char>(y);
    const size_t at = size_t(y + dy) * size_t(w) + size_t(dx);
    if (c == 1) {
      for (int x = 0; x < src.cols; ++x) out[at + size_t(x)] = float(row[x]) * scale;
      continue;
    }
    float* r = out + at;
    float* g = out + plane + at;
    float* b = out + 2 * plane + at;
    for (int x = 0; x < src.cols; ++x) {
      b[x] = float(row[3 * x]) * scale;
      g[x] = float(row[3 * x + 1]) * scale;
      r[x] = float(row[3 * x + 2]) * scale;
    }
  }
}

}  // namespace

void frame_to_input(const cv::Mat& bgr, int w, int h, int c, FrameFit fit, float* out) {
  if (c != 1 && c != 3) fail("video frames can feed a network of 1 or 3 channels, not ", c);
  cv::Mat src = bgr;
  if (c == 1) cv::cvtColor(bgr, src, cv::COLOR_BGR2GRAY);
  cv::Mat sized;
  if (fit == FrameFit::stretch) {
    if (src.cols == w && src.rows == h) sized = src;
    else cv::resize(src, sized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    write_planes(sized, w, h, c, 0, 0, out);
  } else if (fit == FrameFit::letterbox) {
    const LetterboxPlacement p = letterbox_placement(src.cols, src.rows, w, h);
    cv::resize(src, sized, cv::Size(p.new_w, p.new_h), 0, 0, cv::INTER_LINEAR);
    std::fill(out, out + size_t(w) * size_t(h) * size_t(c), 0.5f);
    write_planes(sized, w, h, c, p.dx, p.dy, out);
  } else {
    // centre_crop_image: the shorter side becomes w (resize_min), then the centre w x h.
    int rw = src.cols, rh = src.rows;
    if (rw < rh) {
      rh = (rh * w) / rw;
      rw = w;
    } else {
      rw = (rw * w) / rh;
      rh = w;
    }
    cv::resize(src, sized, cv::Size(std::max(rw, 1), std::max(rh, 1)), 0, 0, cv::INTER_LINEAR);
    const int dx = (sized.cols - w) / 2, dy = (sized.rows - h) / 2;
    // crop_image clamps to the edge where the crop is larger than the image.
    const int left = std::max(0, -dx), top = std::max(0, -dy);
    const int right = std::max(0, dx + w - sized.cols), bottom = std::max(0, dy + h - sized.rows);
    if (left || top || right || bottom) {
      cv::copyMakeBorder(sized, sized, top, bottom, left, right, cv::BORDER_REPLICATE);
    }
    cv::Mat crop = sized(cv::Rect(dx + left, dy + top, w, h));
    write_planes(crop, w, h, c, 0, 0, out);
  }
}

void draw_boxes(cv::Mat& bgr, const std::vector<LabelledBox>& boxes) {
  const int width = std::max(1, int(float(bgr.rows) * 0.002f));
  const double font_size = std::max(0.4, double(bgr.rows) / 1000.0);
  const int text_thickness = std::max(1, int(2 * font_size));
  for (const LabelledBox& b : boxes) {
    const cv::Scalar colour(b.rgb[2] * 255, b.rgb[1] * 255, b.rgb[0] * 255);
    cv::rectangle(bgr, cv::Point(b.left, b.top), cv::Point(b.right, b.bottom), colour, width);
    if (b.label.empty()) continue;
    int baseline = 0;
    const cv::Size text = cv::getTextSize(b.label, cv::FONT_HERSHEY_COMPLEX_SMALL, font_size, 1, &baseline);
    cv::rectangle(bgr, cv::Point(b.left, b.top - int(3 + 18 * font_size)),
                  cv::Point(std::max(b.right, b.left + text.width), b.top), colour, cv::FILLED);
    cv::putText(bgr, b.label, cv::Point(b.left, b.top - 4), cv::FONT_HERSHEY_COMPLEX_SMALL, font_size,
                cv::Scalar(0, 0, 0), text_thickness, cv::LINE_AA);
  }
}

void draw_text_lines(cv::Mat& bgr, const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  const double font_size = std::max(0.5, double(bgr.rows) / 800.0);
  const int line_height = int(20 * font_size) + 4;
  int widest = 0;
  for (const std::string& line : lines) {
    int baseline = 0;
    widest = std::max(widest, cv::getTextSize(line, cv::FONT_HERSHEY_SIMPLEX, font_size, 1, &baseline).width);
  }
  const cv::Rect bar(0, 0, std::min(bgr.cols, widest + 12), std::min(bgr.rows, line_height * int(lines.size()) + 6));
  cv::Mat region = bgr(bar);
  region *= 0.35;  // darken rather than cover: the frame stays visible behind the text
  for (size_t i = 0; i < lines.size(); ++i)
    cv::putText(bgr, lines[i], cv::Point(6, line_height * int(i + 1)), cv::FONT_HERSHEY_SIMPLEX, font_size,
                cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
}

}  // namespace mishnet::demo
#endif
