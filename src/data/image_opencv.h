// The OpenCV paths of images (built only with MISHNET_OPENCV=ON: image_opencv.cpp).
#pragma once
#include <string>
#include <vector>

#include "mishnet/image.h"

namespace mishnet::detail {

// Throws "path: cannot open image: no such file" (or "... a directory").
void check_image_file(const std::string& path);
void check_channels(const std::string& path, int channels);

// cv::imread (IMREAD_COLOR / IMREAD_GRAYSCALE, as Darknet's load_image_cv), BGR turned to RGB.
Image load_image_opencv(const std::string& path, int channels);
void draw_labelled_boxes_opencv(Image& im, const std::vector<LabelledBox>& boxes);
// Our own drawing (no OpenCV): rectangles and stb_easy_font text.
void draw_labelled_boxes_plain(Image& im, const std::vector<LabelledBox>& boxes);

}  // namespace mishnet::detail
