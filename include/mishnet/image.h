// Images as the network sees them: planar (CHW) float, RGB order, values in [0,1].
//
// Decoding and the geometric transforms follow Darknet, so a network trained there sees the
// same pixels here: load_image decodes with OpenCV when mishnet is built with it (as Darknet
// does) and with stb_image otherwise; resize_image is Darknet's two-pass bilinear resize;
// letterbox_image scales to fit and pads with 0.5; centre_crop_image is the crop of
// `classifier valid` / `classifier predict`.
#pragma once
#include <string>
#include <vector>

namespace mishnet {

struct Image {
  int w = 0, h = 0, c = 0;
  std::vector<float> data;  // c planes of h rows of w values

  Image() = default;
  Image(int width, int height, int channels, float fill = 0.0f);

  float& at(int x, int y, int ch) { return data[(size_t(ch) * size_t(h) + size_t(y)) * size_t(w) + size_t(x)]; }
  float at(int x, int y, int ch) const {
    return data[(size_t(ch) * size_t(h) + size_t(y)) * size_t(w) + size_t(x)];
  }
  bool empty() const { return data.empty(); }
};

// Decodes an image file into `channels` channels (1: grey as the decoder converts it, 3: RGB,
// 4: RGBA). Throws mishnet::Error naming the file when it is missing or cannot be decoded.
// Uses OpenCV's decoder when built with it, else stb_image.
Image load_image(const std::string& path, int channels = 3);
// The stb_image decoder, always available (tests compare it with OpenCV's).
Image load_image_stb(const std::string& path, int channels = 3);
// True when load_image uses OpenCV.
bool image_decoder_is_opencv();

// Writes .jpg/.jpeg (quality 80, as Darknet), .png or .bmp, chosen by the extension. Values are
// clamped to [0,1] and rounded to 8 bits. Throws naming the file on failure.
void save_image(const Image& im, const std::string& path);

// Darknet's resize_image: bilinear, first along rows then columns, with the corners of the
// source mapped onto the corners of the result (scale = (in-1)/(out-1)), the same float
// arithmetic. One flaw is not copied: where Darknet's rounding blackens the last row (see
// image.cpp), we take the last source row.
Image resize_image(const Image& im, int w, int h);
// Darknet's letterbox_image: keep the aspect ratio, fit inside w x h, centre, pad with 0.5.
Image letterbox_image(const Image& im, int w, int h);
// Where letterbox_image puts the resized image inside w x h.
struct LetterboxPlacement {
  int new_w = 0, new_h = 0, dx = 0, dy = 0;
};
LetterboxPlacement letterbox_placement(int image_w, int image_h, int w, int h);
// Darknet's resize_min: the shorter side becomes `min_side`, the aspect ratio is kept
// (integer arithmetic as Darknet). Returns a copy when nothing changes.
Image resize_min(const Image& im, int min_side);
// Darknet's crop_image: w x h from (dx, dy); coordinates outside are clamped to the edge.
Image crop_image(const Image& im, int dx, int dy, int w, int h);
// The classifier's evaluation view: resize_min to w, then the centre w x h crop.
Image centre_crop_image(const Image& im, int w, int h);
// What a network of w x h gets from an image: the image itself when it already has that size,
// else letterbox_image (letterbox=true) or resize_image.
Image fit_image_to_network(const Image& im, int w, int h, bool letterbox);

// Grey from RGB with the ITU-R BT.601 weights (0.299, 0.587, 0.114). (Darknet's
// grayscale_image applies 0.587 to red and 0.299 to green; we do not copy that.)
Image grayscale_image(const Image& im);

// A box to draw, in pixels of the image, with its label and colour (RGB in [0,1]).
struct LabelledBox {
  int left = 0, top = 0, right = 0, bottom = 0;
  std::string label;
  float rgb[3] = {1, 0, 0};
};
// Darknet's class colour (get_color over its six-colour ramp, offset class*123457 % classes).
void class_colour(int class_id, int classes, float rgb[3]);
// Draws boxes with a filled label bar above each. With OpenCV: its rectangles and Hershey text,
// as Darknet's draw_detections_cv_v3; without: our own rectangles and stb_easy_font text.
// Line width is max(1, h * 0.002) as Darknet.
void draw_labelled_boxes(Image& im, const std::vector<LabelledBox>& boxes);

}  // namespace mishnet
