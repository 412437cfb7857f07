// Multi-scale training, Darknet's `random=` of the last [yolo] layer: every `period` (10)
// iterations the network is trained at another input size, from coefficient^-1 to coefficient
// times the cfg's size in multiples of [net] resize_step (416 with random=1: 320 ... 608).
//
// Darknet draws the size from the process's rand() and uses the largest size while avg_loss is
// unset (the first 10 iterations of every process) and in the last 100 iterations. Here the size
// of iteration i is a function of (seed, i / period) alone, so that the data loader (which builds
// batches ahead on its threads) and the trainer agree, and a resumed run trains at exactly the
// sizes an uninterrupted one would: the largest size in the first period and the last 100
// iterations of the run, a seeded draw otherwise.
#pragma once
#include <cstdint>

#include "mishnet/cfg.h"
#include "mishnet/network.h"

namespace mishnet {

struct InputSize {
  int width = 0, height = 0;
  bool operator==(const InputSize& o) const { return width == o.width && height == o.height; }
  bool operator!=(const InputSize& o) const { return !(*this == o); }
};

struct MultiScale {
  InputSize base;              // the cfg's [net] width and height
  float coefficient = 0.0f;    // 0: off; random=1 means 1.4, random=x (x != 1) means x
  int resize_step = 32;        // [net] resize_step
  int period = 10;             // iterations per size
  int64_t max_batches = 0;     // the last 100 iterations train at the largest size

  bool enabled() const { return coefficient > 0.0f; }
  // The size of iteration `iteration` (0-based: batches done before it) of the run `seed`.
  // base when disabled.
  InputSize size_at(uint64_t seed, int64_t iteration) const;
  // The largest size it draws (Darknet's max_dim_w/h); base when disabled.
  InputSize largest() const;
  InputSize smallest() const;

  // From the last [yolo] layer's `random` and [net] resize_step of `net` (off without random).
  // Throws, naming the cfg, when resize_step is not positive or random is below 1. A network
  // that cannot change its input size fails at its first resize (resize_training_network).
  static MultiScale from_network(const Network& net, int64_t max_batches);
};

// Rebuilds the training network `net` from `cfg` at `size` (options.width/height replaced),
// carrying over the parameters (rolling statistics included) and `seen`; the result is in
// training mode. Optimizer state is indexed by parameter, so it stays valid. Throws, naming
// the cfg and the size, when the parameter count changes with the input size.
void resize_training_network(Network& net, const Cfg& cfg, NetworkOptions options, InputSize size);

}  // namespace mishnet
