// Whole-network parity with OpenCV DNN (cv::dnn::readNetFromDarknet, CPU backend): the same cfg
// and .weights run through mishnet and through an independent implementation, and the outputs
// of chosen layers are compared (verification ladder rung 3, /work/shared/ARCHITECTURE.md).
#pragma once
#if MISHNET_HAVE_OPENCV
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/dnn.hpp>

#include "mishnet/network.h"
#include "mishnet/shape.h"

namespace mishnet::test {

// Relative tolerance: a compared layer passes when max|mishnet - opencv| <= kParityTolerance *
// max(1, max|opencv|). Both sides compute in float32 but sum in different orders (oneDNN and
// OpenCV block their GEMMs differently; mishnet folds batch norm into the weights, OpenCV may
// fuse it or not), so each convolution differs by a few ulps of its partial sums, and these
// differences compound over 100+ layers. Measured: max|diff| / max(1, max|ref|) between 1e-7
// (small cfgs) and 5e-6 (yolov3-spp, yolov4, darknet53) on the networks of
// test_opencv_parity.cpp. 1e-3 leaves two orders of magnitude for other machines and deeper
// nets, and still catches real errors: a wrong pad, group, activation or parameter order gives
// differences of order 1e-1..1 relative (HarnessCatchesAWrongActivation).
constexpr double kParityTolerance = 1e-3;

struct ParityCase {
  std::string cfg;       // path of the Darknet cfg (read in place, never modified)
  int width = 0;         // > 0 overrides [net] width (both sides)
  int height = 0;        // > 0 overrides [net] height (both sides)
  bool lenient = false;  // NetworkOptions.lenient (cfgs with duplicate [net] keys)
  // Compare every layer instead of only the layers that feed detection layers (and the last).
  bool compare_all = false;
  std::string scratch;  // directory for the weights and the cfg copy OpenCV reads
  // When set, OpenCV reads this cfg instead of `cfg` (to test that the harness catches a
  // difference).
  std::string opencv_cfg;
  uint64_t seed = 1;    // weights and input
};

struct LayerDiff {
  int layer = 0;
  std::string mishnet_type;
  std::string opencv_name;
  Shape shape;
  size_t opencv_count = 0;  // elements OpenCV returned (must equal shape.per_image())
  double max_abs_diff = 0, mean_abs_diff = 0, max_abs_ref = 0;
  double tolerance() const;
  bool ok() const;
  std::string describe() const;
};

struct ParityResult {
  Shape input;
  std::vector<LayerDiff> compared;
  // When a compared layer failed: every layer compared, so the first divergence can be named.
  std::vector<LayerDiff> all_layers;
  double bflops = 0;
  bool ok() const;
  // The first layer (in order) that is out of tolerance, or null.
  const LayerDiff* first_failure() const;
};

// Layers whose outputs are compared by default: every layer that feeds a detection layer
// ([yolo]: OpenCV decodes boxes there, in a format of its own), plus the last layer and, when
// the network ends in a [softmax] (which squashes differences; [cost]/[dropout] may follow it),
// the layer feeding the [softmax].
std::vector<int> default_parity_layers(const Network& net);

// For each Darknet section index 0..n-1, the name of the OpenCV layer holding that section's
// output (after its activation), or "" when OpenCV made none. OpenCV 4.6 names a section's
// layers "<kind>_<index>" (conv_3, bn_3, pool_4, concat_5, slice_6, shortcut_7, upsample_8,
// identity_9, yolo_10, ...) but names the activation layer it appends after the index was
// incremented: the leaky activation of section 0 is "leaky_1". Both are resolved here.
std::vector<std::string> opencv_section_output_names(const cv::dnn::Net& net, int sections);

// Copies a cfg to dst with [net] width/height replaced (or added) when > 0; OpenCV reads the
// input geometry from the cfg itself.
void write_cfg_with_size(const std::string& src, const std::string& dst, int width, int height);

// Builds both networks from the same cfg and freshly initialised weights (batch-norm statistics
// randomised too, so folding is exercised), runs one random input in [0,1], and compares.
ParityResult run_opencv_parity(const ParityCase& c);

}  // namespace mishnet::test
#endif  // MISHNET_HAVE_OPENCV
