// `mishnet summary` totals against the "Total BFLOPS" Darknet (AlexeyAB) prints for the same cfg
// and input size. Darknet counts 2*nweights*out_h*out_w per [convolutional] (nweights =
// filters * channels/groups * size^2), size^2*c*out_h*out_w per [maxpool], and
// out_w*out_h*out_c*(number of `from` layers) per [shortcut]; every other layer counts 0.
// On yolov4 at 608 the convolutions alone give 128.389, maxpool adds 0.051 and shortcut 0.018.
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet::test {
namespace {

// Darknet prints three decimals (two for some); the summary must agree to 0.01.
constexpr double kBflopsTolerance = 0.01;

double bflops_of(const std::string& cfg, int size) {
  NetworkOptions o;
  o.batch = 1;
  o.width = size;
  o.height = size;
  return Network::from_cfg_file(shared_cfg(cfg), o).bflops();
}

TEST(DarknetBflops, Yolov4At608) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4.cfg");
  EXPECT_NEAR(bflops_of("yolov4.cfg", 608), 128.459, kBflopsTolerance);
}

TEST(DarknetBflops, Yolov4At416) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4.cfg");
  EXPECT_NEAR(bflops_of("yolov4.cfg", 416), 60.14, kBflopsTolerance);
}

TEST(DarknetBflops, Yolov4TinyAt416) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  EXPECT_NEAR(bflops_of("yolov4-tiny.cfg", 416), 6.91, kBflopsTolerance);
}

TEST(DarknetBflops, CsDarknet53OmegaAt256) {
  MISHNET_REQUIRE_SHARED_CFG("csdarknet53-omega.cfg");
  EXPECT_NEAR(bflops_of("csdarknet53-omega.cfg", 256), 13.07, kBflopsTolerance);
}

}  // namespace
}  // namespace mishnet::test
