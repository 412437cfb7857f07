#include "backend/dnnl/dnnl_eltwise.h"

#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <utility>

#include "backend/dnnl/dnnl_engine.h"
#include "kernels/activations.h"

namespace mishnet::dnnl_backend {

using dnnl::algorithm;

std::optional<EltwiseChain> eltwise_chain(Activation a) {
  using namespace kernels;  // the hyper-parameters, so both sides use the same constants
  switch (a) {
    case Activation::linear:
      return EltwiseChain{};
    case Activation::logistic:
      return EltwiseChain{{algorithm::eltwise_logistic}};
    case Activation::relu:
      return EltwiseChain{{algorithm::eltwise_relu, 0.0f}};
    case Activation::relu6:
      return EltwiseChain{{algorithm::eltwise_clip_v2, 0.0f, 6.0f}};
    case Activation::relie:
      return EltwiseChain{{algorithm::eltwise_relu, kRelieSlope}};
    // relu(x) + s·x = (1+s)·leaky(x, s/(1+s)): within an ulp or two of the reference.
    case Activation::ramp:
      return EltwiseChain{{algorithm::eltwise_relu, kRampSlope / (1.0f + kRampSlope)},
                          {algorithm::eltwise_linear, 1.0f + kRampSlope, 0.0f}};
    case Activation::tanh:
      return EltwiseChain{{algorithm::eltwise_tanh}};
    case Activation::leaky:
    case Activation::revleaky:
      return EltwiseChain{{algorithm::eltwise_relu, kLeakySlope}};
    case Activation::elu:
      return EltwiseChain{{algorithm::eltwise_elu, 1.0f}};
    case Activation::selu:
      return EltwiseChain{{algorithm::eltwise_elu, kSeluAlpha},
                          {algorithm::eltwise_linear, kSeluLambda, 0.0f}};
    case Activation::gelu:
      return EltwiseChain{{algorithm::eltwise_gelu_tanh}};
    case Activation::loggy:  // 2σ(x) − 1 = tanh(x/2)
      return EltwiseChain{{algorithm::eltwise_linear, 0.5f, 0.0f}, {algorithm::eltwise_tanh}};
    case Activation::hardtan:
      return EltwiseChain{{algorithm::eltwise_clip_v2, -1.0f, 1.0f}};
    case Activation::swish:
      return EltwiseChain{{algorithm::eltwise_swish, 1.0f}};
    case Activation::mish:
      return EltwiseChain{{algorithm::eltwise_mish}};
    case Activation::eswish:
      return EltwiseChain{{algorithm::eltwise_swish, 1.0f},
                          {algorithm::eltwise_linear, kEswishBeta, 0.0f}};
    case Activation::gelu_erf:
      return EltwiseChain{{algorithm::eltwise_gelu_erf}};
    case Activation::rrelu:
      return EltwiseChain{{algorithm::eltwise_relu, kRreluEvalSlope}};
    case Activation::softplus:
      return EltwiseChain{{algorithm::eltwise_soft_relu}};
    case Activation::logsigmoid:
      return EltwiseChain{{algorithm::eltwise_logsigmoid}};
    case Activation::prelu:
      return EltwiseChain{{algorithm::eltwise_relu, kPreluSlope}};
    case Activation::celu:  // α·elu(x/α); with α = 1 just elu, which fuses
      if (kCeluAlpha == 1.0f) return EltwiseChain{{algorithm::eltwise_elu, 1.0f}};
      return EltwiseChain{{algorithm::eltwise_linear, 1.0f / kCeluAlpha, 0.0f},
                          {algorithm::eltwise_elu, 1.0f},
                          {algorithm::eltwise_linear, kCeluAlpha, 0.0f}};
    case Activation::weighted_tanh:
      return EltwiseChain{{algorithm::eltwise_linear, kWeightedTanhW, 0.0f},
                          {algorithm::eltwise_tanh}};
    case Activation::lecun_tanh:
      return EltwiseChain{{algorithm::eltwise_linear, kLecunB, 0.0f},
                          {algorithm::eltwise_tanh},
                          {algorithm::eltwise_linear, kLecunA, 0.0f}};
    case Activation::hard_sigmoid:
      return EltwiseChain{{algorithm::eltwise_linear, 0.2f, 0.5f},
                          {algorithm::eltwise_clip_v2, 0.0f, 1.0f}};
    case Activation::hard_sigmoid_torch:
      return EltwiseChain{{algorithm::eltwise_linear, 1.0f / 6.0f, 0.5f},
                          {algorithm::eltwise_clip_v2, 0.0f, 1.0f}};
    default:
      return std::nullopt;
  }
}

namespace {

void run_in_place(const std::vector<dnnl::eltwise_forward>& prims, float* data, size_t count) {
  dnnl::memory::desc md({dnnl::memory::dim(count)}, dnnl::memory::data_type::f32,
                        dnnl::memory::format_tag::x);
  dnnl::memory mem(md, cpu_engine(), data);
  dnnl::stream& s = cpu_stream();
  for (const auto& p : prims) p.execute(s, {{DNNL_ARG_SRC, mem}, {DNNL_ARG_DST, mem}});
  s.wait();
}

// The x values the check runs on: a dense grid where conv outputs live, sparser out to 1e4,
// tiny magnitudes, and a grid with an irrational step so no value is a round binary fraction.
std::vector<float> sweep_points() {
  std::vector<float> xs;
  for (int i = -30 * 256; i <= 30 * 256; ++i) xs.push_back(float(i) / 256.0f);
  for (int i = 0; i < 6000; ++i) xs.push_back(-30.0f + float(i) * 0.0100137f);
  for (double m = 30.0; m <= 1e4; m *= 1.01) {
    xs.push_back(float(m));
    xs.push_back(float(-m));
  }
  for (double m = 1e-3; m > 1e-30; m *= 0.7) {
    xs.push_back(float(m));
    xs.push_back(float(-m));
  }
  // A diverging network must show NaN, not a clamped value (docs/activations.md).
  xs.push_back(std::numeric_limits<float>::quiet_NaN());
  return xs;
}

double measure_sweep_error(Activation a) {
  auto chain = eltwise_chain(a);
  if (!chain) return std::numeric_limits<double>::quiet_NaN();
  std::vector<float> xs = sweep_points();
  std::vector<float> ys = xs;
  try {
    run_in_place(make_primitives(*chain, ys.size()), ys.data(), ys.size());
  } catch (const dnnl::error&) {
    return std::numeric_limits<double>::infinity();
  }
  double worst = 0.0;
  for (size_t i = 0; i < xs.size(); ++i) {
    double ref = kernels::activate(a, xs[i]);
    double got = ys[i];
    if (!std::isfinite(ref) || !std::isfinite(got)) {
      if (!(ref == got || (std::isnan(ref) && std::isnan(got))))
        return std::numeric_limits<double>::infinity();
      continue;
    }
    worst = std::max(worst, std::fabs(got - ref) / std::max(1.0, std::fabs(ref)));
  }
  return worst;
}

}  // namespace

std::vector<dnnl::eltwise_forward> make_primitives(const EltwiseChain& chain, size_t count) {
  dnnl::memory::desc md({dnnl::memory::dim(count)}, dnnl::memory::data_type::f32,
                        dnnl::memory::format_tag::x);
  std::vector<dnnl::eltwise_forward> prims;
  for (const EltwiseStep& s : chain) {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, s.algorithm, md, s.alpha,
                                  s.beta);
    prims.emplace_back(dnnl::eltwise_forward::primitive_desc(d, cpu_engine()));
  }
  return prims;
}

