#include "data/image_opencv.h"

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "mishnet/error.h"

namespace mishnet::detail {

namespace {

cv::Mat to_mat_bgr(const Image& im) {
  cv::Mat mat(im.h, im.w, CV_8UC(im.c));
  for (int y = 0; y < im.h; ++y) {
    unsigned char* row = mat.ptr<unsigned char>(y);
    for (int x = 0; x < im.w; ++x)
      for (int k = 0; k < im.c; ++k)
        row[x * im.c + k] = static_cast<unsigned char>(std::lround(std::clamp(im.at(x, y, k), 0.0f, 1.0f) * 255.0f));
  }
  if (im.c == 3) cv::cvtColor(mat, mat, cv::COLOR_RGB2BGR);
  return mat;
}

Image from_mat_bgr(const cv::Mat& bgr) {
  cv::Mat mat = bgr;
  if (mat.channels() == 3) cv::cvtColor(bgr, mat, cv::COLOR_BGR2RGB);
  Image im(mat.cols, mat.rows, mat.channels());
  for (int y = 0; y < im.h; ++y) {
    const unsigned char* row = mat.ptr<unsigned char>(y);
    for (int x = 0; x < im.w; ++x)
      for (int k = 0; k < im.c; ++k) im.at(x, y, k) = float(row[x * im.c + k]) / 255.0f;
  }
  return im;
}

}  // namespace

Image load_image_opencv(const std::string& path, int channels) {
  check_channels(path, channels);
  check_image_file(path);
  cv::Mat mat;
  try {
    // Asking first keeps OpenCV from logging its own warning for files it cannot read.
    if (!cv::haveImageReader(path))
      fail(path, ": cannot decode image (not a format OpenCV can read, or not an image)");
    mat = cv::imread(path, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    fail(path, ": cannot decode image (OpenCV: ", e.what(), ")");
  }
  if (mat.empty()) fail(path, ": cannot decode image (OpenCV cannot read this format or the file is damaged)");
  if (mat.depth() != CV_8U) mat.convertTo(mat, CV_8U);
  return from_mat_bgr(mat);
}

void draw_labelled_boxes_opencv(Image& im, const std::vector<LabelledBox>& boxes) {
  if (im.c != 1 && im.c != 3) return draw_labelled_boxes_plain(im, boxes);
  cv::Mat mat = to_mat_bgr(im);
  const int width = std::max(1, int(float(im.h) * 0.002f));
  const double font_size = std::max(0.4, double(im.h) / 1000.0);
  const int text_thickness = std::max(1, int(2 * font_size));
  for (const LabelledBox& b : boxes) {
    cv::Scalar colour = im.c == 3 ? cv::Scalar(b.rgb[2] * 255, b.rgb[1] * 255, b.rgb[0] * 255)
                                  : cv::Scalar(255 * 0.8);
    cv::rectangle(mat, cv::Point(b.left, b.top), cv::Point(b.right, b.bottom), colour, width);
    if (b.label.empty()) continue;
    int baseline = 0;
    cv::Size text = cv::getTextSize(b.label, cv::FONT_HERSHEY_COMPLEX_SMALL, font_size, 1, &baseline);
    cv::Point bar_top_left(b.left, b.top - int(3 + 18 * font_size));
    cv::Point bar_bottom_right(std::max(b.right, b.left + text.width), b.top);
    cv::rectangle(mat, bar_top_left, bar_bottom_right, colour, cv::FILLED);
    cv::putText(mat, b.label, cv::Point(b.left, b.top - 4), cv::FONT_HERSHEY_COMPLEX_SMALL, font_size,
                cv::Scalar(0, 0, 0), text_thickness, cv::LINE_AA);
  }
  im = from_mat_bgr(mat);
}

}  // namespace mishnet::detail
