#include <cmath>

#include "kernels/optimizer.h"
#include "mishnet/error.h"
#include "mishnet/network.h"
#include "mishnet/optimizer.h"
#include "train/param_update.h"

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

std::vector<ParamUpdate> plan_update(Optimizer& opt, const Network& net, float lr,
                                     int batch_images) {
  if (opt.velocity.size() != net.num_params()) fail("optimizer state does not match the network");
  if (!net.training()) fail("Optimizer::step needs a network in training mode");
  const float inv_batch = 1.0f / float(batch_images);
  ++opt.steps_done;
  // Adam's bias corrections for this step.
  const float c1 = opt.adam_ ? 1.0f - std::pow(opt.b1_, float(opt.steps_done)) : 1.0f;
  const float c2 = opt.adam_ ? 1.0f - std::pow(opt.b2_, float(opt.steps_done)) : 1.0f;
  const float* base = net.param_data();
  std::vector<ParamUpdate> plan;
  for (int li = 0; li < net.num_layers(); ++li) {
    const Layer& l = net.layer(li);
    if (l.dont_update) continue;
    const float layer_lr = lr * l.learning_rate_scale;
    for (const Param& p : l.params) {
      if (!p.trainable || !p.grad) continue;
      if (l.train_only_bn && !(p.is_bn_scale || p.name == "biases")) continue;
      const bool decays = p.name == "weights";
      ParamUpdate u;
      u.offset = size_t(p.data - base);
      u.count = p.count;
      // Darknet's arithmetic (kernels/optimizer.h, shared with the CUDA kernels).
      if (!opt.adam_)
        u.sgd = kernels::SgdStep{layer_lr * inv_batch,
                                 decays ? opt.decay_ * float(batch_images) : 0.0f, opt.momentum_};
      else
        u.adam = kernels::AdamStep{layer_lr, inv_batch, decays ? opt.decay_ : 0.0f, opt.b1_,
                                   opt.b2_, c1, c2, opt.eps_};
      plan.push_back(u);
    }
  }
  return plan;
}

void Optimizer::step(Network& net, float lr, int batch_images) {
  const std::vector<ParamUpdate> plan = plan_update(*this, net, lr, batch_images);
  float* base = net.param_data();
  float* grads = net.grad_data();
  for (const ParamUpdate& u : plan) {
    float* v = velocity.data() + u.offset;
    float* w = base + u.offset;
    const float* g = grads + u.offset;
    const long n = long(u.count);
    if (!adam_) {
      const kernels::SgdStep step = u.sgd;
#pragma omp parallel for simd schedule(static)
      for (long i = 0; i < n; ++i) kernels::sgd_update(step, w[i], v[i], g[i]);
    } else {
      float* s = second.data() + u.offset;
      const kernels::AdamStep step = u.adam;
#pragma omp parallel for simd schedule(static)
      for (long i = 0; i < n; ++i) kernels::adam_update(step, w[i], v[i], s[i], g[i]);
    }
  }
  net.parameters_changed();
}

}  // namespace mishnet
