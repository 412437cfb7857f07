// Anchor boxes for a dataset: k-means over the boxes' sizes with the distance 1 - IoU (boxes
// compared as if they shared their centre), as Darknet's `detector calc_anchors`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mishnet {

struct AnchorSize {
  float w = 0, h = 0;
};

struct AnchorClusters {
  std::vector<AnchorSize> anchors;  // sorted by area, smallest first
  double avg_iou = 0;               // mean over the boxes of the IoU with their nearest anchor
  int iterations = 0;
};

// IoU of two sizes placed on the same centre.
float size_iou(const AnchorSize& a, const AnchorSize& b);

// k-means++ seeding (first centre drawn uniformly, each next with probability proportional to
// its squared distance), then Lloyd iterations (centre = mean width and height of its boxes; a
// cluster left empty keeps its centre) until no box changes cluster or max_iterations.
// Deterministic for a given seed. Throws when there are fewer boxes than clusters.
AnchorClusters kmeans_anchors(const std::vector<AnchorSize>& sizes, int clusters, uint64_t seed,
                              int max_iterations = 1000);

// "12,16, 19,36, ..." as Darknet writes anchors: rounded to whole pixels, or with 4 decimals
// when `decimals` (Darknet does that for a width of 32 or less: [region] grid units).
std::string format_anchors(const std::vector<AnchorSize>& anchors, bool decimals = false);

// The cfg text with every `anchors=` line of a [yolo] or [region] section replaced by
// `anchors`; each such section's `num=` must equal the number of anchors (an error naming
// cfg_name:line otherwise). Throws when the cfg has no anchors line. `changed` receives the
// line numbers rewritten.
std::string rewrite_cfg_anchors(const std::string& cfg_text, const std::string& cfg_name,
                                const std::vector<AnchorSize>& anchors, std::vector<int>* changed = nullptr);

}  // namespace mishnet
