// The evaluation commands end to end on a tiny detector whose output is known:
// detector map, detector valid -> dataset yolo2coco -> detector eval, calc_anchors -cfg.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "mishnet/image.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

CliRun mishnet(const std::string& args, const std::string& dir) {
  std::string err_file = dir + "/stderr.txt";
  std::string cmd = std::string(MISHNET_BINARY_DIR) + "/mishnet " + args + " 2> " + err_file + " < /dev/null";
  CliRun r;
  r.exit_code = ::mishnet::test::run_shell(cmd, r.out);
  r.err = ::mishnet::test::read_file_bytes(err_file);
  return r;
}

// One grid cell, one anchor of half the input: every image gets the box (0.5, 0.5, 0.5, 0.5)
// with cat = sigmoid(4)^2 = 0.965 and dog = sigmoid(4) * sigmoid(-4) = 0.0177.
const char* kCfg = R"([net]
width=32
height=32
channels=3

[convolutional]
filters=7
size=32
stride=1
pad=0
activation=linear

[yolo]
mask=0
anchors=16,16
classes=2
num=1
)";

// Image a (64x48) holds a cat where the box is, image b (20x40) a dog there. So:
//   cat: a (0.965, TP), b (0.965, FP) -> AP 1;  dog: a (0.0177, FP), b (0.0177, TP) -> AP 0.5
// (equal scores keep list order), mAP 0.75 with Darknet's rules and with COCO's at every IoU.
std::string make_dataset(const std::string& name) {
  std::string dir = test::scratch_dir(name);
  std::ofstream(dir + "/det.cfg") << kCfg;
  Network net = Network::from_cfg_file(dir + "/det.cfg");
  init_weights(net, 1);
  float* w = net.layer(0).param("weights");
  std::fill(w, w + net.layer(0).find_param("weights")->count, 0.0f);
  const float biases[7] = {0, 0, 0, 0, 4, 4, -4};
  std::copy(biases, biases + 7, net.layer(0).param("biases"));
  save_weights(net, dir + "/det.weights");
  std::filesystem::create_directories(dir + "/images");
  std::filesystem::create_directories(dir + "/labels");
  save_image(Image(64, 48, 3, 0.3f), dir + "/images/a.png");
  save_image(Image(20, 40, 3, 0.6f), dir + "/images/b.png");
  std::ofstream(dir + "/labels/a.txt") << "0 0.5 0.5 0.5 0.5\n";
  std::ofstream(dir + "/labels/b.txt") << "1 0.5 0.5 0.5 0.5\n";
  std::ofstream(dir + "/valid.txt") << dir + "/images/a.png\n" + dir + "/images/b.png\n";
  std::ofstream(dir + "/det.names") << "cat\ndog\n";
  std::ofstream(dir + "/det.data") << "classes=2\ntrain=" + dir + "/valid.txt\nvalid=" + dir +
                                          "/valid.txt\nnames=" + dir + "/det.names\n";
  return dir;
}

TEST(EvalCli, DetectorMapPrintsDarknetAndCocoFigures) {
  std::string dir = make_dataset("eval_cli_map");
  CliRun r = mishnet("detector map " + dir + "/det.data " + dir + "/det.cfg " + dir + "/det.weights", dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("class_id = 0, name = cat, ap = 100.00%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("class_id = 1, name = dog, ap = 50.00%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TP = 1, FP = 1, FN = 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" mean average precision (mAP@0.50) = 0.750000, or 75.00 %"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.750"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000"),
            std::string::npos)
      << r.out;
  CliRun j = mishnet("detector map " + dir + "/det.data " + dir + "/det.cfg " + dir + "/det.weights -points 11 -json", dir);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_NE(j.out.find("\"map\": 0.75,"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"points\": 11"), std::string::npos) << j.out;
}

TEST(EvalCli, DetectorMapReportsBadLabelsAndUnreadableImagesAndGoesOn) {
  std::string dir = make_dataset("eval_cli_map_problems");
  std::ofstream(dir + "/labels/a.txt", std::ios::app) << "5 0.5 0.5 0.1 0.1\n";  // class out of range
  std::ofstream(dir + "/valid.txt", std::ios::app) << dir + "/images/gone.png\n";
  CliRun r = mishnet("detector map " + dir + "/det.data " + dir + "/det.cfg " + dir + "/det.weights", dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("labels/a.txt:2: class id 5 is outside 0..1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gone.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 images could not be loaded and were skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(" mean average precision (mAP@0.50) = 0.750000"), std::string::npos) << r.out;
}

TEST(EvalCli, ValidThenYolo2CocoThenEvalAgree) {
  std::string dir = make_dataset("eval_cli_valid");
  CliRun v = mishnet("detector valid " + dir + "/det.data " + dir + "/det.cfg " + dir + "/det.weights -out " + dir +
                      "/results.json",
                  dir);
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
  std::string results = ::mishnet::test::read_file_bytes(dir + "/results.json");
  // Image ids are list positions (the stems are not numbers); category ids class + 1; pixels.
  EXPECT_NE(results.find("{\"bbox\":[16.0,12.0,32.0,24.0],\"category_id\":1,\"image_id\":0,\"score\":0.96"),
            std::string::npos)
      << results;
  CliRun g = mishnet("dataset yolo2coco " + dir + "/det.data " + dir + "/det.names " + dir + "/gt.json", dir);
  ASSERT_EQ(g.exit_code, 0) << g.out << g.err;
  CliRun e = mishnet("detector eval --gt " + dir + "/gt.json --results " + dir + "/results.json", dir);
  ASSERT_EQ(e.exit_code, 0) << e.out << e.err;
  EXPECT_NE(e.out.find(" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.750"),
            std::string::npos)
      << e.out;
  CliRun ej = mishnet("detector eval --gt " + dir + "/gt.json --results " + dir + "/results.json -json", dir);
  EXPECT_EQ(ej.out.rfind("{\"AP\": 0.75, \"AP50\": 0.75,", 0), 0u) << ej.out;
  // A broken file: one line naming it and the byte.
  std::ofstream(dir + "/bad.json") << "[{\"image_id\": 0,}]";
  CliRun b = mishnet("detector eval --gt " + dir + "/gt.json --results " + dir + "/bad.json", dir);
  EXPECT_GT(b.exit_code, 0);
  EXPECT_NE(b.err.find(dir + "/bad.json: byte 17: invalid JSON"), std::string::npos) << b.err;
}

TEST(EvalCli, CalcAnchorsPrintsAndRewritesCfg) {
  std::string dir = make_dataset("eval_cli_anchors");
  CliRun r = mishnet("detector calc_anchors " + dir + "/det.data -num_of_clusters 1 -width 100 -height 60 -cfg " + dir +
                      "/det.cfg",
                  dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("anchors = 50,30\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("avg IoU = 100.00 %"), std::string::npos) << r.out;
  EXPECT_NE(::mishnet::test::read_file_bytes(dir + "/det.cfg").find("\nanchors = 50,30\n"), std::string::npos);
  CliRun bad = mishnet("detector calc_anchors " + dir + "/det.data -num_of_clusters 2 -width 100 -height 60 -cfg " + dir +
                        "/det.cfg",
                    dir);
  EXPECT_GT(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("det.cfg:17: num=1 but 2 anchors"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace mishnet
