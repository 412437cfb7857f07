#include "gradcheck_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "mishnet/cfg.h"
#include "mishnet/error.h"
#include "mishnet/layer.h"

namespace mishnet::test {

namespace {

// [test_input]: the identity, so that delta(0) is the gradient of the network input.
class TestInputLayer final : public Layer {
 public:
  explicit TestInputLayer(const BuildContext& ctx) {
    input_shape = ctx.input;
    output_shape = input_shape;
  }
  const char* type() const override { return "test_input"; }
  void forward(const ForwardContext& ctx, Tensor& out) override {
    std::copy(ctx.input.data, ctx.input.data + out.size(), out.data);
  }
  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    for (size_t i = 0; i < ctx.delta.size(); ++i) ctx.input_delta.data[i] += ctx.delta.data[i];
  }
};

// [test_dot_loss]: L = sum truth . input per image; passes its input through.
class TestDotLossLayer final : public Layer {
 public:
  explicit TestDotLossLayer(const BuildContext& ctx) {
    input_shape = ctx.input;
    output_shape = input_shape;
  }
  const char* type() const override { return "test_dot_loss"; }
  size_t truth_floats() const override { return input_shape.per_image(); }
  void forward(const ForwardContext& ctx, Tensor& out) override {
    std::copy(ctx.input.data, ctx.input.data + out.size(), out.data);
    if (!ctx.training || !ctx.truth) return;
    double sum = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      ctx.delta.data[i] = ctx.truth[i];
      sum += double(ctx.truth[i]) * out.data[i];
    }
    cost = float(sum);
  }
  void backward(const BackwardContext& ctx) override {
    if (!ctx.input_delta.data) return;
    for (size_t i = 0; i < ctx.delta.size(); ++i) ctx.input_delta.data[i] += ctx.delta.data[i];
  }
};

MISHNET_REGISTER_LAYER("test_input", TestInputLayer);
MISHNET_REGISTER_LAYER("test_dot_loss", TestDotLossLayer);

double loss_at(Network& net, const std::vector<float>& input, const std::vector<float>& r,
               uint64_t seed) {
  std::mt19937_64 rng(seed);
  net.forward_backward(input.data(), r.data(), rng);
  return dot_loss(net, r);
}

