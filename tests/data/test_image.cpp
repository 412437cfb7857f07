#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "data/image_opencv.h"
#include "mishnet/image.h"
#include "mishnet/npy.h"
#include "test_util.h"

namespace mishnet {
namespace {

Image random_image(int w, int h, int c, std::mt19937_64& rng) {
  Image im(w, h, c);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : im.data) v = u(rng);
  return im;
}

// Bilinear sampling with corners on corners, in double: an independent statement of what
// Darknet's two-pass resize computes.
double bilinear_reference(const Image& im, int w, int h, int x, int y, int k) {
  double sx = w > 1 ? double(x) * (im.w - 1) / (w - 1) : im.w - 1;
  double sy = h > 1 ? double(y) * (im.h - 1) / (h - 1) : 0;
  int x0 = std::min(int(sx), im.w - 1), y0 = std::min(int(sy), im.h - 1);
  int x1 = std::min(x0 + 1, im.w - 1), y1 = std::min(y0 + 1, im.h - 1);
  double dx = sx - x0, dy = sy - y0;
  return (1 - dy) * ((1 - dx) * im.at(x0, y0, k) + dx * im.at(x1, y0, k)) +
         dy * ((1 - dx) * im.at(x0, y1, k) + dx * im.at(x1, y1, k));
}

TEST(Image, ResizeHandComputedRowAndColumn) {
  Image row(2, 1, 1);
  row.data = {0.0f, 1.0f};
  Image r = resize_image(row, 3, 1);
  ASSERT_EQ(r.w, 3);
  EXPECT_FLOAT_EQ(r.data[0], 0.0f);
  EXPECT_FLOAT_EQ(r.data[1], 0.5f);  // x=1 samples source 0.5
  EXPECT_FLOAT_EQ(r.data[2], 1.0f);

  Image col(1, 2, 1);
  col.data = {0.0f, 1.0f};
  Image c = resize_image(col, 1, 4);
  ASSERT_EQ(c.h, 4);
  // Tolerance 1e-6: the scale 1/3 is not exact in float.
  EXPECT_NEAR(c.data[0], 0.0f, 1e-6);
  EXPECT_NEAR(c.data[1], 1.0f / 3, 1e-6);
  EXPECT_NEAR(c.data[2], 2.0f / 3, 1e-6);
  EXPECT_NEAR(c.data[3], 1.0f, 1e-6);
}

TEST(Image, ResizeMatchesBilinearReferenceOnRandomSizes) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_int_distribution<int> size(1, 23);
  for (int trial = 0; trial < 40; ++trial) {
    Image im = random_image(size(rng), size(rng), 3, rng);
    int w = size(rng), h = size(rng);
    if (w == 1 && im.w > 1) w = 2;  // one-pixel targets are covered below
    if (h == 1 && im.h > 1) h = 2;
    Image r = resize_image(im, w, h);
    ASSERT_EQ(r.w, w);
    ASSERT_EQ(r.h, h);
    ASSERT_EQ(r.c, 3);
    for (int k = 0; k < 3; ++k)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          ASSERT_NEAR(r.at(x, y, k), bilinear_reference(im, w, h, x, y, k), 1e-5)  // float vs double
              << im.w << "x" << im.h << " -> " << w << "x" << h << " at " << x << "," << y;
  }
}

TEST(Image, ResizeLastRowIsTheLastSourceRow) {
  // 16 -> 224 rows: Darknet's float rounding would put the last row at row 14 * ~1e-7.
  std::mt19937_64 rng(test::test_seed());
  Image im = random_image(5, 16, 1, rng);
  Image r = resize_image(im, 5, 224);
  for (int x = 0; x < 5; ++x) EXPECT_NEAR(r.at(x, 223, 0), im.at(x, 15, 0), 1e-6);
}

