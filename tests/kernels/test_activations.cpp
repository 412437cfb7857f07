// Activation functions (src/kernels/activations.h), their names (src/core/activation.cpp) and the
// reference op (src/ops/activation_reference.cpp), against ../shared/spec/ACTIVATIONS.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/activations.h"
#include "mishnet/activation.h"
#include "ops/activation_op.h"
#include "test_util.h"

namespace mishnet {
namespace {

using kernels::activate;
using kernels::activation_gradient;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// The gradient as a layer computes it: from the stored input and output.
float gradient(Activation a, float x) { return activation_gradient(a, x, activate(a, x)); }

std::vector<Activation> all_activations() {
  std::vector<Activation> v;
  for (int i = 0; i < int(Activation::count); ++i) v.push_back(Activation(i));
  return v;
}

// ---------------------------------------------------------------------------------------------
// ACTIVATIONS.md §3.3: f and f' at six points, float64 reference printed to 7 significant
// digits. Tolerance: 2e-6 relative + 1e-7 absolute (the table's rounding is <= 5e-7 relative;
// float32 evaluation adds a few ulp).

struct TableRow {
  const char* spec_name;
  Activation a;
  double f[6];
  double g[6];
};
constexpr float kTableX[6] = {-2.5f, -1.0f, -0.25f, 0.25f, 1.0f, 2.5f};

const TableRow kTable[] = {
    {"mish", Activation::mish,
     {-0.1968162, -0.3034015, -0.129927, 0.1695724, 0.8650984, 2.471392},
     {-0.1097436, 0.05921676, 0.4398156, 0.7541727, 1.049036, 1.04113}},
    {"swish1_silu", Activation::swish,
     {-0.1896455, -0.2689414, -0.1094559, 0.1405441, 0.7310586, 2.310355},
     {-0.09940111, 0.07232949, 0.37629, 0.62371, 0.9276705, 1.099401}},
    {"eswish_b1.75", Activation::eswish,
     {-0.3318795, -0.4706475, -0.1915478, 0.2459522, 1.279353, 4.04312},
     {-0.1739519, 0.1265766, 0.6585075, 1.091493, 1.623423, 1.923952}},
    {"gelu_erf", Activation::gelu_erf,
     {-0.01552416, -0.1586553, -0.1003234, 0.1496766, 0.8413447, 2.484476},
     {-0.03761109, -0.08331547, 0.3046266, 0.6953734, 1.083315, 1.037611}},
    {"gelu_tanh", Activation::gelu,
     {-0.01508427, -0.158808, -0.1003246, 0.1496754, 0.841192, 2.484916},
     {-0.03795158, -0.08296408, 0.3046459, 0.6953541, 1.082964, 1.037952}},
    {"relu", Activation::relu,
     {0, 0, 0, 0.25, 1, 2.5},
     {0, 0, 0, 1, 1, 1}},
    {"elu_a1", Activation::elu,
     {-0.917915, -0.6321206, -0.2211992, 0.25, 1, 2.5},
     {0.082085, 0.3678794, 0.7788008, 1, 1, 1}},
    // leaky_a0.3: no mishnet variant (Darknet leaky is 0.1, the next row).
    {"leaky_a0.1_darknet", Activation::leaky,
     {-0.25, -0.1, -0.025, 0.25, 1, 2.5},
     {0.1, 0.1, 0.1, 1, 1, 1}},
    {"rrelu_eval", Activation::rrelu,
     {-0.5729167, -0.2291667, -0.05729167, 0.25, 1, 2.5},
     {0.2291667, 0.2291667, 0.2291667, 1, 1, 1}},
    {"selu", Activation::selu,
     {-1.613786, -1.111331, -0.3888902, 0.2626752, 1.050701, 2.626752},
     {0.1443136, 0.6467686, 1.369209, 1.050701, 1.050701, 1.050701}},
    {"softplus_b1", Activation::softplus,
     {0.07888973, 0.3132617, 0.5759394, 0.8259394, 1.313262, 2.57889},
     {0.07585818, 0.2689414, 0.4378235, 0.5621765, 0.7310586, 0.9241418}},
    {"hardshrink_l0.5", Activation::hardshrink,
     {-2.5, -1, 0, 0, 1, 2.5},
     {1, 1, 0, 0, 1, 1}},
    {"hardtanh", Activation::hardtan,
     {-1, -1, -0.25, 0.25, 1, 1},
     {0, 0, 1, 1, 0, 0}},
    {"logsigmoid", Activation::logsigmoid,
     {-2.57889, -1.313262, -0.8259394, -0.5759394, -0.3132617, -0.07888973},
     {0.9241418, 0.7310586, 0.5621765, 0.4378235, 0.2689414, 0.07585818}},
    {"prelu_init0.25", Activation::prelu,
     {-0.625, -0.25, -0.0625, 0.25, 1, 2.5},
     {0.25, 0.25, 0.25, 1, 1, 1}},
    {"relu6", Activation::relu6,
     {0, 0, 0, 0.25, 1, 2.5},
     {0, 0, 0, 1, 1, 1}},
    {"celu_a1", Activation::celu,
     {-0.917915, -0.6321206, -0.2211992, 0.25, 1, 2.5},
     {0.082085, 0.3678794, 0.7788008, 1, 1, 1}},
    {"sigmoid", Activation::logistic,
     {0.07585818, 0.2689414, 0.4378235, 0.5621765, 0.7310586, 0.9241418},
     {0.07010372, 0.1966119, 0.2461341, 0.2461341, 0.1966119, 0.07010372}},
    {"softshrink_l0.5", Activation::softshrink,
     {-2, -0.5, 0, 0, 0.5, 2},
     {1, 1, 0, 0, 1, 1}},
    {"tanhshrink", Activation::tanhshrink,
     {-1.513386, -0.2384058, -0.005081338, 0.005081338, 0.2384058, 1.513386},
     {0.9734078, 0.5800257, 0.05998515, 0.05998515, 0.5800257, 0.9734078}},
    {"tanh", Activation::tanh,
     {-0.9866143, -0.7615942, -0.2449187, 0.2449187, 0.7615942, 0.9866143},
     {0.02659223, 0.4199743, 0.9400148, 0.9400148, 0.4199743, 0.02659223}},
    {"softsign", Activation::softsign,
     {-0.7142857, -0.5, -0.2, 0.2, 0.5, 0.7142857},
     {0.08163265, 0.25, 0.64, 0.64, 0.25, 0.08163265}},
    {"aria2_paper_b1_a1.5", Activation::aria2,
     {-0.05223284, -0.1394718, -0.07242502, 0.1053778, 0.6250694, 2.220997},
     {-0.05151269, -0.01347129, 0.2286266, 0.4907164, 0.87723, 1.14112}},
    {"aria2_echo_b1_a1.5", Activation::aria2_echo,
     {0.02089314, 0.1394718, 0.2897001, 0.4215111, 0.6250694, 0.8883987},
     {0.02896233, 0.1529431, 0.2442939, 0.2768212, 0.2521606, 0.1010885}},
    {"bent_identity", Activation::bent_identity,
     {-1.653709, -0.7928932, -0.2346118, 0.2653882, 1.207107, 3.346291},
     {0.5357617, 0.6464466, 0.8787322, 1.121268, 1.353553, 1.464238}},
    {"sqnl", Activation::sqnl,
     {-1, -0.75, -0.234375, 0.234375, 0.75, 1},
     {0, 0.5, 0.875, 0.875, 0.5, 0}},
    {"elish", Activation::elish,
     {-0.06963136, -0.1700034, -0.09684622, 0.1405441, 0.7310586, 2.310355},
     {-0.05812243, -0.02534443, 0.2865326, 0.62371, 0.9276705, 1.099401}},
    {"hard_elish", Activation::hard_elish,
     {0, 0, -0.08294971, 0.15625, 1, 2.5},
     {0, 0, 0.1814507, 0.75, 1, 1}},
    {"srelu_example", Activation::srelu,
     {-0.82, -0.52, -0.25, 0.25, 1, 2},
     {0.2, 0.2, 1, 1, 1, 0.5}},
    {"isru_a1", Activation::isru,
     {-0.9284767, -0.7071068, -0.2425356, 0.2425356, 0.7071068, 0.9284767},
     {0.0512263, 0.3535534, 0.9130753, 0.9130753, 0.3535534, 0.0512263}},
    {"isrlu_a1", Activation::isrlu,
     {-0.9284767, -0.7071068, -0.2425356, 0.25, 1, 2.5},
     {0.0512263, 0.3535534, 0.9130753, 1, 1, 1}},
    {"fts_T-0.2", Activation::fts,
     {-0.2, -0.2, -0.2, -0.05945587, 0.5310586, 2.110355},
     {0, 0, 0, 0.62371, 0.9276705, 1.099401}},
    {"sinerelu_e0.001", Activation::sinerelu,
     {0.0002026715, -0.001381773, -0.001216316, 0.25, 1, 2.5},
     {-0.001399616, -0.0003011687, 0.0007215085, 1, 1, 1}},
    {"softclip_a0.5", Activation::soft_clipping,
     {0.1834099, 0.3216306, 0.4077967, 0.4689515, 0.5618596, 0.7301162},
     {0.07465294, 0.1085992, 0.1201455, 0.123876, 0.1224593, 0.09812116}},
    {"weighted_tanh_w1.7145_echo", Activation::weighted_tanh,
     {-0.9996216, -0.9371973, -0.4041716, 0.4041716, 0.9371973, 0.9996216},
     {0.00129731, 0.2085881, 1.434428, 1.434428, 0.2085881, 0.00129731}},
    {"lecun_tanh", Activation::lecun_tanh,
     {-1.597691, -0.9999973, -0.2833644, 0.2833644, 0.9999973, 1.597691},
     {0.1521831, 0.7554124, 1.112737, 1.112737, 0.7554124, 0.1521831}},
    {"hard_sigmoid_keras", Activation::hard_sigmoid,
     {0, 0.3, 0.45, 0.55, 0.7, 1},
     {0, 0.2, 0.2, 0.2, 0.2, 0}},
    {"hard_sigmoid_torch", Activation::hard_sigmoid_torch,
     {0.08333333, 0.3333333, 0.4583333, 0.5416667, 0.6666667, 0.9166667},
     {0.1666667, 0.1666667, 0.1666667, 0.1666667, 0.1666667, 0.1666667}},
    {"thresholded_relu_t1", Activation::thresholded_relu,
     {0, 0, 0, 0, 0, 2.5},
     {0, 0, 0, 0, 0, 1}},
    {"hard_mish", Activation::hard_mish,
     {0, -0.5, -0.21875, 0.25, 1, 2.5},
     {0, 0, 0.75, 1, 1, 1}},
    {"beta_mish_b1.5", Activation::beta_mish,
     {-0.2944633, -0.4381125, -0.1745666, 0.211286, 0.9618376, 2.497818},
     {-0.1627363, 0.1121323, 0.6141345, 0.905381, 1.043937, 1.005173}},
};

bool close_to(double got, double want, double rel, double abs) {
  return std::fabs(got - want) <= rel * std::fabs(want) + abs;
}

TEST(ActivationTable, ValuesAndDerivativesMatchSpecVectors) {
  for (const TableRow& row : kTable) {
    for (int i = 0; i < 6; ++i) {
      float x = kTableX[i];
      float y = activate(row.a, x);
      EXPECT_PRED4(close_to, y, row.f[i], 2e-6, 1e-7) << row.spec_name << " f(" << x << ")";
      EXPECT_PRED4(close_to, gradient(row.a, x), row.g[i], 2e-6, 1e-7)
          << row.spec_name << " f'(" << x << ")";
    }
  }
}

// Darknet functions the §3.3 table lacks, by Darknet's definitions (hand-computed).
TEST(ActivationTable, DarknetOnlyFunctions) {
  struct Case {
    Activation a;
    float x, f, g;
  };
  const Case cases[] = {
      {Activation::relie, -1.0f, -0.01f, 0.01f},   {Activation::relie, 2.0f, 2.0f, 1.0f},
      {Activation::ramp, -1.0f, -0.1f, 0.1f},      {Activation::ramp, 2.0f, 2.2f, 1.1f},
      {Activation::plse, -5.0f, -0.01f, 0.01f},    {Activation::plse, 1.0f, 0.625f, 0.125f},
      {Activation::plse, 5.0f, 1.01f, 0.01f},      {Activation::lhtan, -1.0f, -0.001f, 0.001f},
      {Activation::lhtan, 0.5f, 0.5f, 1.0f},       {Activation::lhtan, 2.0f, 1.001f, 0.001f},
      {Activation::hardtan, -3.0f, -1.0f, 0.0f},   {Activation::hardtan, 0.5f, 0.5f, 1.0f},
      {Activation::relu6, 7.0f, 6.0f, 0.0f},       {Activation::relu6, 5.0f, 5.0f, 1.0f},
      {Activation::leaky, -2.0f, -0.2f, 0.1f},     {Activation::elu, 1.0f, 1.0f, 1.0f},
      // loggy = 2σ(x) − 1: loggy(1) = tanh(1/2), loggy'(1) = (1 − tanh²(1/2))/2.
      {Activation::loggy, 1.0f, 0.46211716f, 0.39322387f},
      // stair: floor(x/2) when floor(x) is even, else x − floor(x) + floor(x/2).
      {Activation::stair, 0.5f, 0.0f, 0.0f},       {Activation::stair, 1.5f, 0.5f, 1.0f},
      {Activation::stair, 2.5f, 1.0f, 0.0f},       {Activation::stair, 3.25f, 1.25f, 1.0f},
      {Activation::stair, -0.5f, -0.5f, 1.0f},     {Activation::stair, -1.5f, -1.0f, 0.0f},
      // revleaky: leaky forward; Darknet's GPU backward divides delta by the slope.
      {Activation::revleaky, -2.0f, -0.2f, 10.0f}, {Activation::revleaky, 2.0f, 2.0f, 1.0f},
  };
  for (const Case& c : cases) {
    EXPECT_NEAR(activate(c.a, c.x), c.f, 1e-6) << activation_name(c.a) << "(" << c.x << ")";
    EXPECT_NEAR(gradient(c.a, c.x), c.g, 1e-6) << activation_name(c.a) << "'(" << c.x << ")";
  }
  // Full-precision SELU constants, not Darknet's 1.0507 and 1.6732.
  EXPECT_FLOAT_EQ(activate(Activation::selu, 1.0f), 1.0507009873554805f);
  EXPECT_FLOAT_EQ(gradient(Activation::selu, 0.5f), 1.0507009873554805f);
  EXPECT_FLOAT_EQ(gradient(Activation::selu, -1.0f),
                  float(1.0507009873554805 * 1.6732632423543772 * std::exp(-1.0)));
}

// ---------------------------------------------------------------------------------------------
// Mish against long double (ACTIVATIONS.md §1.4-1.6).

long double mish_ld(long double x) { return x * tanhl(log1pl(expl(x))); }
long double mish_gradient_ld(long double x) {
  long double e = expl(x), n = e * (e + 2), d = n + 2;
  return n / d + 4 * x * e * (1 + e) / (d * d);
}
long double beta_mish_ld(long double x) { return x * tanhl(1.5L * log1pl(expl(x))); }
long double beta_mish_gradient_ld(long double x) {
  long double sp = log1pl(expl(x)), t = tanhl(1.5L * sp), s = 1 / (1 + expl(-x));
  return t + 1.5L * x * s * (1 - t * t);
}

// Error in units of the float spacing at the reference (2^-149 below FLT_MIN).
double ulp_error(float got, long double ref) {
  int exponent;
  frexpl(fabsl(ref), &exponent);
  long double ulp = fabsl(ref) < FLT_MIN ? ldexpl(1.0L, -149) : ldexpl(1.0L, exponent - 24);
  return double(fabsl((long double)got - ref) / ulp);
}

// Dense sweep of [-110, 110] plus log-spaced small |x| (1e-38 ... 10, both signs).
std::vector<float> mish_sweep() {
  std::vector<float> xs;
  const int n = 2'000'001;
  for (int i = 0; i < n; ++i) xs.push_back(float(-110.0 + 220.0 * i / (n - 1)));
  for (int i = 0; i <= 20000; ++i) {
    float m = float(std::pow(10.0, -38.0 + 39.0 * i / 20000));
    xs.push_back(m);
    xs.push_back(-m);
  }
  return xs;
}

struct SweepResult {
  double max_ulp = 0, max_gradient_abs = 0;
  float worst_ulp_x = 0, worst_gradient_x = 0;
};

template <typename F, typename G, typename RF, typename RG>
SweepResult sweep(F f, G g, RF ref_f, RG ref_g) {
  SweepResult r;
  for (float x : mish_sweep()) {
    double u = ulp_error(f(x), ref_f((long double)x));
    if (u > r.max_ulp) r.max_ulp = u, r.worst_ulp_x = x;
    double ge = double(fabsl((long double)g(x) - ref_g((long double)x)));
    if (ge > r.max_gradient_abs) r.max_gradient_abs = ge, r.worst_gradient_x = x;
  }
  return r;
}

// §1.6 targets: forward <= 5 ulp (subnormal results included, in units of 2^-149), backward
// absolute error <= 2e-7.
TEST(ActivationMish, SweepAgainstLongDouble) {
  SweepResult r = sweep(kernels::mish, kernels::mish_gradient, mish_ld, mish_gradient_ld);
  EXPECT_LE(r.max_ulp, 5.0) << "at x = " << r.worst_ulp_x;
  EXPECT_LE(r.max_gradient_abs, 2e-7) << "at x = " << r.worst_gradient_x;
  std::printf("[ mish     ] max %.2f ulp (x = %g), backward max abs %.3g (x = %g)\n", r.max_ulp,
              r.worst_ulp_x, r.max_gradient_abs, r.worst_gradient_x);
}

TEST(ActivationMish, FiniteEverywhereAndInfinities) {
  for (int i = 0; i <= 400000; ++i) {
    float x = float(-1e4 + 2e4 * i / 400000.0);
    float y = activate(Activation::mish, x), g = gradient(Activation::mish, x);
    ASSERT_TRUE(std::isfinite(y) && std::isfinite(g)) << "x = " << x;
  }
  for (float x : {FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 1e-45f, -1e-45f}) {
    EXPECT_TRUE(std::isfinite(kernels::mish(x)) && std::isfinite(kernels::mish_gradient(x))) << x;
  }
  // Defined behaviour at the infinities: the limits, mish(-inf) = -0 (no -inf * 0 = NaN).
  EXPECT_EQ(kernels::mish(kInf), kInf);
  EXPECT_EQ(kernels::mish(-kInf), 0.0f);
  EXPECT_TRUE(std::signbit(kernels::mish(-kInf)));
  EXPECT_EQ(kernels::mish_gradient(kInf), 1.0f);
  EXPECT_EQ(kernels::mish_gradient(-kInf), 0.0f);
  EXPECT_TRUE(std::isnan(kernels::mish(kNaN)));
  EXPECT_TRUE(std::isnan(kernels::mish_gradient(kNaN)));
}

TEST(ActivationMish, SpecFacts) {
  EXPECT_EQ(kernels::mish(0.0f), 0.0f);
  EXPECT_EQ(kernels::mish_gradient(0.0f), 0.6f);  // tanh(ln 2), exact in this form
  // §1.1: the global minimum, x* = -1.19243122, f(x*) = -0.30884341.
  const float x_min = -1.19243122f;
  EXPECT_NEAR(kernels::mish(x_min), -0.30884341, 1e-7);
  EXPECT_NEAR(kernels::mish_gradient(x_min), 0.0, 2e-7);
  EXPECT_GT(kernels::mish(x_min - 0.01f), kernels::mish(x_min));
  EXPECT_GT(kernels::mish(x_min + 0.01f), kernels::mish(x_min));
  // §1.1's extra point, and the TF/Keras docstring values.
  EXPECT_NEAR(kernels::mish(-3.0f), -0.1456475, 1e-7);
  // Identity beyond 8.71 (§1.5).
  EXPECT_EQ(kernels::mish(9.0f), 9.0f);
  EXPECT_EQ(kernels::mish(50.0f), 50.0f);
}

// ---------------------------------------------------------------------------------------------
// §2: beta-Mish and Hard-Mish.

TEST(ActivationBetaMish, SpecVectorsAndSweep) {
  const float xs[] = {-1.0f, 1.0f, 2.5f};
  const double f[] = {-0.4381125, 0.9618376, 2.497818}, g[] = {0.1121323, 1.043937, 1.005173};
  for (int i = 0; i < 3; ++i) {
    EXPECT_PRED4(close_to, kernels::beta_mish(xs[i]), f[i], 2e-6, 1e-7) << xs[i];
    EXPECT_PRED4(close_to, kernels::beta_mish_gradient(xs[i]), g[i], 2e-6, 1e-7) << xs[i];
  }
  // Minimum for beta = 1.5: x = -1.244057, f = -0.451103 (6 digits).
  EXPECT_NEAR(kernels::beta_mish(-1.244057f), -0.451103, 1e-6);
  EXPECT_NEAR(kernels::beta_mish_gradient(-1.244057f), 0.0, 1e-6);
  // Same float strategy as mish, same bounds.
  SweepResult r = sweep(kernels::beta_mish, kernels::beta_mish_gradient, beta_mish_ld,
                        beta_mish_gradient_ld);
  EXPECT_LE(r.max_ulp, 5.0) << "at x = " << r.worst_ulp_x;
  EXPECT_LE(r.max_gradient_abs, 2e-7) << "at x = " << r.worst_gradient_x;
  std::printf("[ b-mish   ] max %.2f ulp (x = %g), backward max abs %.3g (x = %g)\n", r.max_ulp,
              r.worst_ulp_x, r.max_gradient_abs, r.worst_gradient_x);
}

TEST(ActivationHardMish, PiecewiseForm) {
  const Activation h = Activation::hard_mish;
  EXPECT_EQ(activate(h, 3.0f), 3.0f);
  EXPECT_EQ(activate(h, -1.0f), -0.5f);  // the minimum
  EXPECT_EQ(activate(h, -0.5f), -0.375f);
  EXPECT_EQ(activate(h, -2.0f), 0.0f);
  EXPECT_EQ(activate(h, -5.0f), 0.0f);
  EXPECT_EQ(gradient(h, 0.0f), 1.0f);  // continuous at 0
  EXPECT_EQ(gradient(h, -1.0f), 0.0f);
  EXPECT_NEAR(gradient(h, -1.999f), -0.999f, 1e-6);  // jumps to 0 at -2 (strict >, Darknet)
  EXPECT_EQ(gradient(h, -2.0f), 0.0f);
  for (float x = -3.0f; x <= 3.0f; x += 0.125f)  // (x/2)·min(2, max(0, x+2))
    EXPECT_FLOAT_EQ(activate(h, x), 0.5f * x * std::min(2.0f, std::max(0.0f, x + 2.0f))) << x;
}

// ---------------------------------------------------------------------------------------------
// Every element-wise gradient against a finite difference of activate().

std::vector<float> kinks(Activation a) {
  using A = Activation;
  switch (a) {
    // Kinks of f, and jumps of f'' (the stencil's error grows there: softsign, elish, ...).
    case A::relu: case A::relie: case A::ramp: case A::leaky: case A::elu: case A::selu:
    case A::rrelu: case A::prelu: case A::celu: case A::isrlu: case A::fts: case A::sinerelu:
    case A::softsign: case A::elish:
      return {0.0f};
    case A::hard_mish: return {-2.0f, 0.0f};
    case A::sqnl: return {-2.0f, 0.0f, 2.0f};
    case A::relu6: return {0.0f, 6.0f};
    case A::plse: return {-4.0f, 4.0f};
    case A::hardtan: return {-1.0f, 1.0f};
    case A::lhtan: return {0.0f, 1.0f};
    case A::hardshrink: case A::softshrink: return {-0.5f, 0.5f};
    case A::hard_elish: return {-1.0f, 0.0f, 1.0f};
    case A::srelu: return {-0.4f, 1.5f};
    case A::hard_sigmoid: return {-2.5f, 2.5f};
    case A::hard_sigmoid_torch: return {-3.0f, 3.0f};
    case A::thresholded_relu: return {1.0f};
    case A::stair: {
      std::vector<float> k;
      for (int i = -7; i <= 7; ++i) k.push_back(float(i));
      return k;
    }
    default: return {};
  }
}

// Five-point stencil with h = 1/32 (exact in float): truncation ~h^4 f^(5)/30 < 1e-6 here, and
// the float rounding of f contributes ~1.5 * 2^-24 |f| / h, so the tolerance is
// 1e-5 + 2e-5 * max|f| (|f| <= 7 on [-6, 6]).
TEST(ActivationGradient, MatchesFiniteDifferencesAwayFromKinks) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> uniform(-6.0f, 6.0f);
  std::vector<float> xs;
  for (int i = 0; i <= 1200; ++i) xs.push_back(-6.0f + 0.01f * float(i));
  for (int i = 0; i < 2000; ++i) xs.push_back(uniform(rng));
  const float h = 1.0f / 32.0f;
  for (Activation a : all_activations()) {
    // revleaky's "gradient" is Darknet's reversed one, not df/dx (DarknetOnlyFunctions).
    if (!activation_is_elementwise(a) || a == Activation::revleaky) continue;
    const std::vector<float> k = kinks(a);
    int checked = 0, failed = 0;
    double worst = 0;
    float worst_x = 0;
    for (float x : xs) {
      bool near_kink = false;
      for (float kx : k) near_kink |= std::fabs(x - kx) < 2.5f * h;
      if (near_kink) continue;
      double f[4] = {activate(a, x - 2 * h), activate(a, x - h), activate(a, x + h),
                     activate(a, x + 2 * h)};
      double fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12.0 * h);
      double fmax = std::max({std::fabs(f[0]), std::fabs(f[1]), std::fabs(f[2]), std::fabs(f[3])});
      double excess = std::fabs(gradient(a, x) - fd) / (1e-5 + 2e-5 * fmax);
      if (excess > 1) ++failed;
      if (excess > worst) worst = excess, worst_x = x;
      ++checked;
    }
    EXPECT_EQ(failed, 0) << activation_name(a) << ": worst at x = " << worst_x << ", "
                         << worst << " x tolerance";
    EXPECT_GT(checked, 1000) << activation_name(a);
  }
}

