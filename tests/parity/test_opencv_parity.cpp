// Whole networks against OpenCV DNN (an independent Darknet implementation): same cfg, same
// weights, same input; the layers feeding [yolo] (and the final output of classifiers) must
// agree within kParityTolerance (its reasoning is in parity_util.h). Input sizes are reduced to
// keep the suite fast on 2 cores; the geometry is exercised all the same.
#if MISHNET_HAVE_OPENCV
#include <opencv2/core.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "mishnet/error.h"
#include "parity/parity_util.h"
#include "test_util.h"

namespace mishnet::test {
namespace {

// Our own cfgs are small: every layer is compared.
ParityCase own_case(const std::string& name) {
  ParityCase c;
  c.cfg = std::string(MISHNET_SOURCE_DIR) + "/tests/parity/cfg/" + name;
  c.compare_all = true;
  return c;
}

ParityCase shared_case(const std::string& name, int size, bool lenient = false) {
  ParityCase c;
  c.cfg = shared_cfg(name);
  c.width = c.height = size;
  c.lenient = lenient;
  return c;
}

void expect_parity(ParityCase c, const std::string& label) {
  c.scratch = scratch_dir("parity-" + label);
  c.seed = test_seed();
  auto t0 = std::chrono::steady_clock::now();
  ParityResult r;
  try {
    r = run_opencv_parity(c);
  } catch (const Error& e) {
    FAIL() << label << ": mishnet: " << e.what();
  } catch (const cv::Exception& e) {
    FAIL() << label << ": OpenCV: " << e.what();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ parity   ] %s (input %dx%dx%d, %.3f BFLOPs, %.1f s both sides)\n",
              label.c_str(), r.input.w, r.input.h, r.input.c, r.bflops, seconds);
  for (const LayerDiff& d : r.compared) std::printf("[ parity   ]   %s\n", d.describe().c_str());
  EXPECT_TRUE(r.ok()) << label << ": outputs differ from OpenCV beyond the tolerance";
  if (const LayerDiff* first = r.first_failure())
    ADD_FAILURE() << label << ": first layer out of tolerance: " << first->describe();
}

// Our own cfgs: every activation and layer option OpenCV imports (see tests/parity/README.md
// for what OpenCV lacks and is therefore left out). Every layer is compared.
TEST(OpenCvParity, ConvActivations) {
  expect_parity(own_case("conv_activations.cfg"), "conv_activations");
}

TEST(OpenCvParity, DetectorLayers) {
  expect_parity(own_case("detector_layers.cfg"), "detector_layers");
}

TEST(OpenCvParity, ClassifierLayers) {
  expect_parity(own_case("classifier_layers.cfg"), "classifier_layers");
}

TEST(OpenCvParity, ConnectedFromFeatureMap) {
  expect_parity(own_case("connected_from_feature_map.cfg"), "connected_from_feature_map");
}

// The harness itself: OpenCV given a cfg whose layer 3 has another activation must fail there.
TEST(OpenCvParity, HarnessCatchesAWrongActivation) {
  ParityCase c = own_case("conv_activations.cfg");
  c.scratch = scratch_dir("parity-harness");
  c.seed = test_seed();
  std::ifstream in(c.cfg);
  std::stringstream text;
  text << in.rdbuf();
  std::string cfg = text.str();
  const std::string tanh = "activation=tanh";
  size_t at = cfg.find(tanh);
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, tanh.size(), "activation=logistic");
  c.opencv_cfg = c.scratch + "/altered.cfg";
  std::ofstream(c.opencv_cfg) << cfg;
  ParityResult r = run_opencv_parity(c);
  EXPECT_FALSE(r.ok());
  const LayerDiff* first = r.first_failure();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->layer, 3) << first->describe();
}

// The public networks, read in place from ../shared/darknet-cfg.
TEST(OpenCvParity, Yolov4Tiny) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  expect_parity(shared_case("yolov4-tiny.cfg", 416), "yolov4-tiny");
}

TEST(OpenCvParity, Yolov4) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4.cfg");
  expect_parity(shared_case("yolov4.cfg", 256), "yolov4");
}

TEST(OpenCvParity, Yolov4Csp) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-csp.cfg");
  expect_parity(shared_case("yolov4-csp.cfg", 256), "yolov4-csp");
}

TEST(OpenCvParity, Yolov3Spp) {
  MISHNET_REQUIRE_SHARED_CFG("yolov3-spp.cfg");
  expect_parity(shared_case("yolov3-spp.cfg", 224), "yolov3-spp");
}

TEST(OpenCvParity, CsDarknet53Omega) {
  MISHNET_REQUIRE_SHARED_CFG("csdarknet53-omega.cfg");
  expect_parity(shared_case("csdarknet53-omega.cfg", 224), "csdarknet53-omega");
}

TEST(OpenCvParity, Darknet53) {
  MISHNET_REQUIRE_SHARED_CFG("darknet53.cfg");
  expect_parity(shared_case("darknet53.cfg", 192), "darknet53");
}

TEST(OpenCvParity, Densenet201) {
  MISHNET_REQUIRE_SHARED_CFG("densenet201.cfg");
  expect_parity(shared_case("densenet201.cfg", 192), "densenet201");
}

// efficientnet_b0.cfg repeats momentum= and decay= in [net]: loaded with lenient = true, which
// keeps the first value (the repeated keys are training options, equal anyway). OpenCV keeps
// the last; neither affects inference.
TEST(OpenCvParity, EfficientNetB0) {
  MISHNET_REQUIRE_SHARED_CFG("efficientnet_b0.cfg");
  expect_parity(shared_case("efficientnet_b0.cfg", 224, /*lenient=*/true), "efficientnet_b0");
}

}  // namespace
}  // namespace mishnet::test
#endif  // MISHNET_HAVE_OPENCV