TEST(Image, ResizeToSameSizeIsACopyAndOnePixelTargetsAreDefined) {
  std::mt19937_64 rng(test::test_seed());
  Image im = random_image(4, 3, 3, rng);
  EXPECT_EQ(resize_image(im, 4, 3).data, im.data);
  Image p = resize_image(im, 1, 1);
  // Darknet's special case: the last column; the first row (Darknet divides by zero there).
  for (int k = 0; k < 3; ++k) EXPECT_FLOAT_EQ(p.at(0, 0, k), im.at(3, 0, k));
  EXPECT_ERROR_CONTAINS(resize_image(im, 0, 3), "empty");
}

TEST(Image, LetterboxPadsWithHalfAndCentres) {
  std::mt19937_64 rng(test::test_seed());
  Image wide = random_image(4, 2, 3, rng);
  Image boxed = letterbox_image(wide, 4, 4);  // scale 1: new 4x2 at dy=1
  ASSERT_EQ(boxed.w, 4);
  ASSERT_EQ(boxed.h, 4);
  for (int k = 0; k < 3; ++k)
    for (int x = 0; x < 4; ++x) {
      EXPECT_FLOAT_EQ(boxed.at(x, 0, k), 0.5f);
      EXPECT_FLOAT_EQ(boxed.at(x, 1, k), wide.at(x, 0, k));
      EXPECT_FLOAT_EQ(boxed.at(x, 2, k), wide.at(x, 1, k));
      EXPECT_FLOAT_EQ(boxed.at(x, 3, k), 0.5f);
    }

  Image tall = random_image(3, 8, 1, rng);
  LetterboxPlacement p = letterbox_placement(3, 8, 6, 6);
  // w/im.w = 2 is not < h/im.h = 0.75: height fits, new_w = 3*6/8 = 2 (integer), dx = 2.
  EXPECT_EQ(p.new_h, 6);
  EXPECT_EQ(p.new_w, 2);
  EXPECT_EQ(p.dx, 2);
  EXPECT_EQ(p.dy, 0);
  Image b = letterbox_image(tall, 6, 6);
  Image resized = resize_image(tall, 2, 6);
  for (int y = 0; y < 6; ++y) {
    EXPECT_FLOAT_EQ(b.at(0, y, 0), 0.5f);
    EXPECT_FLOAT_EQ(b.at(1, y, 0), 0.5f);
    EXPECT_FLOAT_EQ(b.at(2, y, 0), resized.at(0, y, 0));
    EXPECT_FLOAT_EQ(b.at(3, y, 0), resized.at(1, y, 0));
    EXPECT_FLOAT_EQ(b.at(4, y, 0), 0.5f);
    EXPECT_FLOAT_EQ(b.at(5, y, 0), 0.5f);
  }
}

TEST(Image, CentreCropResizesShorterSideThenCrops) {
  std::mt19937_64 rng(test::test_seed());
  Image im = random_image(12, 8, 3, rng);
  // Shorter side 8 -> 4: 12*4/8 = 6 x 4, centre 4x4 starts at x = 1.
  Image crop = centre_crop_image(im, 4, 4);
  Image resized = resize_image(im, 6, 4);
  ASSERT_EQ(crop.w, 4);
  ASSERT_EQ(crop.h, 4);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(crop.at(x, y, k), resized.at(x + 1, y, k));
  // Crops reaching outside the image repeat the edge (Darknet's crop_image clamps).
  Image outside = crop_image(im, -2, 0, 3, 1);
  EXPECT_FLOAT_EQ(outside.at(0, 0, 0), im.at(0, 0, 0));
  EXPECT_FLOAT_EQ(outside.at(2, 0, 0), im.at(0, 0, 0));
}

TEST(Image, FitToNetworkKeepsAnImageOfTheNetworkSize) {
  std::mt19937_64 rng(test::test_seed());
  Image im = random_image(8, 6, 3, rng);
  EXPECT_EQ(fit_image_to_network(im, 8, 6, true).data, im.data);
  EXPECT_EQ(fit_image_to_network(im, 4, 4, false).data, resize_image(im, 4, 4).data);
  EXPECT_EQ(fit_image_to_network(im, 4, 4, true).data, letterbox_image(im, 4, 4).data);
}