// activation_gradient reads only what activation_needs() names: the other argument is NaN here.
TEST(ActivationGradient, ReadsOnlyWhatActivationNeedsNames) {
  for (Activation a : all_activations()) {
    if (!activation_is_elementwise(a)) continue;
    const ActivationNeeds needs = activation_needs(a);
    for (float x = -7.0f; x <= 7.0f; x += 0.0625f) {
      float y = activate(a, x);
      float want = activation_gradient(a, x, y);
      float got = needs == ActivationNeeds::output  ? activation_gradient(a, kNaN, y)
                  : needs == ActivationNeeds::input ? activation_gradient(a, x, kNaN)
                                                    : activation_gradient(a, kNaN, kNaN);
      ASSERT_EQ(got, want) << activation_name(a) << " at " << x;
    }
  }
}

TEST(ActivationGradient, FiniteOnWideRange) {
  for (Activation a : all_activations()) {
    for (int i = 0; i <= 20000; ++i) {
      float x = float(-1e4 + i);
      if (i % 2) x = float(-10.0 + 20.0 * i / 20000.0);
      float y = activate(a, x), g = gradient(a, x);
      ASSERT_TRUE(std::isfinite(y) && std::isfinite(g)) << activation_name(a) << " at " << x;
    }
  }
}

// A diverging network should show NaN, not a clamped plausible value.
TEST(ActivationAll, ForwardPropagatesNaN) {
  for (Activation a : all_activations())
    EXPECT_TRUE(std::isnan(activate(a, kNaN))) << activation_name(a);
}