double eltwise_sweep_error(Activation a) {
  static std::mutex mutex;
  static std::map<Activation, double> errors;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = errors.find(a);
  if (it == errors.end()) it = errors.emplace(a, measure_sweep_error(a)).first;
  return it->second;
}

bool eltwise_usable(Activation a) {
  double e = eltwise_sweep_error(a);
  return !std::isnan(e) && e <= kEltwiseTolerance;
}

bool eltwise_forward(Activation a, float* data, size_t count) {
  if (!eltwise_usable(a)) return false;
  if (a == Activation::linear || count == 0) return true;
  // Primitives depend on the element count; a network has a few dozen distinct sizes.
  static std::mutex mutex;
  static std::map<std::pair<Activation, size_t>, std::vector<dnnl::eltwise_forward>> cache;
  std::vector<dnnl::eltwise_forward> prims;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto key = std::make_pair(a, count);
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, make_primitives(*eltwise_chain(a), count)).first;
    prims = it->second;  // handles: copies share the primitives
  }
  run_in_place(prims, data, count);
  return true;
}

bool eltwise_fusable(Activation a) {
  if (!eltwise_usable(a)) return false;
  const EltwiseChain chain = *eltwise_chain(a);
  // oneDNN 2.6's JIT kernels keep one eltwise injector per algorithm, so a second post-op of
  // the same algorithm runs with the first one's alpha/beta (lecun_tanh's two linear steps came
  // out as 2/3·tanh(2x/3); fixed upstream later, openvinotoolkit/oneDNN#157). Such chains run
  // as standalone eltwise primitives instead, one pass each.
  for (size_t i = 0; i < chain.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (chain[i].algorithm == chain[j].algorithm) return false;
  return true;
}

bool append_activation_post_ops(Activation a, dnnl::post_ops& ops) {
  if (!eltwise_fusable(a)) return false;
  const EltwiseChain chain = *eltwise_chain(a);
  for (const EltwiseStep& s : chain) ops.append_eltwise(1.0f, s.algorithm, s.alpha, s.beta);
  return true;
}

}  // namespace mishnet::dnnl_backend
