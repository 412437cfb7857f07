// [connected], [softmax] and [cost]: hand-computed forward passes, .weights order, errors.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "layers/expect_error_parts.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "ops/inner_product.h"
#include "test_util.h"

namespace mishnet {
namespace {

Network build(const std::string& text, const std::string& name = "c.cfg", int batch = 0) {
  NetworkOptions opt;
  opt.batch = batch;
  return Network::from_cfg(parse_cfg_text(text, name), opt);
}

void fill(std::mt19937_64& rng, float* p, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  for (size_t i = 0; i < n; ++i) p[i] = u(rng);
}

TEST(ConnectedLayer, DeclaresParamsInDarknetOrder) {
  Network net = build("[net]\nwidth=2\nheight=2\nchannels=3\n[connected]\noutput=5\n"
                      "batch_normalize=1\nactivation=leaky\n");
  const Layer& l = net.layer(0);
  ASSERT_EQ(l.params.size(), 5u);
  // Darknet's load_connected_weights: biases, weights, then the batch-norm blocks.
  EXPECT_EQ(l.params[0].name, "biases");
  EXPECT_EQ(l.params[1].name, "weights");
  EXPECT_EQ(l.params[1].count, 5u * 12u);
  EXPECT_EQ(l.params[2].name, "scales");
  EXPECT_EQ(l.params[3].name, "rolling_mean");
  EXPECT_EQ(l.params[4].name, "rolling_variance");
  EXPECT_EQ(l.output_shape, (Shape{1, 5, 1, 1}));
  EXPECT_DOUBLE_EQ(l.bflops(), 2.0 * 12 * 5 / 1e9);
  Network plain = build("[net]\nwidth=2\nheight=2\nchannels=3\n[connected]\noutput=5\n");
  ASSERT_EQ(plain.layer(0).params.size(), 2u);
  EXPECT_EQ(plain.num_params(), 5u + 60u);
}

// y = act(scale * (W x - mean) / sqrt(var + eps) + bias), eps = 1e-6 (kernels/batchnorm.h).
TEST(ConnectedLayer, ForwardMatchesHandComputed) {
  std::mt19937_64 rng(test::test_seed());
  const int in = 12, out = 5, batch = 3;
  for (bool bn : {false, true}) {
    Network net = build(std::string("[net]\nwidth=2\nheight=2\nchannels=3\n[connected]\noutput=5\n"
                                    "activation=leaky\n") +
                            (bn ? "batch_normalize=1\n" : ""),
                        "c.cfg", batch);
    Layer& l = net.layer(0);
    fill(rng, l.param("biases"), out, -1, 1);
    fill(rng, l.param("weights"), size_t(out * in), -1, 1);
    if (bn) {
      fill(rng, l.param("scales"), out, 0.5f, 2);
      fill(rng, l.param("rolling_mean"), out, -1, 1);
      fill(rng, l.param("rolling_variance"), out, 0.1f, 3);
    }
    net.parameters_changed();
    std::vector<float> x(size_t(batch * in));
    fill(rng, x.data(), x.size(), -2, 2);
    Tensor y = net.forward(x.data());
    ASSERT_EQ(y.shape, (Shape{batch, out, 1, 1}));
    for (int b = 0; b < batch; ++b)
      for (int o = 0; o < out; ++o) {
        double v = 0;
        for (int i = 0; i < in; ++i)
          v += double(l.param("weights")[o * in + i]) * x[size_t(b * in + i)];
        if (bn)
          v = double(l.param("scales")[o]) * (v - l.param("rolling_mean")[o]) /
              std::sqrt(double(l.param("rolling_variance")[o]) + 1e-6);
        v += l.param("biases")[o];
        v = v > 0 ? v : 0.1 * v;
        // Folded batch norm in float32 over 12 products: 1e-5 relative.
        EXPECT_NEAR(y.data[b * out + o], v, 1e-5 * (1 + std::fabs(v))) << "b " << b << " o " << o;
      }
  }
}

// A feature map is flattened in C, H, W order (Darknet's layout), as OpenCV does too.
TEST(ConnectedLayer, FlattensFeatureMapsInChwOrder) {
  Network net = build("[net]\nwidth=3\nheight=2\nchannels=2\n[connected]\noutput=1\n"
                      "activation=linear\n");
  Layer& l = net.layer(0);
  float* w = l.param("weights");
  for (int i = 0; i < 12; ++i) w[i] = i == 7 ? 1.0f : 0.0f;  // c=1, h=0, w=1
  net.parameters_changed();
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[size_t(i)] = float(100 + i);
  EXPECT_EQ(net.forward(x.data()).data[0], 107.0f);
}

TEST(ConnectedLayer, WeightsRoundTripKeepsOrder) {
  Network net = build("[net]\nwidth=2\nheight=1\nchannels=1\n[connected]\noutput=2\n"
                      "batch_normalize=1\n");
  for (size_t i = 0; i < net.num_params(); ++i) net.param_data()[i] = float(i);
  std::string path = test::scratch_dir("connected-weights") + "/c.weights";
  save_weights(net, path);
  Network back = build("[net]\nwidth=2\nheight=1\nchannels=1\n[connected]\noutput=2\n"
                       "batch_normalize=1\n");
  EXPECT_EQ(load_weights(back, path), 1);
  // biases 0,1; weights 2..5; scales 6,7; rolling_mean 8,9; rolling_variance 10,11.
  EXPECT_EQ(back.layer(0).param("weights")[0], 2.0f);
  EXPECT_EQ(back.layer(0).param("scales")[1], 7.0f);
  EXPECT_EQ(back.layer(0).param("rolling_variance")[0], 10.0f);
}

TEST(ConnectedLayer, Errors) {
  EXPECT_ERROR_PARTS(build("[net]\nwidth=2\nheight=1\nchannels=1\n[connected]\noutput=0\n"),
                     "c.cfg:6:", "output", "must be at least 1");
  EXPECT_ERROR_CONTAINS(build("[net]\nwidth=2\nheight=1\nchannels=1\n[connected]\noutput=2\n"
                              "activation=lekay\n"),
                        "c.cfg:7:");
}

TEST(InnerProductOp, ReferenceMatchesDoubleLoop) {
  std::mt19937_64 rng(test::test_seed() + 1);
  ops::InnerProductDesc d;
  d.batch = 2;
  d.inputs = 37;
  d.outputs = 9;
  std::vector<float> src(size_t(d.batch * d.inputs)), w(d.weights_count()), b(size_t(d.outputs));
  fill(rng, src.data(), src.size(), -1, 1);
  fill(rng, w.data(), w.size(), -1, 1);
  fill(rng, b.data(), b.size(), -1, 1);
  std::vector<float> dst(size_t(d.batch * d.outputs));
  auto op = ops::make_inner_product(d, BackendKind::cpu);
  op->set_weights(w.data(), b.data());
  op->forward(src.data(), dst.data());
  for (int n = 0; n < d.batch; ++n)
    for (int o = 0; o < d.outputs; ++o) {
      double v = b[size_t(o)];
      for (int i = 0; i < d.inputs; ++i)
        v += double(src[size_t(n * d.inputs + i)]) * w[size_t(o * d.inputs + i)];
      EXPECT_NEAR(dst[size_t(n * d.outputs + o)], v, 1e-5);  // float32 result of a double sum
    }
}

double softmax_ref(const std::vector<double>& v, size_t i, double t) {
  double m = v[0];
  for (double x : v) m = std::max(m, x);
  double s = 0;
  for (double x : v) s += std::exp((x - m) / t);
  return std::exp((v[i] - m) / t) / s;
}

TEST(SoftmaxLayer, GroupsAndTemperature) {
  Network net = build("[net]\nwidth=1\nheight=1\nchannels=6\n[softmax]\ngroups=2\n"
                      "temperature=2\n");
  std::vector<float> x = {1, 2, 3, -1, 0, 5};
  Tensor y = net.forward(x.data());
  std::vector<double> g1 = {1, 2, 3}, g2 = {-1, 0, 5};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(y.data[i], softmax_ref(g1, i, 2), 1e-6);  // float32 exp: 1e-6
    EXPECT_NEAR(y.data[3 + i], softmax_ref(g2, i, 2), 1e-6);
  }
  EXPECT_NEAR(y.data[0] + y.data[1] + y.data[2], 1.0, 1e-6);
}

// groups split the flat C*H*W values of each image; batch entries are independent.
TEST(SoftmaxLayer, FlatGroupsOverFeatureMapsAndBatches) {
  Network net = build("[net]\nwidth=2\nheight=1\nchannels=2\n[softmax]\n", "s.cfg", 2);
  std::vector<float> x = {0, 1, 2, 3, 10, 10, 10, 10};
  Tensor y = net.forward(x.data());
  std::vector<double> g = {0, 1, 2, 3};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(y.data[i], softmax_ref(g, i, 1), 1e-6);
    EXPECT_NEAR(y.data[4 + i], 0.25, 1e-6);
  }
}