// ---------------------------------------------------------------------------------------------
// Names and needs.

TEST(ActivationNames, RoundTripAndUnique) {
  std::set<std::string> seen;
  for (Activation a : all_activations()) {
    std::string name = activation_name(a);
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    EXPECT_EQ(parse_activation(name), a) << name;
  }
  EXPECT_STREQ(activation_name(Activation::count), "?");
  // Every activation name of DARKNET.md.
  for (const char* n : {"logistic", "relu", "relu6", "relie", "linear", "ramp", "tanh", "plse",
                        "leaky", "revleaky", "elu", "selu", "gelu", "loggy", "stair", "hardtan",
                        "lhtan", "swish", "mish", "hard_mish", "normalize_channels",
                        "normalize_channels_softmax", "normalize_channels_softmax_maxval"})
    EXPECT_NO_THROW(parse_activation(n)) << n;
}

TEST(ActivationNames, RejectsUnknownNames) {
  EXPECT_ERROR_CONTAINS(parse_activation("foo"), "unknown activation 'foo' (known: linear,");
  EXPECT_ERROR_CONTAINS(parse_activation("Mish"), "beta_mish");
  EXPECT_ERROR_CONTAINS(parse_activation(""), "unknown activation ''");
  EXPECT_ERROR_CONTAINS(parse_activation("mish "), "unknown activation 'mish '");
}

