// Where each inference output lives relative to the others, so that [route] copies nothing.
// With batch 1 a range of channels is one contiguous run in NCHW and, for whole 16-channel
// blocks, in nChw16c (the only ranges a blocked route takes): so a split route's output can be
// a view into its input, and the inputs of a concatenating route can be written by their own
// layers straight into their places in its output. yolov4-tiny's routes copied about 2 ms of a
// 32 ms forward pass. A pure function of the graph; the arena then gives each storage root one
// block for the lifetime of all the outputs inside it.
#pragma once
#include <cstddef>
#include <vector>

#include "mishnet/layer.h"

namespace mishnet {

struct ViewNode {
  std::vector<ChannelSource> sources;  // Layer::channel_sources(); empty for other layers
  int channels = 0;                    // of its output
  size_t spatial = 0;                  // h * w of its output
  bool kept = false;                   // read outside the network: never moved into another
};

struct OutputPlace {
  int root = 0;       // the output whose storage holds this one (itself when not a view)
  size_t offset = 0;  // floats from the start of the root's storage
};

// Batch 1 only (the caller passes the identity otherwise). A route with one source is a view
// of it (a split, or a plain copy). A route with several sources takes in each source that is
// a whole layer output (not the network input, not kept, not a view or already placed in
// another route, named once); the others it still copies. Roots are outputs that are not
// placed in another; every chain of placements is resolved to its root.
std::vector<OutputPlace> plan_output_views(const std::vector<ViewNode>& nodes);

}  // namespace mishnet
