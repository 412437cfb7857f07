// Decoded [yolo] and [region] detections against OpenCV DNN's (an independent Darknet importer): same cfg,
// weights and input. OpenCV's [yolo] output is one row per cell and anchor, in Darknet's order
// (cells row by row, anchors within a cell): x, y, w, h relative to the network input, then
// objectness, then objectness*class with scores <= 0.2 zeroed.
#if MISHNET_HAVE_OPENCV
#include <opencv2/dnn.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mishnet/detection.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

// head: "yolo" or "region" (YOLOv2: softmax classes, anchors in grid cells).
void expect_same_detections(const std::string& label, float scale_x_y, bool new_coords,
                            const std::string& head = "yolo") {
  const int width = 32, height = 24, classes = 3;
  const bool region = head == "region";
  const int anchors = region ? 3 : 2;
  std::string dir = test::scratch_dir("yolo-opencv-" + label);
  std::string cfg_path = dir + "/y.cfg", weights_path = dir + "/y.weights";
  {
    std::ofstream f(cfg_path);
    f << "[net]\nwidth=" << width << "\nheight=" << height << "\nchannels=3\n\n"
      << "[convolutional]\nfilters=" << (classes + 5) * anchors << "\nsize=3\nstride=4\npad=1\n"
      << "activation=" << (new_coords ? "logistic" : "linear") << "\n\n";
    if (region)
      f << "[region]\nanchors=1,1.5, 2,3, 0.5,0.7\nbias_match=1\nclasses=" << classes
        << "\ncoords=4\nnum=3\nsoftmax=1\n";
    else
      f << "[yolo]\nmask=2,0\nanchors=4,6, 10,8, 20,18\nclasses=" << classes << "\nnum=3\n"
        << "scale_x_y=" << scale_x_y << "\nnew_coords=" << (new_coords ? 1 : 0) << "\n";
  }
  Network net = Network::from_cfg_file(cfg_path);
  init_weights(net, test::test_seed());
  // Spread the biases so objectness and scores cover (0, 1) rather than sit near 0.5.
  std::mt19937_64 rng(test::test_seed() + 3);
  std::normal_distribution<float> n01(0.0f, 1.5f);
  float* bias = net.layer(0).param("biases");
  for (int i = 0; i < (classes + 5) * anchors; ++i) bias[i] = n01(rng);
  net.parameters_changed();
  save_weights(net, weights_path);

  std::vector<float> input(size_t(3 * width * height));
  for (float& v : input) v = n01(rng);
  net.forward(input.data());
  std::vector<Detection> ours = get_detections(net, width, height, 0.0f, false);

  cv::dnn::Net cv_net = cv::dnn::readNetFromDarknet(cfg_path, weights_path);
  int dims[] = {1, 3, height, width};
  cv::Mat blob(4, dims, CV_32F, input.data());
  cv_net.setInput(blob);
  cv::Mat theirs = cv_net.forward(cv_net.getUnconnectedOutLayersNames().front());
  ASSERT_EQ(theirs.cols, 5 + classes) << label;
  ASSERT_EQ(size_t(theirs.rows), ours.size()) << label;

  // OpenCV suppresses [region] boxes itself, Darknet's way (greedy, 0.4), without reordering
  // rows, and zeroes scores below ~1e-3: our nms_sort's results, mapped back to the rows.
  std::vector<std::vector<float>> suppressed;
  if (region) {
    std::vector<Detection> sorted = ours;
    nms_sort(sorted, 0.4f, NmsKind::greedy);
    for (const Detection& d : ours)
      for (const Detection& s : sorted)
        if (s.box.x == d.box.x && s.box.y == d.box.y && s.box.w == d.box.w && s.box.h == d.box.h)
          suppressed.push_back(s.prob);
    ASSERT_EQ(suppressed.size(), ours.size());
  }

  for (int r = 0; r < theirs.rows; ++r) {
    const float* row = theirs.ptr<float>(r);
    const Detection& d = ours[size_t(r)];
    // float32 on both sides, exp/logistic from different libraries: 1e-5 relative.
    auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-5 * (1 + std::fabs(b)); };
    EXPECT_TRUE(near(d.box.x, row[0]) && near(d.box.y, row[1]) && near(d.box.w, row[2]) &&
                near(d.box.h, row[3]))
        << label << " row " << r << ": ours " << d.box.x << "," << d.box.y << "," << d.box.w
        << "," << d.box.h << " OpenCV " << row[0] << "," << row[1] << "," << row[2] << ","
        << row[3];
    // OpenCV 4.6 reports another value than the objectness in this column with new_coords;
    // Darknet gives [region] boxes objectness 1 (their scores already include it).
    if (!new_coords && !region) {
      EXPECT_TRUE(near(d.objectness, row[4])) << label << " row " << r;
    }
    for (int c = 0; c < classes; ++c) {
      float q = row[5 + c];
      if (region) {
        float p = suppressed[size_t(r)][size_t(c)];
        if (p == 0.0f || p > 1e-2f) {
          EXPECT_TRUE(near(p, q)) << label << " row " << r << " class " << c << ": " << p << " vs " << q;
        }
        continue;
      }
      float p = d.prob[size_t(c)];
      if (std::fabs(p - 0.2f) < 1e-4f) continue;  // either side of OpenCV's 0.2 cut
      if (p > 0.2f) {
        EXPECT_TRUE(near(p, q)) << label << " row " << r << " class " << c << ": " << p << " vs " << q;
      } else {
        EXPECT_EQ(q, 0.0f) << label << " row " << r << " class " << c << ": ours " << p;
      }
    }
  }
}

TEST(DetectionsOpenCv, Plain) { expect_same_detections("plain", 1.0f, false); }
TEST(DetectionsOpenCv, ScaleXY) { expect_same_detections("scale", 1.2f, false); }
TEST(DetectionsOpenCv, NewCoords) { expect_same_detections("new_coords", 2.0f, true); }
TEST(DetectionsOpenCv, Region) { expect_same_detections("region", 1.0f, false, "region"); }

}  // namespace
}  // namespace mishnet
#endif