TEST(ActivationNames, NeedsFollowSpec) {
  using A = Activation;
  EXPECT_EQ(activation_needs(A::linear), ActivationNeeds::nothing);
  for (A a : {A::relu, A::leaky, A::relu6, A::logistic, A::tanh, A::elu, A::selu})
    EXPECT_EQ(activation_needs(a), ActivationNeeds::output) << activation_name(a);
  for (A a : {A::mish, A::swish, A::gelu, A::softplus, A::beta_mish, A::hard_mish, A::elish})
    EXPECT_EQ(activation_needs(a), ActivationNeeds::input) << activation_name(a);
  EXPECT_FALSE(activation_is_elementwise(A::normalize_channels_softmax));
  EXPECT_TRUE(activation_is_elementwise(A::mish));
}

// ---------------------------------------------------------------------------------------------
// The reference op.

Tensor view(std::vector<float>& v, int n, int c, int h, int w) {
  Tensor t;
  t.data = v.data();
  t.shape = Shape{n, c, h, w};
  return t;
}

TEST(ActivationOp, ElementwiseMatchesKernel) {
  std::mt19937_64 rng(test::test_seed());
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::vector<float> x(2 * 8 * 32 * 40);  // large enough for the OpenMP path
  for (float& v : x) v = normal(rng);
  for (Activation a : {Activation::mish, Activation::leaky, Activation::gelu_erf}) {
    std::vector<float> y = x;
    ops::activate_reference(a, view(y, 2, 8, 32, 40));
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], activate(a, x[i])) << i;
  }
}