// Indices 0..count-1, or a sorted random subset of `limit` of them.
std::vector<size_t> pick(size_t count, size_t limit, std::mt19937_64& rng) {
  std::vector<size_t> all(count);
  std::iota(all.begin(), all.end(), size_t(0));
  if (count <= limit) return all;
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(limit);
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

Network network_from_text(const std::string& cfg_text, int batch) {
  NetworkOptions o;
  o.batch = batch;
  return Network::from_cfg(parse_cfg_text(cfg_text, "test.cfg"), o);
}

std::vector<float> random_values(size_t n, std::mt19937_64& rng, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

std::vector<float> separated_values(size_t n, std::mt19937_64& rng, float gap) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (float(i) - float(n) / 2) * gap;
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

std::vector<float> to_vector(const Tensor& t) {
  return std::vector<float>(t.data, t.data + t.size());
}

std::vector<float> forward_output(Network& net, const std::vector<float>& input, int layer) {
  if (input.size() != net.input_shape().size())
    fail("forward_output: input has ", input.size(), " floats, the network takes ",
         net.input_shape().size());
  net.keep_outputs({layer});
  net.forward(input.data());
  return to_vector(net.output(layer));
}

double dot_loss(const Network& net, const std::vector<float>& r) {
  Tensor y = net.output(net.num_layers() - 1);
  if (r.size() != y.size())
    fail("dot_loss: ", r.size(), " weights for an output of ", y.size(), " floats");
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) sum += double(r[i]) * double(y.data[i]);
  return sum;
}

std::string GradcheckResult::describe(size_t max_lines) const {
  std::ostringstream o;
  o << mismatches.size() << " of " << checked << " gradients differ (max |error| " << max_abs_error
    << ")";
  for (size_t i = 0; i < mismatches.size() && i < max_lines; ++i)
    o << "\n  " << mismatches[i].what << ": analytic " << mismatches[i].analytic << ", numeric "
      << mismatches[i].numeric;
  return o.str();
}

GradcheckResult gradcheck(Network& net, const std::vector<float>& input,
                          const std::vector<float>& r, const GradcheckOptions& o) {
  if (input.size() != net.input_shape().size())
    fail("gradcheck: input has ", input.size(), " floats, the network takes ",
         net.input_shape().size());
  if (std::string(net.layer(0).type()) != "test_input")
    fail("gradcheck: the first layer must be [test_input]");
  if (std::string(net.layer(net.num_layers() - 1).type()) != "test_dot_loss")
    fail("gradcheck: the last layer must be [test_dot_loss]");
  if (r.size() != net.truth_floats() * size_t(net.batch()))
    fail("gradcheck: r has ", r.size(), " floats, the loss needs ",
         net.truth_floats() * size_t(net.batch()));

  net.set_training(true);
  net.zero_grads();
  std::mt19937_64 rng(o.seed);
  net.forward_backward(input.data(), r.data(), rng);
  const std::vector<float> input_grad = to_vector(net.delta(0));
  const std::vector<float> grads(net.grad_data(), net.grad_data() + net.num_params());

  GradcheckResult result;
  auto compare = [&](double analytic, double numeric, const std::string& what) {
    const double err = std::fabs(analytic - numeric);
    result.max_abs_error = std::max(result.max_abs_error, err);
    ++result.checked;
    if (!(err <= o.abs_tol + o.rel_tol * std::max(std::fabs(analytic), std::fabs(numeric))))
      result.mismatches.push_back({what, analytic, numeric});
  };
  // Central difference of L when `value` moves by +-step, divided by the distance the float
  // actually moved (large values round the step).
  auto numeric = [&](float& value, const std::vector<float>& in, bool is_param) {
    const float keep = value, high = float(keep + o.step), low = float(keep - o.step);
    value = high;
    if (is_param) net.parameters_changed();
    const double up = loss_at(net, in, r, o.seed);
    value = low;
    if (is_param) net.parameters_changed();
    const double down = loss_at(net, in, r, o.seed);
    value = keep;
    if (is_param) net.parameters_changed();
    return (up - down) / (double(high) - double(low));
  };

  std::mt19937_64 chooser(o.seed ^ 0x9E3779B97F4A7C15ull);
  if (o.check_input) {
    std::vector<float> in = input;
    for (size_t i : pick(in.size(), o.max_entries, chooser))
      compare(input_grad[i], numeric(in[i], in, false), "input[" + std::to_string(i) + "]");
  }
  if (o.check_params) {
    const float* base = net.param_data();
    for (int li = 0; li < net.num_layers(); ++li)
      for (Param& p : net.layer(li).params) {
        if (!p.trainable) continue;
        for (size_t i : pick(p.count, o.max_entries, chooser))
          compare(grads[size_t(p.data - base) + i], numeric(p.data[i], input, true),
                  "layer " + std::to_string(li) + " " + p.name + "[" + std::to_string(i) + "]");
      }
  }
  // Leave the analytic gradients in Param::grad, as after one forward_backward.
  net.zero_grads();
  std::mt19937_64 again(o.seed);
  net.forward_backward(input.data(), r.data(), again);
  return result;
}

void expect_gradients_match(Network& net, const std::vector<float>& input,
                            const std::vector<float>& r, const GradcheckOptions& options) {
  GradcheckResult result = gradcheck(net, input, r, options);
  EXPECT_GT(result.checked, 0u) << "nothing was compared";
  EXPECT_TRUE(result.mismatches.empty()) << result.describe();
}

}  // namespace mishnet::test
