#include <cmath>

#include "mishnet/optimizer.h"

namespace mishnet {

float learning_rate_at(const NetConfig& c, int64_t batch_num, float random_draw) {
  const double lr = c.learning_rate;
  const double b = double(batch_num);
  if (batch_num < c.burn_in) return float(lr * std::pow(b / c.burn_in, c.power));
  switch (c.policy) {
    case LearningRatePolicy::constant: return float(lr);
    case LearningRatePolicy::step: return float(lr * std::pow(c.scale, double(batch_num / c.step)));
    case LearningRatePolicy::steps: {
      double rate = lr;
      for (size_t i = 0; i < c.steps.size(); ++i) {
        if (c.steps[i] > batch_num) return float(rate);
        rate *= c.scales[i];
      }
      return float(rate);
    }
    case LearningRatePolicy::exp: return float(lr * std::pow(c.gamma, b));
    case LearningRatePolicy::poly:
      if (c.max_batches <= 0) return float(lr);
      return float(lr * std::pow(std::max(0.0, 1.0 - b / c.max_batches), c.power));
    case LearningRatePolicy::random: return float(lr * std::pow(double(random_draw), c.power));
    case LearningRatePolicy::sigmoid:
      return float(lr * (1.0 / (1.0 + std::exp(c.gamma * (b - c.step)))));
    case LearningRatePolicy::sgdr: {
      // Cosine annealing with warm restarts; each cycle sgdr_mult times longer than the last.
      double start = 0, cycle = c.sgdr_cycle > 0 ? c.sgdr_cycle : std::max(1, c.max_batches);
      while (start + cycle < b) {
        start += cycle;
        cycle *= c.sgdr_mult;
      }
      const double lr_min = 0.0;
      return float(lr_min + 0.5 * (lr - lr_min) * (1.0 + std::cos((b - start) * M_PI / cycle)));
    }
  }
  return float(lr);
}

}  // namespace mishnet