// Darknet's semantics, per pixel across channels, eps = 1e-4 in the denominator. Shape n=2, c=3,
// h=1, w=2: channel k of pixel p of image b is at b*6 + k*2 + p.
TEST(ActivationOp, NormalizeChannelsHandComputed) {
  std::vector<float> t = {1, 0,  -2, 0.5f, 3, 0.5f,   // image 0: pixels (1,-2,3), (0,.5,.5)
                          -1, 2, -1, 2,    -1, 4};    // image 1: pixels (-1,-1,-1), (2,2,4)
  ops::activate_reference(Activation::normalize_channels, view(t, 2, 3, 1, 2));
  const double want[] = {1 / 4.0001, 0, 0, 0.5 / 1.0001, 3 / 4.0001, 0.5 / 1.0001,
                         0,          2 / 8.0001, 0, 2 / 8.0001, 0, 4 / 8.0001};
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(t[i], want[i], 1e-7) << i;
}

TEST(ActivationOp, NormalizeChannelsSoftmaxHandComputed) {
  const float ln2 = std::log(2.0f), ln3 = std::log(3.0f);
  // n=1, c=3, h=1, w=2: pixel 0 = (0, ln 2, ln 3), pixel 1 = (100, 0, 0).
  std::vector<float> x = {0, 100, ln2, 0, ln3, 0};
  std::vector<float> t = x;
  ops::activate_reference(Activation::normalize_channels_softmax, view(t, 1, 3, 1, 2));
  // e^x = 1, 2, 3; sum = 6 + 1e-4. Pixel 1: e^100 overflows, inf/inf -> 0, as Darknet's GPU.
  const double want[] = {1 / 6.0001, 0, 2 / 6.0001, 0, 3 / 6.0001, 0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(t[i], want[i], 2e-7) << i;

  t = x;
  ops::activate_reference(Activation::normalize_channels_softmax_maxval, view(t, 1, 3, 1, 2));
  // With the max subtracted: e^(x-m) = 1/3, 2/3, 1, sum = 2 + 1e-4; pixel 1: 1, e^-100, e^-100.
  const double want_max[] = {(1.0 / 3) / 2.0001, 1 / 1.0001, (2.0 / 3) / 2.0001, 0,
                             1 / 2.0001,         0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(t[i], want_max[i], 2e-7) << i;
}

// Large tensor (OpenMP path, real strides): each pixel as if it were alone.
TEST(ActivationOp, ChannelWiseActsPerPixel) {
  std::mt19937_64 rng(test::test_seed());
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int n = 2, c = 7, h = 33, w = 41, spatial = h * w;
  std::vector<float> x(n * c * spatial);
  for (float& v : x) v = normal(rng);
  for (Activation a : {Activation::normalize_channels, Activation::normalize_channels_softmax,
                       Activation::normalize_channels_softmax_maxval}) {
    std::vector<float> y = x;
    ops::activate_reference(a, view(y, n, c, h, w));
    for (int b = 0; b < n; ++b)
      for (int p = 0; p < spatial; p += 37) {
        std::vector<float> pixel(c);
        for (int k = 0; k < c; ++k) pixel[k] = x[(b * c + k) * spatial + p];
        ops::activate_reference(a, view(pixel, 1, c, 1, 1));
        for (int k = 0; k < c; ++k)
          ASSERT_EQ(y[(b * c + k) * spatial + p], pixel[k]) << activation_name(a);
      }
  }
}

// activation_backward_reference against central differences of activate_reference for
// L = sum(w * y) with random w; x is kept 0.1 away from kinks. The difference quotient is
// Richardson-extrapolated from steps h and h/2 (h = 1e-2), which cancels the h^2 truncation
// term: the normalize_channels family has large third derivatives where a pixel's positive sum
// is small, and a plain central difference missed 2e-3 there for some seeds. Tolerance 2e-3
// relative to max(1, |gradient|) (float forward: round-off ~1e-5 relative).
TEST(ActivationOp, BackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
  const int n = 2, c = 4, h = 2, w = 3, size = n * c * h * w;
  std::vector<float> x(size), weights(size);
  for (float& v : x) {
    do v = uniform(rng);
    while (std::fabs(v) < 0.1f);
  }
  for (float& v : weights) v = uniform(rng);
  auto loss = [&](Activation a, const std::vector<float>& in) {
    std::vector<float> y = in;
    ops::activate_reference(a, view(y, n, c, h, w));
    double l = 0;
    for (int i = 0; i < size; ++i) l += double(weights[i]) * y[i];
    return l;
  };
  for (Activation a : {Activation::normalize_channels, Activation::normalize_channels_softmax,
                       Activation::normalize_channels_softmax_maxval, Activation::mish,
                       Activation::leaky, Activation::logistic, Activation::linear}) {
    std::vector<float> y = x, delta = weights;
    ops::activate_reference(a, view(y, n, c, h, w));
    ops::activation_backward_reference(a, view(delta, n, c, h, w), x.data(), y.data());
    auto central_difference = [&](int i, float step) {
      std::vector<float> plus = x, minus = x;
      plus[i] += step;
      minus[i] -= step;
      return (loss(a, plus) - loss(a, minus)) / (double(plus[i]) - minus[i]);
    };
    for (int i = 0; i < size; ++i) {
      const double fd = (4 * central_difference(i, 5e-3f) - central_difference(i, 1e-2f)) / 3;
      EXPECT_NEAR(delta[i], fd, 2e-3 * std::max(1.0, std::fabs(fd)))
          << activation_name(a) << " element " << i;
    }
  }
  // The argument activation_needs() names is required.
  std::vector<float> delta = weights;
  EXPECT_ERROR_CONTAINS(ops::activation_backward_reference(Activation::mish,
                                                           view(delta, n, c, h, w), nullptr,
                                                           x.data()),
                        "'mish' needs its input");
}

}  // namespace
}  // namespace mishnet
