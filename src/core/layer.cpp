#include "mishnet/layer.h"

#include "mishnet/error.h"

namespace mishnet {

const char* backend_name(BackendKind k) {
  switch (k) {
    case BackendKind::reference: return "reference";
    case BackendKind::cpu: return "cpu";
    case BackendKind::cuda: return "cuda";
  }
  return "?";
}

int BuildContext::resolve_layer(int ref, const std::string& key) const {
  int abs = ref < 0 ? index + ref : ref;
  if (abs < 0 || abs >= index)
    section.fail_key(key, "layer reference " + std::to_string(ref) + " resolves to layer " +
                              std::to_string(abs) + ", outside the earlier layers 0.." +
                              std::to_string(index - 1));
  return abs;
}

void Layer::backward(const BackwardContext&) {
  fail("layer ", index, " [", type(), "] has no backward pass yet: it cannot be trained");
}

void Layer::forward_cuda(const CudaForwardContext&, Tensor&) {
  fail("layer ", index, " [", type(), "] has no CUDA forward (the network should have run it on "
       "the CPU)");
}

std::unique_ptr<CudaLayerTraining> Layer::make_cuda_training(int, size_t) { return nullptr; }

void Layer::forward_cuda_train(const CudaTrainContext&, Tensor&) {
  fail("layer ", index, " [", type(), "] has no CUDA training forward (the GPU training network "
       "should have run it on the CPU)");
}

void Layer::forward_cuda_as_inference(const CudaTrainContext& ctx, Tensor& out) {
  const std::vector<float*> no_params;
  forward_cuda(CudaForwardContext{ctx.input, ctx.outputs, no_params, ctx.stream}, out);
}

void Layer::backward_cuda(const CudaBackwardContext&) {
  fail("layer ", index, " [", type(), "] has no CUDA backward (the GPU training network should "
       "have run it on the CPU)");
}

size_t Layer::param_slot(const std::string& name) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name == name) return i;
  fail("layer ", index, " (", type(), ") has no parameter '", name, "'");
}

void Layer::recompute_output(const ForwardContext&, Tensor&) {
  fail("layer ", index, " [", type(), "] cannot recompute its output");
}

Param* Layer::find_param(const std::string& name) {
  for (auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

float* Layer::param(const std::string& name) {
  Param* p = find_param(name);
  if (!p) fail("layer ", index, " (", type(), ") has no parameter '", name, "'");
  return p->data;
}

Param& Layer::declare_param(const std::string& name, size_t count, bool trainable,
                           bool is_bn_scale) {
  Param p;
  p.name = name;
  p.count = count;
  p.trainable = trainable;
  p.is_bn_scale = is_bn_scale;
  params.push_back(p);
  return params.back();
}

void Layer::declare_batchnorm_params(size_t n) {
  declare_param("scales", n, true, true).init_value = 1.0f;
  declare_param("rolling_mean", n, false, true);
  declare_param("rolling_variance", n, false, true).init_value = 1.0f;
}

std::map<std::string, LayerFactory>& layer_registry() {
  static std::map<std::string, LayerFactory> registry;
  return registry;
}

LayerRegistrar::LayerRegistrar(const char* type, LayerFactory factory) {
  layer_registry()[type] = std::move(factory);
}

void parse_common_options(const CfgSection& s, Layer& layer) {
  layer.stopbackward = s.get_int("stopbackward", 0) != 0;
  layer.dontload = s.get_bool("dontload", false);
  layer.dontloadscales = s.get_bool("dontloadscales", false);
  layer.train_only_bn = s.get_bool("train_only_bn", false);
  layer.dont_update = s.get_bool("dont_update", false);
  layer.learning_rate_scale = s.get_float("learning_rate", 1.0f);
  // Darknet-only runtime hints with no effect on results.
  for (const char* k : {"stream", "wait_stream", "antialiasing_stopbackward"}) s.accept(k);
}

Activation parse_activation_option(const CfgSection& s, const std::string& fallback) {
  std::string name = s.get_string("activation", fallback);
  try {
    return parse_activation(name);
  } catch (const Error& e) {
    s.fail_key("activation", e.what());
  }
}

}  // namespace mishnet
