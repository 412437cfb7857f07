// Pixels of video frames (8-bit BGR cv::Mat): into a network's input, and annotations drawn on.
//
// Frames are resized with cv::resize (bilinear), as Darknet's demo does (its
// get_image_from_stream_resize), not with Darknet's two-pass resize_image that `detector test`
// uses on still images: at video rates the difference (under one grey level on average) is
// worth the speed. The geometry is the same as for still images: stretched, letterboxed
// (letterbox_placement, padding 0.5), or the classifier's centre crop.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "mishnet/image.h"

namespace mishnet::demo {

enum class FrameFit { stretch, letterbox, centre_crop };

// Writes the frame as a network input: c planes (3: RGB, 1: grey) of h x w floats in [0,1].
void frame_to_input(const cv::Mat& bgr, int w, int h, int c, FrameFit fit, float* out);

// Boxes with a filled label bar, as draw_labelled_boxes draws them on still images with OpenCV
// (Darknet's draw_detections_cv_v3 sizes).
void draw_boxes(cv::Mat& bgr, const std::vector<LabelledBox>& boxes);
// Lines of text at the top left, on a dark bar so they read on any frame.
void draw_text_lines(cv::Mat& bgr, const std::vector<std::string>& lines);

}  // namespace mishnet::demo
