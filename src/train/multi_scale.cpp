#include "mishnet/multi_scale.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "layers/yolo.h"
#include "mishnet/error.h"
#include "mishnet/trainer.h"

namespace mishnet {

namespace {

// A stream of the run's seed apart from the trainer's per-iteration generators and the loaders'.
constexpr uint64_t kMultiScaleStream = ~uint64_t(0) - 21;

// Darknet's rounding: round(scale * base / step + 1) * step, at least one step. (The "+ 1"
// is Darknet's: a draw of 1.0 gives base + step.)
int scaled_dimension(double scale, int base, int step) {
  const long n = std::lround(scale * double(base) / double(step) + 1.0);
  return std::max(step, int(n) * step);
}

}  // namespace

InputSize MultiScale::largest() const {
  if (!enabled()) return base;
  return {scaled_dimension(coefficient, base.width, resize_step),
          scaled_dimension(coefficient, base.height, resize_step)};
}

InputSize MultiScale::smallest() const {
  if (!enabled()) return base;
  return {std::min(base.width, scaled_dimension(1.0 / coefficient, base.width, resize_step)),
          std::min(base.height, scaled_dimension(1.0 / coefficient, base.height, resize_step))};
}

InputSize MultiScale::size_at(uint64_t seed, int64_t iteration) const {
  if (!enabled()) return base;
  const int64_t block = iteration / period;
  // The first period and the last 100 iterations: the largest size (Darknet checks that the
  // memory suffices at the start, and settles the rolling statistics at the end).
  if (block == 0 || (max_batches > 0 && iteration >= max_batches - 100)) return largest();
  std::mt19937_64 rng(derive_seed(derive_seed(seed, kMultiScaleStream), uint64_t(block)));
  // Darknet's rand_scale: uniform in [1, coefficient], then the scale or its inverse.
  double scale = std::uniform_real_distribution<double>(1.0, std::max(1.0f, coefficient))(rng);
  if (rng() & 1) scale = 1.0 / scale;
  InputSize s{scaled_dimension(scale, base.width, resize_step),
              scaled_dimension(scale, base.height, resize_step)};
  // A shrinking draw never trains above the cfg's size (Darknet's rule).
  if (scale < 1.0 && (s.width > base.width || s.height > base.height)) s = base;
  return s;
}

MultiScale MultiScale::from_network(const Network& net, int64_t max_batches) {
  MultiScale m;
  const NetConfig& c = net.config();
  m.base = {c.width, c.height};
  m.resize_step = c.resize_step;
  m.max_batches = max_batches;
  const YoloLayer* last = nullptr;
  for (int i = 0; i < net.num_layers(); ++i)
    if (auto* y = dynamic_cast<const YoloLayer*>(&net.layer(i))) last = y;
  if (!last || last->options().random <= 0.0f) return m;
  if (c.resize_step <= 0)
    fail(net.cfg_path(), ": [net] resize_step=", c.resize_step, " must be positive for random=",
         last->options().random);
  m.coefficient = last->options().random == 1.0f ? 1.4f : last->options().random;
  if (m.coefficient < 1.0f)
    fail(net.cfg_path(), ": [yolo] random=", last->options().random,
         " would shrink and grow by less than 1; use 0 (off), 1 (Darknet's 1.4) or a factor above 1");
  return m;
}

void resize_training_network(Network& net, const Cfg& cfg, NetworkOptions options, InputSize size) {
  options.width = size.width;
  options.height = size.height;
  options.batch = net.batch();
  Network resized = Network::from_cfg(cfg, options);
  if (resized.num_params() != net.num_params())
    fail(cfg.path, ": multi-scale training (random=) cannot train at ", size.width, 'x', size.height,
         ": the network has ", resized.num_params(), " parameters at that size and ", net.num_params(),
         " at ", net.config().width, 'x', net.config().height,
         " (a layer such as [connected] depends on the input size); set random=0");
  std::copy(net.param_data(), net.param_data() + net.num_params(), resized.param_data());
  resized.seen = net.seen;
  resized.set_training(true);
  net = std::move(resized);
}

}  // namespace mishnet
