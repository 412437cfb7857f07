// Which inference tensors stay in oneDNN's nChw16c layout between layers. Every convolution
// reorders NCHW to nChw16c (or NHWC) and back; when its producer and consumers can work on the
// blocked layout directly, those reorders go (yolov4-tiny at 416: about a tenth of the forward
// pass). A pure function of the graph, so tests can check it on any shape of network.
#pragma once
#include <vector>

#include "mishnet/layer.h"

namespace mishnet {

struct LayoutNode {
  BlockedSupport support = BlockedSupport::none;
  std::vector<int> inputs;  // layers whose outputs it reads; -1 is the network input (NCHW)
  int channels = 0;         // of its output
  bool kept = false;        // read outside the network (detections, the last layer, keep_outputs)
};

// The channel block of nChw16c.
constexpr int kBlockedChannels = 16;

// blocked[i]: layer i's output is kept in nChw16c. Starts from every output whose producer can
// write it and whose channels are a multiple of 16 (kept outputs stay NCHW), then unblocks
// until consistent: an output is blocked only if every consumer can read it, a `follows`
// consumer is itself blocked, and, for a `follows` producer, all its inputs are blocked.
std::vector<bool> plan_blocked_layouts(const std::vector<LayoutNode>& nodes);

}  // namespace mishnet
