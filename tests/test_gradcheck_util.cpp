// The gradient checker itself: it must pass a correct backward and catch a wrong one.
#include <gtest/gtest.h>

#include "gradcheck_util.h"
#include "mishnet/layer.h"
#include "test_util.h"

namespace mishnet::test {
namespace {

// out = 2 * x * x with a deliberately wrong backward (dL/dx = 2 * x * delta) unless `correct`.
class SquareLayer final : public Layer {
 public:
  explicit SquareLayer(const BuildContext& ctx) {
    input_shape = ctx.input;
    output_shape = input_shape;
    correct_ = ctx.section.get_bool("correct", true);
    declare_param("gain", 1).init_value = 1.0f;
  }
  const char* type() const override { return "test_square"; }
  void forward(const ForwardContext& ctx, Tensor& out) override {
    for (size_t i = 0; i < out.size(); ++i)
      out.data[i] = 2 * params[0].data[0] * ctx.input.data[i] * ctx.input.data[i];
  }
  void backward(const BackwardContext& ctx) override {
    const float g = params[0].data[0];
    for (size_t i = 0; i < ctx.delta.size(); ++i) {
      const float x = ctx.input.data[i];
      params[0].grad[0] += 2 * x * x * ctx.delta.data[i];
      if (ctx.input_delta.data)
        ctx.input_delta.data[i] += (correct_ ? 4 : 2) * g * x * ctx.delta.data[i];
    }
  }

 private:
  bool correct_ = true;
};
MISHNET_REGISTER_LAYER("test_square", SquareLayer);

Network square_net(bool correct) {
  Network net = network_from_text(
      std::string("[net]\nwidth=3\nheight=2\nchannels=1\n") + kGradcheckInput +
          "[test_square]\ncorrect=" + (correct ? "1" : "0") + "\n" + kGradcheckLoss,
      2);
  net.layer(1).params[0].data[0] = 1.0f;  // the network starts its parameters at 0
  return net;
}

TEST(Gradcheck, PassesACorrectBackward) {
  std::mt19937_64 rng(test_seed());
  Network net = square_net(true);
  const std::vector<float> in = random_values(12, rng), r = random_values(12, rng);
  GradcheckResult result = gradcheck(net, in, r);
  EXPECT_EQ(result.checked, 12u + 1u);
  EXPECT_TRUE(result.mismatches.empty()) << result.describe();
  // Parameters are restored and Param::grad holds the analytic gradient.
  EXPECT_EQ(net.layer(1).params[0].data[0], 1.0f);
  double expected = 0;
  for (size_t i = 0; i < 12; ++i) expected += 2.0 * in[i] * in[i] * r[i];
  EXPECT_NEAR(net.layer(1).params[0].grad[0], expected, 1e-4);
}

TEST(Gradcheck, CatchesAWrongBackward) {
  std::mt19937_64 rng(test_seed());
  Network net = square_net(false);
  const std::vector<float> in = random_values(12, rng, 0.5f, 1.0f);
  const std::vector<float> r = random_values(12, rng, 0.5f, 1.0f);
  GradcheckResult result = gradcheck(net, in, r);
  EXPECT_EQ(result.mismatches.size(), 12u) << result.describe();  // every input, not the gain
  EXPECT_NE(result.describe().find("input["), std::string::npos);
}

TEST(Gradcheck, ChecksASubsetOfLargeTensors) {
  std::mt19937_64 rng(test_seed());
  Network net = square_net(true);
  GradcheckOptions o;
  o.max_entries = 5;
  o.check_params = false;
  GradcheckResult result = gradcheck(net, random_values(12, rng), random_values(12, rng), o);
  EXPECT_EQ(result.checked, 5u);
}

TEST(Gradcheck, RefusesNetworksWithoutItsLayers) {
  Network net = network_from_text("[net]\nwidth=2\nheight=1\nchannels=1\n[avgpool]\n" +
                                  std::string(kGradcheckLoss));
  EXPECT_ERROR_CONTAINS(gradcheck(net, {1, 2}, {1}), "first layer must be [test_input]");
}

}  // namespace
}  // namespace mishnet::test