TEST(SoftmaxLayer, SpatialIsAcrossChannelsPerPosition) {
  Network net = build("[net]\nwidth=2\nheight=1\nchannels=3\n[softmax]\nspatial=1\n");
  std::vector<float> x = {1, 0, 2, 0, 3, 0};  // position 0: 1,2,3; position 1: 0,0,0
  Tensor y = net.forward(x.data());
  std::vector<double> p0 = {1, 2, 3};
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(y.data[2 * c], softmax_ref(p0, c, 1), 1e-6);
    EXPECT_NEAR(y.data[2 * c + 1], 1.0 / 3, 1e-6);
  }
}

TEST(SoftmaxLayer, Errors) {
  EXPECT_ERROR_PARTS(build("[net]\nwidth=1\nheight=1\nchannels=6\n[softmax]\ntree=data/9k.tree\n"),
                     "c.cfg:6:", "tree", "hierarchical softmax");
  EXPECT_ERROR_PARTS(build("[net]\nwidth=1\nheight=1\nchannels=6\n[softmax]\ngroups=4\n"),
                     "c.cfg:6:", "groups", "the input's 6 values per image are not divisible by "
                     "groups=4");
  EXPECT_ERROR_PARTS(build("[net]\nwidth=1\nheight=1\nchannels=6\n[softmax]\ntemperature=0\n"),
                     "c.cfg:6:", "temperature", "must be positive");
}

TEST(CostLayer, InferenceIsIdentity) {
  Network net = build("[net]\nwidth=1\nheight=1\nchannels=4\n[softmax]\n[cost]\ntype=sse\n"
                      "scale=1\nratio=0\nnoobject_scale=1\nthresh=0\n");
  net.keep_outputs({0});
  std::vector<float> x = {1, 2, 3, 4};
  Tensor y = net.forward(x.data());
  Tensor soft = net.output(0);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y.data[i], soft.data[i]);
  for (const char* t : {"masked", "smooth", "L1", "seg", "wgan"})
    EXPECT_NO_THROW(build(std::string("[net]\nwidth=1\nheight=1\nchannels=4\n[cost]\ntype=") + t +
                          "\n"));
  EXPECT_ERROR_PARTS(build("[net]\nwidth=1\nheight=1\nchannels=4\n[cost]\ntype=mse\n"),
                     "c.cfg:6:", "type", "unknown value 'mse', expected one of: sse, masked, "
                     "smooth, L1, seg, wgan");
}

}  // namespace
}  // namespace mishnet
