#include <cmath>

#include "mishnet/error.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"

namespace mishnet {

Optimizer::Optimizer(const Network& net) {
  const NetConfig& c = net.config();
  adam_ = c.adam;
  momentum_ = c.momentum;
  decay_ = c.decay;
  b1_ = c.adam_b1;
  b2_ = c.adam_b2;
  eps_ = c.adam_eps;
  velocity.assign(net.num_params(), 0.0f);
  if (adam_) second.assign(net.num_params(), 0.0f);
}

void Optimizer::step(Network& net, float lr, int batch_images) {
  if (velocity.size() != net.num_params()) fail("optimizer state does not match the network");
  if (!net.training()) fail("Optimizer::step needs a network in training mode");
  const float inv_batch = 1.0f / float(batch_images);
  ++steps_done;
  // Adam's bias corrections for this step.
  const float c1 = adam_ ? 1.0f - std::pow(b1_, float(steps_done)) : 1.0f;
  const float c2 = adam_ ? 1.0f - std::pow(b2_, float(steps_done)) : 1.0f;
  const float* base = net.param_data();
  for (int li = 0; li < net.num_layers(); ++li) {
    Layer& l = net.layer(li);
    if (l.dont_update) continue;
    const float layer_lr = lr * l.learning_rate_scale;
    for (Param& p : l.params) {
      if (!p.trainable || !p.grad) continue;
      if (l.train_only_bn && !(p.is_bn_scale || p.name == "biases")) continue;
      const bool decays = p.name == "weights";
      float* v = velocity.data() + (p.data - base);
      float* w = p.data;
      const float* g = p.grad;
      const long n = long(p.count);
      if (!adam_) {
        // Darknet: updates += -decay*batch*w; w += lr/batch*updates; updates *= momentum,
        // with updates holding the negative gradient sum. Same arithmetic, gradient sign.
        const float wd = decays ? decay_ * float(batch_images) : 0.0f;
        const float step = layer_lr * inv_batch;
#pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; ++i) {
          float vi = v[i] + g[i] + wd * w[i];
          w[i] -= step * vi;
          v[i] = momentum_ * vi;
        }
      } else {
        float* s = second.data() + (p.data - base);
        const float wd = decays ? decay_ : 0.0f;
#pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; ++i) {
          float gi = g[i] * inv_batch + wd * w[i];
          v[i] = b1_ * v[i] + (1.0f - b1_) * gi;
          s[i] = b2_ * s[i] + (1.0f - b2_) * gi * gi;
          w[i] -= layer_lr * (v[i] / c1) / (std::sqrt(s[i] / c2) + eps_);
        }
      }
    }
  }
  net.parameters_changed();
}

}  // namespace mishnet
