#include <cmath>

#include "kernels/optimizer.h"
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
        // Darknet's arithmetic (kernels/optimizer.h, shared with the CUDA kernels).
        const kernels::SgdStep step{layer_lr * inv_batch, decays ? decay_ * float(batch_images) : 0.0f,
                                    momentum_};
#pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; ++i) kernels::sgd_update(step, w[i], v[i], g[i]);
      } else {
        float* s = second.data() + (p.data - base);
        const kernels::AdamStep step{layer_lr, inv_batch, decays ? decay_ : 0.0f, b1_, b2_, c1, c2,
                                     eps_};
#pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; ++i) kernels::adam_update(step, w[i], v[i], s[i], g[i]);
      }
    }
  }
  net.parameters_changed();
}

}  // namespace mishnet