TEST(Image, SaveAndLoadPngRoundTripsBothDecoders) {
  std::mt19937_64 rng(test::test_seed());
  std::string dir = test::scratch_dir("image_png");
  Image im = random_image(7, 5, 3, rng);
  save_image(im, dir + "/a.png");
  for (Image back : {load_image(dir + "/a.png", 3), load_image_stb(dir + "/a.png", 3)}) {
    ASSERT_EQ(back.w, 7);
    ASSERT_EQ(back.h, 5);
    ASSERT_EQ(back.c, 3);
    for (size_t i = 0; i < im.data.size(); ++i) ASSERT_NEAR(back.data[i], im.data[i], 0.5f / 255 + 1e-6f);
  }
  // RGB order: a pure red pixel stays red through either decoder.
  Image red(2, 2, 3, 0.0f);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) red.at(x, y, 0) = 1.0f;
  save_image(red, dir + "/red.png");
  Image r = load_image(dir + "/red.png", 3);
  EXPECT_FLOAT_EQ(r.at(1, 1, 0), 1.0f);
  EXPECT_FLOAT_EQ(r.at(1, 1, 2), 0.0f);
  EXPECT_EQ(load_image_stb(dir + "/red.png", 3).data, r.data);
  // One channel: the decoder's grey.
  Image grey = load_image(dir + "/a.png", 1);
  EXPECT_EQ(grey.c, 1);
  EXPECT_EQ(grey.w, 7);
}

TEST(Image, SaveJpgLoadsBackClose) {
  std::string dir = test::scratch_dir("image_jpg");
  Image im(16, 16, 3);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) im.at(x, y, k) = float(x + y + 4 * k) / 50.0f;  // smooth
  save_image(im, dir + "/a.jpg");
  Image back = load_image(dir + "/a.jpg", 3);
  double err = 0;
  for (size_t i = 0; i < im.data.size(); ++i) err += std::fabs(back.data[i] - im.data[i]);
  EXPECT_LT(err / double(im.data.size()), 0.03);  // JPEG quality 80 on a smooth ramp
  EXPECT_ERROR_CONTAINS(save_image(im, dir + "/a.tiff"), "a.tiff: cannot save an image as '.tiff'");
  EXPECT_ERROR_CONTAINS(save_image(im, dir + "/missing/a.png"), "missing/a.png: cannot write image");
}

TEST(Image, LoadErrorsNameTheFile) {
  std::string dir = test::scratch_dir("image_errors");
  EXPECT_ERROR_CONTAINS(load_image(dir + "/nope.jpg"), "nope.jpg: cannot open image: no such file");
  EXPECT_ERROR_CONTAINS(load_image_stb(dir + "/nope.jpg"), "nope.jpg: cannot open image: no such file");
  EXPECT_ERROR_CONTAINS(load_image(dir), "cannot open image: it is a directory");
  std::ofstream(dir + "/text.jpg") << "this is not an image\n";
  EXPECT_ERROR_CONTAINS(load_image(dir + "/text.jpg"), "text.jpg: cannot decode image");
  EXPECT_ERROR_CONTAINS(load_image_stb(dir + "/text.jpg"), "text.jpg: cannot decode image");
  EXPECT_ERROR_CONTAINS(load_image(dir + "/text.jpg", 2), "2 channels");
}

TEST(Image, ClassColourFollowsDarknetRamp) {
  float rgb[3];
  class_colour(0, 80, rgb);  // offset 0: first ramp colour (1,0,1)
  EXPECT_FLOAT_EQ(rgb[0], 1.0f);
  EXPECT_FLOAT_EQ(rgb[1], 0.0f);
  EXPECT_FLOAT_EQ(rgb[2], 1.0f);
  // offset 123457 % 2 = 1, ratio 2.5: half way between ramp entries (0,1,1) and (0,1,0), whose
  // channel 2 is red and channel 0 blue.
  class_colour(1, 2, rgb);
  EXPECT_FLOAT_EQ(rgb[0], 0.5f);
  EXPECT_FLOAT_EQ(rgb[1], 1.0f);
  EXPECT_FLOAT_EQ(rgb[2], 0.0f);
}

TEST(Image, DrawLabelledBoxesColoursTheEdges) {
  for (bool plain : {true, false}) {
    Image im(200, 120, 3, 0.5f);
    LabelledBox b;
    b.left = 40, b.top = 50, b.right = 150, b.bottom = 100;
    b.label = "dog 97%";
    b.rgb[0] = 1, b.rgb[1] = 0, b.rgb[2] = 0;
    if (plain) detail::draw_labelled_boxes_plain(im, {b});
    else draw_labelled_boxes(im, {b});
    // Tolerance 1/255: the OpenCV path goes through 8 bits.
    EXPECT_NEAR(im.at(90, 100, 0), 1.0f, 1.0f / 255) << (plain ? "plain" : "default");
    EXPECT_NEAR(im.at(90, 100, 1), 0.0f, 1.0f / 255);
    EXPECT_NEAR(im.at(40, 75, 0), 1.0f, 1.0f / 255);
    EXPECT_NEAR(im.at(90, 75, 1), 0.5f, 1.0f / 255);  // inside untouched
    EXPECT_NEAR(im.at(10, 10, 1), 0.5f, 1.0f / 255);  // far outside untouched
    // The label bar sits above the box, with some dark text pixels in it.
    int dark = 0;
    for (int y = 30; y < 50; ++y)
      for (int x = 40; x < 100; ++x) dark += im.at(x, y, 0) < 0.3f;
    EXPECT_GT(dark, 5) << (plain ? "plain" : "default");
  }
}

TEST(Npy, RoundTripAndHeaderLayout) {
  std::mt19937_64 rng(test::test_seed());
  std::string dir = test::scratch_dir("npy");
  std::vector<float> v(2 * 3 * 4 * 5);
  std::uniform_real_distribution<float> u(-10, 10);
  for (float& x : v) x = u(rng);
  save_npy(dir + "/a.npy", v.data(), {2, 3, 4, 5});
  NpyArray a = load_npy(dir + "/a.npy");
  EXPECT_EQ(a.shape, (std::vector<size_t>{2, 3, 4, 5}));
  EXPECT_EQ(a.data, v);

  std::ifstream f(dir + "/a.npy", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 0);
  size_t header_len = size_t((unsigned char)bytes[8]) | (size_t((unsigned char)bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);  // data aligned as numpy writes it
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  EXPECT_NE(bytes.find("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4, 5), }"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + header_len + v.size() * 4);

  save_npy(dir + "/b.npy", v.data(), {7});
  EXPECT_EQ(load_npy(dir + "/b.npy").shape, (std::vector<size_t>{7}));
}

TEST(Npy, ReaderRejectsOtherFiles) {
  std::string dir = test::scratch_dir("npy_bad");
  std::ofstream(dir + "/x.npy") << "not numpy";
  EXPECT_ERROR_CONTAINS(load_npy(dir + "/x.npy"), "x.npy: not a .npy file");
  EXPECT_ERROR_CONTAINS(load_npy(dir + "/none.npy"), "none.npy: cannot open");
  float v[4] = {1, 2, 3, 4};
  save_npy(dir + "/t.npy", v, {2, 2});
  std::string bytes;
  {
    std::ifstream f(dir + "/t.npy", std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  std::ofstream(dir + "/short.npy", std::ios::binary) << bytes.substr(0, bytes.size() - 3);
  EXPECT_ERROR_CONTAINS(load_npy(dir + "/short.npy"), "short.npy: .npy data truncated");
  std::string f64 = bytes;
  f64.replace(f64.find("<f4"), 3, "<f8");
  std::ofstream(dir + "/f64.npy", std::ios::binary) << f64;
  EXPECT_ERROR_CONTAINS(load_npy(dir + "/f64.npy"), "is not little-endian float32");
}

}  // namespace
}  // namespace mishnet
